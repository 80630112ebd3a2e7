// End-to-end test of the SOS Edge box in headless Chromium.
//
// Starts the real `sos-appliance demo` daemon on an ephemeral loopback port
// with a throw-away data dir, then plays a lobby TV (1920x1080), a front-desk
// computer and a patient's phone (390x844) against it, asserting what a
// person would notice. Screenshots go to tests/artifacts/.
//
//   node tests/e2e.mjs            (SOS_APPLIANCE_BIN overrides the binary)
//
// Prints "N passed, M failed" as its last line; exits 1 on any failure.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(HERE, process.env.SOS_APPLIANCE_BIN || "../target/debug/sos-appliance");
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const ARTIFACTS = join(HERE, "artifacts");
const PIN = "2468";
const STEP_TIMEOUT = 15_000; // one assertion group, at most
const WAIT = 5_000; // one UI expectation, at most
const TOTAL_TIMEOUT = 90_000; // the whole run, watchdog

const SURNAMES = ["Jones", "Núñez", "Nunez", "O'Brien", "OBrien"];
const BIRTHDATES = ["1985-04-23", "1979-11-02", "1992-07-14"];

let passed = 0;
let failed = 0;
let daemon = null;
let browser = null;
let dataDir = null;

// ---------------------------------------------------------------- plumbing

