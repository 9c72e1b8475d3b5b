// Browser test of the console's reply box (web/console/reply.js), driven by
// tests/integration/test_reply_browser.py, which starts Dovecot, an aiosmtpd sink and omnitraild
// and passes:
//   BASE_URL      http://127.0.0.1:PORT of the daemon
//   AGENT_TOKEN   alice's token
//   CUSTOMER      the customer's email address (their email is already on the timeline)
//   SUBJECT       the subject of that email
//   REPLY_TEXT    what the agent writes
//   ARTIFACT_DIR  where screenshots go
// The agent signs in, opens the customer, presses Reply on the email, writes and sends; the
// outbound item then shows "Sent". Exits non-zero with a message on the first failure.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`reply.test: environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
};
const BASE_URL = env("BASE_URL").replace(/\/+$/, "");
const AGENT_TOKEN = env("AGENT_TOKEN");
const CUSTOMER = env("CUSTOMER");
const SUBJECT = env("SUBJECT");
const REPLY_TEXT = env("REPLY_TEXT");
const ARTIFACT_DIR = env("ARTIFACT_DIR");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

mkdirSync(ARTIFACT_DIR, { recursive: true });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(10_000);
let step = "start";
try {
  step = "sign in";
  await page.goto(`${BASE_URL}/console/`, { waitUntil: "load" });
  await page.getByLabel("Agent token").fill(AGENT_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#workspace").waitFor({ state: "visible" });

  step = "open the customer";
  const panel = page.locator("#customer-panel");
  const open = async () => {
    await page.getByLabel("Search by phone, email or name").fill(CUSTOMER);
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator("#results .result", { hasText: CUSTOMER }).first().click();
    await panel.locator(".tl-item.tl-email").first().waitFor();
  };
  await open();

  step = "reply to the email";
  await panel.getByRole("button", { name: "Reply to this email" }).first().click();
  await panel.locator(".reply-context", { hasText: SUBJECT }).waitFor();
  if ((await panel.locator(".reply-channel").inputValue()) !== "email") throw new Error("the reply channel is not email");
  await panel.getByLabel("Message").fill(REPLY_TEXT);
  await panel.getByRole("button", { name: "Send", exact: true }).click();
  await page.locator(".toast", { hasText: "Reply queued" }).first().waitFor();

  step = "the reply is on the timeline and sent";
  let status = "";
  for (let i = 0; i < 20 && status !== "Sent"; i++) {
    await open();
    const badge = panel.locator(".tl-item .badge.delivery").first();
    if (await badge.count()) status = (await badge.textContent()).trim();
    if (status !== "Sent") await page.waitForTimeout(500);
  }
  if (status !== "Sent") throw new Error(`the reply's status is "${status}", not Sent`);
  await panel.locator(".tl-item", { hasText: REPLY_TEXT.split("\n")[0] }).first().waitFor();
  await page.screenshot({ path: join(ARTIFACT_DIR, "console-reply-sent.png"), fullPage: true });
  console.log("[reply.test] ok");
} catch (e) {
  await page.screenshot({ path: join(ARTIFACT_DIR, "console-reply-failure.png"), fullPage: true }).catch(() => {});
  console.error(`[reply.test] FAILED at "${step}": ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
