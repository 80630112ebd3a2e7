// Signing in to the dashboard in headless Chromium, as an owner does: on a
// phone (390x844) with the keyboard only — a wrong password first, then
// the right one, the practice's page, and signing out by keyboard; then on
// a desktop. Run by cloud-sync/server/tests/dashboard_sign_in.rs with
// (dashboard URL, email, password, practice name). Screenshots go to
// tests/artifacts/. Exits 1 (with the reason) on failure.

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = join(HERE, "artifacts");
const [url, email, password, practice] = process.argv.slice(2);
const watchdog = setTimeout(() => { console.error("timed out"); process.exit(1); }, 60_000);

function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function focused(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    return e ? (e.id || e.textContent.trim() || e.tagName) : "";
  });
}

/// Tabs until an element whose id or text is `what` has the focus.
async function tabTo(page, what, most = 20) {
  for (let i = 0; i < most; i++) {
    if ((await focused(page)) === what) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`${what} cannot be reached with Tab`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  mkdirSync(ARTIFACTS, { recursive: true });
  const csp = [];
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  phone.on("console", (m) => { if (m.text().includes("Content Security Policy")) csp.push(m.text()); });
  await phone.goto(url + "/");
  check(phone.url().endsWith("/login"), `signed out, / goes to the sign-in page (${phone.url()})`);
  check((await focused(phone)) === "email", "the email field has the focus");
  await phone.keyboard.type(email);
  await phone.keyboard.press("Tab");
  await phone.keyboard.type("not my password");
  await phone.keyboard.press("Enter");
  await phone.waitForSelector("#login-error", { timeout: 5000 });
  const why = await phone.textContent("#login-error");
  check(why.includes("not right"), `a wrong password is explained: ${why}`);
  check((await phone.inputValue("#email")) === email, "the email is kept");
  await phone.screenshot({ path: join(ARTIFACTS, "cloud-login-phone-error.png") });
  await tabTo(phone, "password");
  await phone.keyboard.type(password);
  await phone.keyboard.press("Enter");
  await phone.waitForSelector("h1", { timeout: 5000 });
  check((await phone.textContent("h1")).includes(practice), "the practice's page");
  await phone.screenshot({ path: join(ARTIFACTS, "cloud-home-phone.png"), fullPage: true });
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  check(!wide, "nothing wider than the phone");
  await phone.goto(url + "/team");
  await phone.screenshot({ path: join(ARTIFACTS, "cloud-team-phone.png"), fullPage: true });
  const teamWide = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  check(!teamWide, "the team page fits the phone");
  // The first Tab offers to skip the header; signing out is reachable.
  await phone.keyboard.press("Tab");
  check((await focused(phone)) === "Skip to content", `the first Tab: ${await focused(phone)}`);
  await tabTo(phone, "Sign out");
  await phone.keyboard.press("Enter");
  await phone.waitForURL(/\/login$/, { timeout: 5000 });
  await phone.goto(url + "/");
  check(phone.url().endsWith("/login"), "signed out for real");

  const desktop = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await desktop.goto(url + "/login");
  await desktop.fill("#email", email);
  await desktop.fill("#password", password);
  await desktop.press("#password", "Enter");
  await desktop.waitForSelector("h1", { timeout: 5000 });
  await desktop.screenshot({ path: join(ARTIFACTS, "cloud-home-desktop.png"), fullPage: true });
  await desktop.goto(url + "/team");
  await desktop.screenshot({ path: join(ARTIFACTS, "cloud-team-desktop.png"), fullPage: true });
  check(csp.length === 0, `no CSP violations: ${csp.join("; ")}`);
  console.log("ok");
} catch (e) {
  console.error(e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
  clearTimeout(watchdog);
}
