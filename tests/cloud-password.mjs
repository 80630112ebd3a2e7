// The welcome email's link in headless Chromium, as an owner uses it: on a
// phone (390x844) with the keyboard only, a mismatch first, then a good
// password; the desktop layout is screenshotted too. Run by
// cloud-sync/server/tests/welcome_email.rs with the link as its argument.
// Screenshots go to tests/artifacts/. Exits 1 (with the reason) on failure.

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = join(HERE, "artifacts");
const link = process.argv[2];
const password = process.argv[3];
const watchdog = setTimeout(() => { console.error("timed out"); process.exit(1); }, 60_000);

function check(cond, what) {
  if (!cond) throw new Error(what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  mkdirSync(ARTIFACTS, { recursive: true });
  const desktop = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await desktop.goto(link);
  await desktop.screenshot({ path: join(ARTIFACTS, "cloud-password-desktop.png") });
  await desktop.close();

  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  const errors = [];
  phone.on("console", (m) => { if (m.text().includes("Content Security Policy")) errors.push(m.text()); });
  await phone.goto(link);
  check((await phone.title()).includes("Set your password"), "the form's title");
  // The new-password field has the focus: type, Tab, type, Enter.
  check(await phone.evaluate(() => document.activeElement?.id === "password"), "focus on the password");
  await phone.keyboard.type(password);
  await phone.keyboard.press("Tab");
  await phone.keyboard.type(password + "x");
  await phone.keyboard.press("Enter");
  await phone.waitForSelector("#password-error", { timeout: 5000 });
  const why = await phone.textContent("#password-error");
  check(why.includes("not the same"), `a mismatch is explained: ${why}`);
  await phone.screenshot({ path: join(ARTIFACTS, "cloud-password-phone-error.png") });
  await phone.keyboard.type(password);
  await phone.keyboard.press("Tab");
  await phone.keyboard.type(password);
  await phone.keyboard.press("Enter");
  await phone.waitForSelector("text=Your password is set", { timeout: 5000 });
  await phone.screenshot({ path: join(ARTIFACTS, "cloud-password-phone-done.png") });
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  check(!wide, "nothing wider than the phone");
  check(errors.length === 0, `no CSP violations: ${errors.join("; ")}`);
  console.log("ok");
} catch (e) {
  console.error(e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
  clearTimeout(watchdog);
}
