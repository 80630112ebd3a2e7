// Dashboard pages as a signed-in person sees them in headless Chromium, on
// a phone (390x844) and a desktop: each must fit the phone's width and
// raise no CSP violation; screenshots go to tests/artifacts/ as
// cloud-<name>-phone.png and cloud-<name>-desktop.png. Arguments:
// dashboard URL, email, password, then pages as name=/path.

import { DESKTOP, PHONE, check, fitsThePhone, run, shot } from "./lib/browser.mjs";

const [url, email, password, ...pages] = process.argv.slice(2);

await run(async (newPage) => {
  for (const [kind, options] of [["phone", PHONE], ["desktop", DESKTOP]]) {
    const page = await newPage(options);
    await page.goto(url + "/login");
    await page.fill("#email", email);
    await page.fill("#password", password);
    await page.press("#password", "Enter");
    await page.waitForURL((u) => !u.pathname.endsWith("/login"), { timeout: 5000 });
    for (const spec of pages) {
      const [name, path] = spec.split("=");
      const r = await page.goto(url + path);
      check(r.status() === 200, `${path}: ${r.status()}`);
      if (kind === "phone") check(await fitsThePhone(page), `${path} fits the phone`);
      await shot(page, `cloud-${name}-${kind}.png`);
    }
  }
});
