// What every dashboard browser test does: launch Debian's Chromium through
// playwright-core under a watchdog, check, find the focus, Tab to a
// control, collect CSP violations, and tell when a page is wider than the
// phone. Screenshots go to tests/artifacts/.

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), "..", "artifacts");
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true };
export const DESKTOP = { viewport: { width: 1280, height: 800 } };

export function check(cond, what) {
  if (!cond) throw new Error(what);
}

export function shot(page, name, fullPage = true) {
  return page.screenshot({ path: join(ARTIFACTS, name), fullPage });
}

/// The focused element's id, else its text, else its tag.
export async function focused(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    return e ? (e.id || e.textContent.trim() || e.tagName) : "";
  });
}

/// Tabs until an element whose id or text is `what` has the focus.
export async function tabTo(page, what, most = 20) {
  for (let i = 0; i < most; i++) {
    if ((await focused(page)) === what) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`${what} cannot be reached with Tab`);
}

export async function fitsThePhone(page) {
  return !(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth));
}

/// Runs `body(browser, newPage)` in Chromium (with `args` more on its
/// command line) within `seconds`; prints "ok" or the reason and sets the
/// exit code. `newPage(options)` opens a page whose CSP violations fail
/// the run.
export async function run(body, seconds = 60, args = []) {
  const watchdog = setTimeout(() => { console.error("timed out"); process.exit(1); }, seconds * 1000);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
    args: ["--no-sandbox", ...args],
  });
  const csp = [];
  const newPage = async (options) => {
    const page = await browser.newPage(options);
    page.on("console", (m) => { if (m.text().includes("Content Security Policy")) csp.push(m.text()); });
    return page;
  };
  try {
    mkdirSync(ARTIFACTS, { recursive: true });
    await body(newPage);
    check(csp.length === 0, `no CSP violations: ${csp.join("; ")}`);
    console.log("ok");
  } catch (e) {
    console.error(e.message);
    process.exitCode = 1;
  } finally {
    await browser.close();
    clearTimeout(watchdog);
  }
}

/// Signs in to the dashboard at `url` (signing in by keyboard is
/// cloud-login.mjs's subject; the other scripts only need to be in).
export async function signIn(page, url, email, password) {
  await page.goto(url + "/login");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.press("#password", "Enter");
  await page.waitForURL((u) => !u.pathname.endsWith("/login"), { timeout: 5000 });
}
