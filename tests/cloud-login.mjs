// Signing in to the dashboard in headless Chromium, as an owner does: on a
// phone (390x844) with the keyboard only — a wrong password first, then
// the right one, the practice's page, and signing out by keyboard; then on
// a desktop. Run by cloud-sync/server/tests/dashboard_sign_in.rs with
// (dashboard URL, email, password, practice name). Screenshots go to
// tests/artifacts/. Exits 1 (with the reason) on failure.

import { DESKTOP, PHONE, check, fitsThePhone, focused, run, shot, tabTo } from "./lib/browser.mjs";

const [url, email, password, practice] = process.argv.slice(2);

await run(async (newPage) => {
  const phone = await newPage(PHONE);
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
  await shot(phone, "cloud-login-phone-error.png", false);
  await tabTo(phone, "password");
  await phone.keyboard.type(password);
  await phone.keyboard.press("Enter");
  await phone.waitForSelector("h1", { timeout: 5000 });
  check((await phone.textContent("h1")).includes(practice), "the practice's page");
  await shot(phone, "cloud-home-phone.png");
  check(await fitsThePhone(phone), "nothing wider than the phone");
  await phone.goto(url + "/team");
  await shot(phone, "cloud-team-phone.png");
  check(await fitsThePhone(phone), "the team page fits the phone");
  // The first Tab offers to skip the header; signing out is reachable.
  await phone.keyboard.press("Tab");
  check((await focused(phone)) === "Skip to content", `the first Tab: ${await focused(phone)}`);
  await tabTo(phone, "Sign out");
  await phone.keyboard.press("Enter");
  await phone.waitForURL(/\/login$/, { timeout: 5000 });
  await phone.goto(url + "/");
  check(phone.url().endsWith("/login"), "signed out for real");

  const desktop = await newPage(DESKTOP);
  await desktop.goto(url + "/login");
  await desktop.fill("#email", email);
  await desktop.fill("#password", password);
  await desktop.press("#password", "Enter");
  await desktop.waitForSelector("h1", { timeout: 5000 });
  await shot(desktop, "cloud-home-desktop.png");
  await desktop.goto(url + "/team");
  await shot(desktop, "cloud-team-desktop.png");
});
