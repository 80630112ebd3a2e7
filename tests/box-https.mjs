// A phone on the clinic Wi-Fi opens the box's check-in page over HTTPS,
// under the certificate the cloud obtained for the box. Chromium trusts
// only the CA's root, from its NSS store as a system's would be, and must
// load the page with no warning (an untrusted or misnamed certificate
// fails `goto`). Run by cloud-sync/server/tests/box_https.rs with
// (check-in URL https://<name>:<port>/c/…, name, a HOME whose
// .pki/nssdb trusts the root). The box's name resolves to loopback here,
// as the cloud's DNS resolves it to the box's LAN address in a clinic.

import { PHONE, check, run, shot } from "./lib/browser.mjs";

const [url, name, home] = process.argv.slice(2);
process.env.HOME = home;

await run(async (newPage) => {
  const page = await newPage(PHONE);
  const resp = await page.goto(url);
  check(resp && resp.ok(), `the check-in page loads over HTTPS (${resp && resp.status()})`);
  check(page.url().startsWith(`https://${name}:`), `served as ${name} (${page.url()})`);
  const tls = await resp.securityDetails();
  check(tls && tls.subjectName === name, `the certificate is the box's own (${tls && tls.subjectName})`);
  check(tls.protocol.startsWith("TLS 1."), `a TLS connection (${tls.protocol})`);
  check((await page.locator("form").count()) > 0, "the check-in form is there");
  await shot(page, "box-https-phone.png");
}, 60, [`--host-resolver-rules=MAP ${name} 127.0.0.1`]);
