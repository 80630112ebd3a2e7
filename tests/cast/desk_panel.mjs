// The front desk in headless Chromium: signs in, finds the discovered TV in
// the Lobby TVs panel and presses "Show lobby display here", then waits for
// the plain-language "Showing the lobby display" status.
//
//   node desk_panel.mjs <base-url> <pin> <device-id> <screenshot-dir>
//
// Prints one JSON line: {"clicked_at": ms-since-epoch, "showing_ms": …, "status": "…"}
import { chromium } from "playwright-core";
import { join } from "node:path";

const [base, pin, deviceId, outDir] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const result = {};
const errors = [];
const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 30000 });
try {
  const desk = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
  desk.on("pageerror", (e) => errors.push(String(e)));
  await desk.goto(base + "/desk", { timeout: 15000 });
  await desk.fill("#pin", pin);
  await desk.click("button[type=submit]");
  const row = `#cast-devices li[data-cast-id="${deviceId}"]`;
  await desk.waitForSelector(`${row} button`, { timeout: 15000 });
  const button = (await desk.textContent(`${row} button`)).trim();
  if (button !== "Show lobby display here") throw new Error(`button says "${button}"`);
  await desk.locator("#cast-panel").scrollIntoViewIfNeeded();
  await desk.screenshot({ path: join(outDir, "cast-desk-found.png"), fullPage: true });
  result.clicked_at = Date.now();
  await desk.click(`${row} button`);
  await desk.waitForSelector(`${row} .cast-status[data-state="showing"]`, { timeout: 10000 });
  result.showing_ms = Date.now() - result.clicked_at;
  result.status = (await desk.textContent(`${row} .cast-status`)).trim();
  result.button_after = (await desk.textContent(`${row} button`)).trim();
  await desk.locator("#cast-panel").scrollIntoViewIfNeeded();
  await desk.screenshot({ path: join(outDir, "cast-desk-showing.png"), fullPage: true });
} catch (e) {
  result.error = String(e && e.message || e);
}
result.page_errors = errors;
await browser.close();
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(result.error || errors.length ? 1 : 0);
