// An operator's "log in as" in headless Chromium, on a phone (390x844) by
// keyboard only: the fleet's link, a reason, the banner on every page, a
// greeting changed, the audit log naming the operator, and Stop. Run by
// cloud-sync/server/tests/dashboard_log_in_as.rs with (dashboard URL,
// operator email, password, owner email). Screenshots go to tests/artifacts/.

import { DESKTOP, PHONE, check, fitsThePhone, run, shot, tabTo, signIn as signInAt } from "./lib/browser.mjs";

const [url, operator, password, owner] = process.argv.slice(2);
const GREETING = "Hello {first_name}, support was here.";

const signIn = (page, who) => signInAt(page, url, who, password);

async function banner(page) {
  const b = await page.$("#acting");
  return b ? (await b.textContent()).replace(/\s+/g, " ").trim() : "";
}

await run(async (newPage) => {
  const ops = await newPage(PHONE);
  await signIn(ops, operator);
  check(ops.url().endsWith("/fleet"), `the operator lands on the fleet (${ops.url()})`);
  await tabTo(ops, "Log in as Alpha Dental", 40);
  await ops.keyboard.press("Enter");
  await ops.waitForURL(/\/fleet\/log-in-as\?tenant=/, { timeout: 5000 });
  await tabTo(ops, "reason", 20);
  await ops.keyboard.type("ticket 77: the greeting");
  await tabTo(ops, "start-acting", 5);
  await ops.keyboard.press("Enter");
  await ops.waitForURL((u) => u.pathname === "/", { timeout: 5000 });
  const said = await banner(ops);
  check(said.includes("You are logged in as Alpha Dental"), `the banner: ${said}`);
  check(await fitsThePhone(ops), "the page with its banner fits the phone");
  await shot(ops, "cloud-log-in-as-phone.png");

  await tabTo(ops, "Practice", 30);
  await ops.keyboard.press("Enter");
  await ops.waitForURL(/\/practice$/, { timeout: 5000 });
  check((await banner(ops)).includes("Alpha Dental"), "the practice page has the banner");
  await tabTo(ops, "p-welcome", 50);
  await ops.keyboard.press("Control+A");
  await ops.keyboard.type(GREETING);
  await tabTo(ops, "Save", 60);
  await ops.keyboard.press("Enter");
  await ops.waitForSelector("#practice-saved", { timeout: 5000 });
  check((await banner(ops)).includes("Alpha Dental"), "the saved page has the banner");

  await tabTo(ops, "Audit log", 30);
  await ops.keyboard.press("Enter");
  await ops.waitForURL(/\/audit$/, { timeout: 5000 });
  const log = await ops.textContent("main");
  const mentions = log.split(`operator ${operator}`).length - 1;
  check(mentions >= 2, `the audit log names the operator for the start and the change (${mentions})`);
  check(log.includes("ticket 77"), "the reason is in the audit log");
  await shot(ops, "cloud-log-in-as-audit-phone.png");

  await tabTo(ops, "stop-acting", 40);
  await ops.keyboard.press("Enter");
  await ops.waitForURL(/\/fleet$/, { timeout: 5000 });
  check((await banner(ops)) === "", "no banner once stopped");

  // The owner's own view of what support did, on a desktop.
  const desk = await newPage(DESKTOP);
  await signIn(desk, owner);
  await desk.goto(url + "/audit");
  const seen = await desk.textContent("main");
  check(seen.includes(`operator ${operator}`), "the owner sees the operator's entries");
  check((await banner(desk)) === "", "the owner has no banner");
  await shot(desk, "cloud-log-in-as-owner-audit-desktop.png");
});
