// The whole system in headless Chromium: the owner's dashboard (sos-cloud),
// a box process enrolled to it, its lobby TV and a patient's phone. Run by
// cloud-sync/server/tests/whole_system.rs with (dashboard URL, box URL,
// the box's check-in URL, owner email, password, desk PIN, a logo's path).
// Screenshots go to tests/artifacts/.

import { DESKTOP, PHONE, check, run, shot, signIn } from "./lib/browser.mjs";

const [cloud, box, checkinUrl, owner, password, pin, logo] = process.argv.slice(2);
const GREETING = "Hello {first_name}, lovely to see you at {practice}!";

async function until(fn, what, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

await run(async (newPage) => {
  // The lobby TV pairs from the box's desk.
  const tv = await newPage({ viewport: { width: 1280, height: 720 } });
  await tv.goto(box + "/tv");
  const code = await until(async () => (await tv.isVisible("#pair-code")) && (await tv.textContent("#pair-code")).trim(), "the TV's pairing code");
  const desk = await newPage(DESKTOP);
  await desk.goto(box + "/desk");
  await desk.fill("#pin", pin);
  await desk.click("button[type=submit]");
  await until(async () => new URL(desk.url()).pathname === "/desk" && (await desk.isVisible("#queue-h")), "the desk after sign-in (the PIN came from the cloud)");
  await desk.fill("#pair-code-input", code);
  await desk.fill("#pair-name-input", "Lobby TV");
  await desk.click("#pair-form button[type=submit]");
  await until(async () => (await tv.isVisible("#lobby")) && (await tv.textContent("#tv-name")).includes("Bright Smile Dental"), "the TV's branded lobby");

  // The owner changes the greeting and the logo in the dashboard.
  const dash = await newPage(DESKTOP);
  await signIn(dash, cloud, owner, password);
  await dash.goto(cloud + "/practice");
  await dash.fill("#p-welcome", GREETING);
  await dash.click("button[value=save]");
  await dash.waitForSelector("#practice-saved", { timeout: 5000 });
  await dash.setInputFiles("#p-logo", logo);
  await dash.click("#logo-upload");
  await dash.waitForURL(/saved=1/, { timeout: 5000 });
  check(await dash.isVisible("#logo-now"), "the dashboard shows the new logo");

  // The TV shows it within seconds: the cloud's re-encoded PNG, drawn.
  await until(async () => tv.evaluate(() => {
    const img = document.querySelector("#tv-logo svg image");
    return img && img.getAttribute("href").startsWith("data:image/png;base64,");
  }), "the TV shows the uploaded logo");
  const drawn = await tv.evaluate(() => {
    const r = document.querySelector("#tv-logo svg").getBoundingClientRect();
    return r.width > 10 && r.height > 10;
  });
  check(drawn, "the logo takes space on the TV");
  await shot(tv, "whole-system-tv-logo.png", false);

  // A patient checks in on a phone; the TV welcomes her.
  const phone = await newPage(PHONE);
  await phone.goto(checkinUrl);
  await phone.fill("#first_name", "Sarah");
  await phone.fill("#last_name", "Jones");
  await phone.fill("#date_of_birth", "1985-04-23");
  await Promise.all([phone.waitForURL(/\/status\//, { timeout: 10000 }), phone.click("button[type=submit]")]);
  await until(async () => /Thanks, Sarah/i.test(await phone.textContent("#status-title")), "the phone says she is checked in");
  await until(async () => (await tv.textContent("#queue")).includes("Sarah J."), "the TV's waiting list has Sarah J.");
  await shot(tv, "whole-system-tv-arrived.png", false);

  // The owner sees her on today's check-ins (the box sent the check-in).
  await until(async () => {
    await dash.goto(cloud + "/checkins");
    return (await dash.textContent("main")).includes("Sarah J.");
  }, "the dashboard's check-ins page lists Sarah J.", 30000);
  const page = await dash.textContent("main");
  check(!page.includes("Jones"), "the cloud never shows her last name");
  await shot(dash, "whole-system-dashboard-checkins.png");
  const phoneDash = await newPage(PHONE);
  await signIn(phoneDash, cloud, owner, password);
  await phoneDash.goto(cloud + "/checkins");
  check((await phoneDash.textContent("main")).includes("Sarah J."), "the check-ins page on a phone");
  await shot(phoneDash, "whole-system-dashboard-checkins-phone.png");
}, 80);
