// The welcome email's link in headless Chromium, as an owner uses it: on a
// phone (390x844) with the keyboard only, a mismatch first, then a good
// password; the desktop layout is screenshotted too. Run by
// cloud-sync/server/tests/welcome_email.rs with the link as its argument.
// Screenshots go to tests/artifacts/. Exits 1 (with the reason) on failure.

import { DESKTOP, PHONE, check, fitsThePhone, run, shot } from "./lib/browser.mjs";

const link = process.argv[2];
const password = process.argv[3];

await run(async (newPage) => {
  const desktop = await newPage(DESKTOP);
  await desktop.goto(link);
  await shot(desktop, "cloud-password-desktop.png", false);
  await desktop.close();

  const phone = await newPage(PHONE);
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
  await shot(phone, "cloud-password-phone-error.png", false);
  await phone.keyboard.type(password);
  await phone.keyboard.press("Tab");
  await phone.keyboard.type(password);
  await phone.keyboard.press("Enter");
  await phone.waitForSelector("text=Your password is set", { timeout: 5000 });
  await shot(phone, "cloud-password-phone-done.png", false);
  check(await fitsThePhone(phone), "nothing wider than the phone");
});