function log(msg) {
  process.stdout.write(msg + "\n");
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await withTimeout(Promise.resolve().then(fn), STEP_TIMEOUT, name);
    passed++;
    log(`ok   ${name} (${Date.now() - t0} ms)`);
    return true;
  } catch (e) {
    failed++;
    log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(e && e.message ? e.message : e).split("\n").join("\n     ")}`);
    return false;
  }
}

/** Polls `fn` until it returns a truthy value, or throws with `what`. */
async function until(fn, what, ms = WAIT) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`${what} (within ${ms} ms)` + (last instanceof Error ? `: ${last.message}` : ""));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function shot(page, name, fullPage = false) {
  try {
    await page.screenshot({ path: join(ARTIFACTS, name + ".png"), fullPage, timeout: WAIT });
  } catch (e) {
    log(`     (screenshot ${name} failed: ${e.message})`);
  }
}

/** What a person sees: the rendered text of the page (hidden parts excluded). */
async function visibleText(page) {
  return page.evaluate(() => document.body.innerText);
}

async function isShown(page, selector) {
  return page.evaluate((sel) => {
    const e = document.querySelector(sel);
    if (!e) return false;
    const r = e.getBoundingClientRect();
    const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  }, selector);
}

function startDaemon() {
  assert(existsSync(BIN), `no daemon binary at ${BIN}: run 'cargo build -p sos-appliance' (or set SOS_APPLIANCE_BIN)`);
  dataDir = mkdtempSync(join(tmpdir(), "sos-e2e-"));
  daemon = spawn(BIN, ["demo", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--pin", PIN], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", RUST_LOG: process.env.RUST_LOG || "info" },
  });
  const errLog = createWriteStream(join(ARTIFACTS, "daemon.log"));
  daemon.stderr.pipe(errLog);
  return withTimeout(
    new Promise((resolveStart, rejectStart) => {
      let base = null;
      const rl = createInterface({ input: daemon.stdout });
      rl.on("line", (line) => {
        errLog.write("[stdout] " + line + "\n");
        const l = line.match(/^listening on (http:\/\/127\.0\.0\.1:\d+)/);
        if (l) base = l[1];
        const c = line.match(/check-in:\s+(http\S+)/);
        if (c && base) resolveStart({ base, checkinUrl: c[1] });
      });
      daemon.once("exit", (code, sig) => rejectStart(new Error(`daemon exited early (code ${code}, signal ${sig}); see artifacts/daemon.log`)));
      daemon.once("error", rejectStart);
    }),
    15_000,
    "daemon start",
  );
}

async function stopAll() {
  if (browser) {
    const b = browser;
    browser = null;
    await withTimeout(b.close(), 5_000, "browser close").catch(() => {});
  }
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
    const d = daemon;
    const gone = new Promise((r) => d.once("exit", r));
    d.kill("SIGTERM");
    await withTimeout(gone, 5_000, "daemon stop").catch(() => d.kill("SIGKILL"));
  }
  daemon = null;
  if (dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
    dataDir = null;
  }
}

// Never leave the daemon behind, whatever happens.
process.on("exit", () => {
  if (daemon && daemon.exitCode === null) daemon.kill("SIGKILL");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    log(`interrupted (${sig})`);
    stopAll().finally(() => process.exit(1));
  });
}
const watchdog = setTimeout(() => {
  log(`FAIL whole run: exceeded ${TOTAL_TIMEOUT} ms`);
  failed++;
  log(`${passed} passed, ${failed} failed`);
  stopAll().finally(() => process.exit(1));
}, TOTAL_TIMEOUT);
watchdog.unref();

// ---------------------------------------------------------------- scenario

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const { base, checkinUrl } = await startDaemon();
  log(`daemon at ${base}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 20_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });

  // Three separate people, three separate contexts (own cookies, own storage).
  const tvCtx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: "en-US" });
  const deskCtx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" });
  const phoneCtx = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "en-US",
    userAgent:
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  });
  for (const c of [tvCtx, deskCtx, phoneCtx]) {
    c.setDefaultTimeout(WAIT);
    c.setDefaultNavigationTimeout(WAIT);
  }

  const tv = await tvCtx.newPage();
  const desk = await deskCtx.newPage();
  const phone = await phoneCtx.newPage();

  // Everything the box ever sends the TV, to check no surname or birth date
  // reaches the lobby screen even hidden.
  const tvFrames = [];
  tv.on("websocket", (ws) => ws.on("framereceived", (f) => tvFrames.push(String(f.payload))));
  const pageErrors = [];
  for (const [who, p] of [["tv", tv], ["desk", desk], ["phone", phone]]) {
    p.on("pageerror", (e) => pageErrors.push(`${who}: ${e.message}`));
    p.on("console", (m) => {
      // HTTP errors are judged below, by URL; anything else logged as an error counts.
      if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(`${who} console: ${m.text()}`);
    });
    p.on("response", (r) => {
      const u = new URL(r.url());
      const expected = r.status() === 401 && r.request().method() === "POST" && u.pathname === "/desk/login"; // the wrong PIN
      if (r.status() >= 400 && !expected) pageErrors.push(`${who}: HTTP ${r.status()} for ${r.request().method()} ${u.pathname}`);
    });
  }

  let tvCode = "";

  // a. An unpaired TV shows a pairing code and QR, nobody's name.
  await check("a. unpaired TV shows pairing code + QR and no patient names", async () => {
    await tv.goto(base + "/tv");
    tvCode = await until(async () => {
      if (!(await isShown(tv, "#pairing"))) return null;
      return (await tv.textContent("#pair-code")).trim();
    }, "TV shows a pairing code");
    assert(/^[A-Z0-9-]{4,12}$/.test(tvCode), `pairing code looks wrong: "${tvCode}"`);
    assert(await isShown(tv, "#pair-qr svg"), "QR code is not visible");
    const qr = await tv.locator("#pair-qr svg").boundingBox();
    assert(qr.width >= 200 && qr.height >= 200, `QR too small to scan across a room: ${qr.width}x${qr.height}`);
    const codeBox = await tv.locator("#pair-code").boundingBox();
    assert(codeBox.x + codeBox.width <= 1920 && codeBox.y + codeBox.height <= 1080, "pairing code is cut off");
    const text = await visibleText(tv);
    for (const n of ["Sarah", "José", "Siobhán", ...SURNAMES]) assert(!text.includes(n), `unpaired TV shows "${n}"`);
    await shot(tv, "a-tv-pairing");
  });

  // b. The desk signs in (wrong PIN first), then pairs the TV by its code.
  await check("b1. desk sign-in: wrong PIN shows an error", async () => {
    await desk.goto(base + "/desk");
    await until(() => desk.url().includes("/desk/login"), "unsigned desk is sent to the sign-in page");
    await desk.fill("#pin", "0000");
    await Promise.all([desk.waitForLoadState("load"), desk.click("button[type=submit]")]);
    await until(() => isShown(desk, "#login-error"), "error message after a wrong PIN");
    const err = (await desk.textContent("#login-error")).trim();
    assert(err.length > 5, "error message is empty");
    await shot(desk, "b1-desk-wrong-pin");
  });

  await check("b2. desk sign-in with the right PIN", async () => {
    await desk.fill("#pin", PIN);
    await desk.click("button[type=submit]");
    await until(async () => new URL(desk.url()).pathname === "/desk" && (await isShown(desk, "#queue-h")), "desk page after sign-in");
    await until(async () => (await desk.textContent("#live")).trim() === "live", "desk live connection");
    const text = await visibleText(desk);
    assert(text.includes("Bright Smile Dental"), "desk does not show the practice name");
    assert(!(await isShown(desk, "#login-error")), "error still shown after signing in");
    // The demo box has no certificate: the desk says phones are not
    // reached securely, and why.
    await until(() => isShown(desk, "#https-notice"), "desk says how phones reach the box");
    const https = (await desk.textContent("#https-notice")).trim();
    assert(https.startsWith("Not secure:") && https.includes("plain HTTP"), `https notice: ${https}`);
  });

  await check("b3. desk pairs the TV; TV switches to the branded lobby", async () => {
    assert(tvCode, "no TV code from step a");
    await desk.fill("#pair-code-input", tvCode.toLowerCase());
    await desk.fill("#pair-name-input", "Lobby TV");
    await desk.click("#pair-form button[type=submit]");
    await until(async () => /Paired/.test(await desk.textContent("#pair-result")), "desk says the TV is paired");
    await until(() => isShown(tv, "#lobby"), "TV shows the lobby screen");
    assert(!(await isShown(tv, "#pairing")), "TV still shows the pairing screen");
    await until(async () => (await tv.textContent("#tv-name")).includes("Bright Smile Dental"), "TV shows the practice name");
    assert(await isShown(tv, "#tv-name"), "practice name not visible on TV");
    await until(async () => (await tv.textContent("#tv-message")).trim().length > 0 && (await isShown(tv, "#tv-message")), "TV shows a lobby message", 2_000);
    const foot = await tv.locator("#tv-message").boundingBox();
    assert(foot.y + foot.height <= 1080, "lobby message is cut off at the bottom");
    await until(async () => (await desk.locator("#displays li[data-display]").count()) === 1, "desk lists the paired TV");
    await shot(tv, "b3-tv-lobby-empty");
    await shot(desk, "b3-desk-paired", true);
  });

  // c. The patient checks in from their phone, with a typo and lower case.
  let statusUrl = "";
  await check("c. phone check-in with a typo reaches the checked-in status page", async () => {
    await phone.goto(checkinUrl);
    assert(await isShown(phone, "#first_name"), "check-in form not shown");
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert(overflow <= 390, `check-in page is wider than the phone: ${overflow}px`);
    await shot(phone, "c1-phone-form", true);
    await phone.fill("#first_name", "sarah");
    await phone.fill("#last_name", "Jomes");
    await phone.fill("#date_of_birth", "1985-04-23");
    await Promise.all([phone.waitForURL(/\/status\//), phone.click("button[type=submit]")]);
    statusUrl = phone.url();
    await until(async () => /Thanks, Sarah/i.test(await phone.textContent("#status-title")), "status title greets Sarah");
    const msg = (await phone.textContent("#status-message")).trim();
    assert(/checked in/i.test(msg), `status message does not say checked in: "${msg}"`);
    const w = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert(w <= 390, `status page is wider than the phone: ${w}px`);
    await phone.evaluate(() => { window.__e2eNoReload = true; });
    await shot(phone, "c2-phone-checked-in", true);
  });

  // d. The TV shows "Sarah J." and a welcome within 2 s, never the surname.
  await check("d. TV shows 'Sarah J.' + welcome within 2 s, and never 'Jones'", async () => {
    await until(async () => (await tv.textContent("#queue")).includes("Sarah J."), "TV waiting list shows Sarah J.", 2_000);
    await until(() => isShown(tv, "#welcome"), "TV shows a welcome line", 2_000);
    const wl = (await tv.textContent("#welcome")).trim();
    assert(/Welcome,? Sarah/i.test(wl), `welcome line is "${wl}"`);
    const text = await visibleText(tv);
    assert(!text.includes("Jones"), "TV shows the surname 'Jones'");
    const all = await tv.evaluate(() => document.documentElement.outerHTML);
    assert(!all.includes("Jones"), "TV page source contains 'Jones'");
    const leaked = tvFrames.filter((f) => SURNAMES.some((s) => f.includes(s)) || BIRTHDATES.some((d) => f.includes(d)));
    assert(leaked.length === 0, `box sent the TV a surname or birth date: ${leaked[0]}`);
    await shot(tv, "d-tv-welcome");
  });

  // e. The desk sees the brief, calls Sarah to Room 2; TV and phone follow.
  await check("e1. desk shows Sarah Jones in the queue with the provider brief", async () => {
    const row = desk.locator("#queue-body tr", { hasText: "Sarah Jones" });
    await until(async () => (await row.count()) === 1, "desk queue lists Sarah Jones");
    const brief = (await row.locator(".brief").first().textContent()).trim();
    assert(/with \S+/.test(brief), `brief has no provider: "${brief}"`);
    await shot(desk, "e1-desk-queue", true);
  });

  await check("e2. Call to Room 2: TV 'Now calling', phone updates without reload", async () => {
    const row = desk.locator("#queue-body tr", { hasText: "Sarah Jones" });
    await row.locator("select").selectOption("Room 2");
    await row.locator("button.call").click();
    await until(async () => (await isShown(tv, "#calling")) && /Sarah J\..*Room 2/.test(await tv.textContent("#calling-line")), "TV 'Now calling' Sarah J. — Room 2", 3_000);
    const label = (await tv.textContent("#calling .label")).trim();
    assert(/now calling/i.test(label), `calling label is "${label}"`);
    const line = await tv.locator("#calling-line").boundingBox();
    assert(line.y + line.height <= 1080 && line.x + line.width <= 1920, "calling line is cut off on the TV");
    const px = await tv.evaluate(() => parseFloat(getComputedStyle(document.getElementById("calling-line")).fontSize));
    assert(px >= 64, `calling line too small to read across a room: ${px}px`);
    await until(async () => (await phone.textContent("#status-message")).includes("We're ready for you — Room 2"), "phone says 'We're ready for you — Room 2'", 3_000);
    assert(await phone.evaluate(() => window.__e2eNoReload === true), "phone page was reloaded");
    assert(phone.url() === statusUrl, "phone navigated away");
    assert(/your turn/i.test(await phone.textContent("#status-title")), "phone title does not say it is their turn");
    await until(async () => /Room 2/.test(await desk.textContent("#queue-body")), "desk shows the room");
    assert(!(await visibleText(tv)).includes("Jones"), "TV shows 'Jones'");
    await shot(tv, "e2-tv-now-calling");
    await shot(phone, "e2-phone-ready", true);
    await shot(desk, "e2-desk-called", true);
  });

  // f. An unknown name gets the no-match page and checks no one in.
  await check("f. no-match attempt shows the see-the-desk page and checks no one in", async () => {
    const before = await desk.evaluate(() => fetch("/desk/api/today").then((r) => r.json()));
    const p = await phoneCtx.newPage();
    try {
      await p.goto(checkinUrl);
      await p.fill("#first_name", "Zebulon");
      await p.fill("#last_name", "Quixley");
      await p.fill("#date_of_birth", "1990-01-01");
      await Promise.all([p.waitForLoadState("load"), p.click("button[type=submit]")]);
      await until(async () => (await p.getAttribute("#result-kind", "data-kind")) === "no_match", "no-match page");
      const msg = (await p.textContent("#result-message")).trim();
      assert(/front desk|couldn't find/i.test(msg), `no-match message is "${msg}"`);
      assert(!/\/status\//.test(p.url()), "went to a status page");
      const w = await p.evaluate(() => document.documentElement.scrollWidth);
      assert(w <= 390, `no-match page is wider than the phone: ${w}px`);
      await shot(p, "f-phone-no-match", true);
    } finally {
      await p.close();
    }
    await new Promise((r) => setTimeout(r, 300));
    const after = await desk.evaluate(() => fetch("/desk/api/today").then((r) => r.json()));
    assert(after.queue.length === before.queue.length, `queue grew from ${before.queue.length} to ${after.queue.length}`);
    assert(!JSON.stringify(after.queue).includes("Zebulon"), "Zebulon was checked in");
    assert(!(await visibleText(tv)).includes("Zebulon"), "TV shows Zebulon");
  });

  // g. Keyboard only: Tab through the form, submit with Enter.
  await check("g. keyboard-only check-in (Tab through, Enter to submit)", async () => {
    const p = await phoneCtx.newPage();
    try {
      await p.goto(checkinUrl);
      const active = () => p.evaluate(() => (document.activeElement && (document.activeElement.id || document.activeElement.tagName)) || "");
      for (let i = 0; i < 8 && (await active()) !== "first_name"; i++) await p.keyboard.press("Tab");
      assert((await active()) === "first_name", "Tab never reaches the first-name field");
      await p.keyboard.type("José");
      await p.keyboard.press("Tab");
      assert((await active()) === "last_name", `Tab from first name goes to ${await active()}`);
      await p.keyboard.type("Núñez");
      await p.keyboard.press("Tab");
      assert((await active()) === "date_of_birth", `Tab from last name goes to ${await active()}`);
      await p.keyboard.type("11021979"); // en-US: mm dd yyyy
      const dob = await p.inputValue("#date_of_birth");
      assert(dob === "1979-11-02", `typed birth date reads "${dob}"`);
      // Leave the date field: Tab may step through its month/day/year parts first.
      for (let i = 0; i < 4 && (await active()) === "date_of_birth"; i++) await p.keyboard.press("Tab");
      const btn = await p.evaluate(() => {
        const a = document.activeElement;
        return a && a.tagName === "BUTTON" && a.type === "submit"
          ? { text: a.textContent.trim(), outline: getComputedStyle(a).outlineStyle }
          : null;
      });
      assert(btn, `after the date field focus is on ${await active()}, not the Check in button`);
      assert(btn.outline !== "none", "focused button shows no focus ring");
      await shot(p, "g1-phone-keyboard-focus", true);
      await Promise.all([p.waitForURL(/\/status\//), p.keyboard.press("Enter")]);
      await until(async () => /Thanks, José/.test(await p.textContent("#status-title")), "status page greets José");
      await shot(p, "g2-phone-keyboard-checked-in", true);
    } finally {
      await p.close();
    }
    await until(async () => (await tv.textContent("#queue")).includes("José N."), "TV lists José N.", 2_000);
    const text = await visibleText(tv);
    assert(!text.includes("Núñez"), "TV shows the surname 'Núñez'");
    await shot(tv, "g3-tv-two-waiting");
  });

  // h. With no speaker on this machine, the paired TV was told to say the
  // announcements itself, and can fetch them as WAV.
  await check("h. no speaker: the TV is sent each announcement as audio to play", async () => {
    // The voice loads on first use (a few seconds on a busy machine).
    const speakFrames = () => tvFrames.map((f) => { try { return JSON.parse(f); } catch (e) { return {}; } }).filter((m) => m.type === "speak");
    let speaks = [];
    try {
      speaks = await until(() => { const s = speakFrames(); return s.length >= 1 ? s : null; }, "a speak frame", 45_000);
    } catch (e) {
      const voice = (await (await fetch(base + "/healthz")).json()).voice;
      throw new Error(`${e.message}; voice: ${JSON.stringify(voice)}`);
    }
    const r = await fetch(base + speaks[speaks.length - 1].audio);
    assert(r.status === 200, `audio fetch answered ${r.status}`);
    assert(r.headers.get("content-type") === "audio/wav", `content type ${r.headers.get("content-type")}`);
    const bytes = new Uint8Array(await r.arrayBuffer());
    assert(bytes.length > 8000 && String.fromCharCode(...bytes.slice(0, 4)) === "RIFF", "not a WAV with sound");
    const gone = await fetch(base + "/tv/audio/0123456789abcdef");
    assert(gone.status === 404, "an unknown clip must be 404");
  });

  // i. Removing the TV from the desk blanks it back to a pairing state.
  await check("i. revoked TV stops showing patients and goes back to pairing", async () => {
    desk.once("dialog", (d) => d.accept());
    await desk.locator("#displays button.revoke").first().click();
    await until(async () => !(await isShown(tv, "#lobby")), "TV leaves the lobby screen");
    await until(async () => {
      const t = await visibleText(tv);
      const pairing = (await isShown(tv, "#pairing")) && (await tv.textContent("#pair-code")).trim().length > 0;
      return !/Sarah|José/.test(t) && (pairing || /not paired|removed/i.test(t));
    }, "TV shows a not-paired / pairing state without names");
    const html = await tv.evaluate(() => document.body.innerText);
    assert(!/Sarah|José/.test(html), "TV still shows a patient");
    assert(/removed|not paired/i.test(html), "TV does not say why it is unpaired");
    await shot(tv, "i1-tv-removed");
    await until(async () => /No TVs paired/.test(await desk.textContent("#displays")), "desk shows no TV paired");
    // And the TV's old token is no good any more: a reload keeps it unpaired.
    await tv.reload();
    await until(async () => (await isShown(tv, "#pairing")) && !(await isShown(tv, "#lobby")), "reloaded TV is still unpaired");
    assert(!/Sarah|José/.test(await visibleText(tv)), "reloaded TV shows a patient");
    await shot(tv, "i2-tv-reloaded");
    await shot(desk, "i-desk-revoked", true);
  });

  // j. Voice: the desk's mute switch, and the kiosk answering in plain
  // words (here, with no sound card, that the microphone is not working).
  await check("j. desk mutes and unmutes the lobby voice; the kiosk answers plainly", async () => {
    await until(async () => (await desk.textContent("#voice-state")).trim().length > 0, "desk shows the voice state");
    await desk.click("#mute-btn");
    await until(async () => (await desk.textContent("#mute-btn")).trim() === "Unmute voice", "mute button turns into unmute");
    assert((await desk.getAttribute("#mute-btn", "aria-pressed")) === "true", "mute button is not pressed");
    await until(async () => /muted/i.test(await desk.textContent("#voice-state")), "desk says the voice is muted");
    await shot(desk, "j1-desk-voice-muted");
    await desk.click("#mute-btn");
    await until(async () => (await desk.textContent("#mute-btn")).trim() === "Mute voice", "unmuted again");
    const kiosk = await deskCtx.newPage();
    await kiosk.goto(base + "/kiosk");
    assert(await isShown(kiosk, "#talk"), "kiosk has no talk button");
    await kiosk.click("#talk");
    const said = await until(async () => {
      const st = (await kiosk.textContent("#state")).trim();
      const say = (await kiosk.isVisible("#say")) ? (await kiosk.textContent("#say")).trim() : "";
      const t = say || st;
      return t && !/Listening/.test(t) ? t : null;
    }, "kiosk answers", 30_000);
    assert(/microphone|catch|front desk|QR/i.test(said), `kiosk answer is not plain: "${said}"`);
    await shot(kiosk, "j2-kiosk-answer");
    await kiosk.close();
  });

  await check("z. no script errors or failed requests on any page", async () => {
    assert(pageErrors.length === 0, pageErrors.join("\n"));
  });
}

let exitCode = 0;
try {
  await main();
} catch (e) {
  failed++;
  log(`FAIL setup: ${e && e.message ? e.message : e}`);
} finally {
  await stopAll();
}
if (failed > 0) exitCode = 1;
log(`${passed} passed, ${failed} failed`);
clearTimeout(watchdog);
process.exit(exitCode);
