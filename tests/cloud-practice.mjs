// The practice form in headless Chromium, as an owner uses it on a phone
// (390x844) with the keyboard only: the Practice link from the header, a
// new greeting typed, Preview, then Save; the desktop layout with its
// preview, and a logo uploaded there (shown on the page and in the TV
// miniature); and the operators' fleet on both. Run by
// cloud-sync/server/tests/dashboard_practice.rs with (dashboard URL, owner
// email, password, operator email, a PNG's path). Screenshots go to
// tests/artifacts/.

import { DESKTOP, PHONE, check, fitsThePhone, focused, run, shot, tabTo, signIn as signInAt } from "./lib/browser.mjs";

const [url, email, password, operator, logo] = process.argv.slice(2);
const GREETING = "Good day {first_name}, {provider} will see you soon.";

const signIn = (page, who) => signInAt(page, url, who, password);

await run(async (newPage) => {
  const phone = await newPage(PHONE);
  await signIn(phone, email);
  await tabTo(phone, "Practice");
  await phone.keyboard.press("Enter");
  await phone.waitForURL(/\/practice$/, { timeout: 5000 });
  check(await fitsThePhone(phone), "the practice page fits the phone");
  await shot(phone, "cloud-practice-phone.png");
  await tabTo(phone, "p-welcome", 40);
  await phone.keyboard.press("Control+A");
  await phone.keyboard.type(GREETING);
  await tabTo(phone, "Preview", 40);
  await phone.keyboard.press("Enter");
  await phone.waitForSelector("#preview-greeting", { timeout: 5000 });
  const said = await phone.textContent("#preview-greeting");
  check(said.includes("Good day Sarah, Doctor Lee will see you soon."), `the preview: ${said}`);
  check((await phone.inputValue("#p-welcome")) === GREETING, "the typed greeting is kept");
  await shot(phone, "cloud-practice-phone-preview.png");
  await tabTo(phone, "Save", 60);
  await phone.keyboard.press("Enter");
  await phone.waitForSelector("#practice-saved", { timeout: 5000 });
  check((await phone.inputValue("#p-welcome")) === GREETING, "the saved greeting is shown");

  const desktop = await newPage(DESKTOP);
  await signIn(desktop, email);
  await desktop.goto(url + "/practice");
  check((await desktop.$("#logo-none")) !== null, "no logo yet");
  await desktop.setInputFiles("#p-logo", logo);
  await desktop.focus("#p-logo");
  await tabTo(desktop, "logo-upload", 3);
  await desktop.keyboard.press("Enter");
  await desktop.waitForURL(/saved=1/, { timeout: 5000 });
  const shown = await desktop.$eval("#logo-now", (img) => img.complete && img.naturalWidth);
  check(shown > 0, `the uploaded logo shows on the page (${shown})`);
  const tv = await desktop.$eval(".tv-preview", (img) => img.complete && img.naturalWidth);
  check(tv === 640, `the TV miniature with the logo renders (${tv})`);
  await shot(desktop, "cloud-practice-desktop.png");

  const ops = await newPage(PHONE);
  await signIn(ops, operator);
  check(ops.url().endsWith("/fleet"), `an operator lands on the fleet (${ops.url()})`);
  check(await fitsThePhone(ops), "the fleet fits the phone");
  await shot(ops, "cloud-fleet-phone.png");
  const wide = await newPage(DESKTOP);
  await signIn(wide, operator);
  await shot(wide, "cloud-fleet-desktop.png");
});
