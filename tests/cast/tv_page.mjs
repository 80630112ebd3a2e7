// Loads the lobby page in headless Chromium through the exact URL the box
// sent to the Cast receiver, as the TV would, and checks that it pairs
// itself and shows the branded lobby screen. Then loads the same URL in a
// fresh browser profile: the one-time grant must not pair a second TV.
//
//   node tv_page.mjs <url> <screenshot-dir>
//
// Prints one JSON line: {"paired": bool, "name": "...", "reuse_paired": bool, ...}
import { chromium } from "playwright-core";
import { join } from "node:path";

const [url, outDir] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const result = { paired: false, reuse_paired: null };
const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 30000 });
try {
  const tv = await (await browser.newContext({ viewport: { width: 1920, height: 1080 } })).newPage();
  const t0 = Date.now();
  await tv.goto(url, { timeout: 15000 });
  await tv.waitForSelector("#lobby:not([hidden])", { timeout: 10000 });
  await tv.waitForFunction(() => document.getElementById("tv-name").textContent.trim().length > 0, null, { timeout: 5000 });
  result.paired_ms = Date.now() - t0;
  result.paired = (await tv.evaluate(() => localStorage.getItem("sos-tv-token") || "")).length > 0;
  result.name = (await tv.textContent("#tv-name")).trim();
  result.title = await tv.title();
  result.pairing_visible = await tv.isVisible("#pairing");
  await tv.waitForTimeout(300);
  await tv.screenshot({ path: join(outDir, "cast-tv-lobby.png") });

  // The same URL in a fresh profile: the grant is spent.
  const other = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
  await other.goto(url, { timeout: 15000 });
  await other.waitForSelector("#pairing:not([hidden])", { timeout: 10000 });
  result.reuse_paired = await other.isVisible("#lobby");
  result.reuse_code = ((await other.textContent("#pair-code")) || "").trim();
  await other.screenshot({ path: join(outDir, "cast-tv-grant-reused.png") });
} catch (e) {
  result.error = String(e && e.message || e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(result.error ? 1 : 0);
