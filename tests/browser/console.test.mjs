// Browser acceptance test of the agent console (web/console), driven by
// tests/integration/test_console_browser.py which starts omnitraild and passes:
//   BASE_URL      http://127.0.0.1:PORT of the daemon (the console is served at /console/)
//   AGENT_TOKEN   alice's token (agent with extension 6001)
//   ADMIN_TOKEN   an admin token, used to inject interactions through the REST API
//   ARTIFACT_DIR  where screenshots (and a failure screenshot) go
//   CHROMIUM      optional, the browser binary (default /usr/bin/chromium); never downloaded
// Plain Node ESM with playwright-core; exits non-zero with a message on the first failure.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";

const BASE_URL = need("BASE_URL").replace(/\/+$/, "");
const AGENT_TOKEN = need("AGENT_TOKEN");
const ADMIN_TOKEN = need("ADMIN_TOKEN");
const ARTIFACT_DIR = need("ARTIFACT_DIR");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_MS = 10_000;
const RUN = randomUUID().slice(0, 8); // external ids and texts unique per run

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`console.test: environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
}

let step = "start";
function log(msg) {
  console.log(`[console.test] ${msg}`);
}
async function stepDo(name, fn) {
  step = name;
  const t0 = Date.now();
  await fn();
  log(`ok  ${name} (${Date.now() - t0} ms)`);
}
function fail(msg) {
  throw new Error(msg);
}

async function postInteraction(body) {
  const resp = await fetch(`${BASE_URL}/api/v1/interactions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_MS),
  });
  const text = await resp.text();
  if (resp.status !== 201 && resp.status !== 200) fail(`POST /api/v1/interactions ${body.kind}: HTTP ${resp.status}: ${text}`);
  return JSON.parse(text);
}

function callEvent(kind, extra) {
  return Object.assign({
    external_id: `browser-${RUN}-${kind}`,
    kind,
    channel: "phone",
    conversation_key: `call-1-${RUN}`,
    metadata: { extension: "6001" },
    identifiers: [{ kind: "phone", value: "+44 20 7946 0123" }],
    display_name: "Ada Lovelace",
  }, extra || {});
}

mkdirSync(ARTIFACT_DIR, { recursive: true });
const shots = [];
async function shot(page, name, opts) {
  const path = join(ARTIFACT_DIR, name);
  await page.screenshot(Object.assign({ path, fullPage: false }, opts || {}));
  shots.push(path);
  log(`screenshot ${path}`);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  timeout: 30_000,
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: "reduce" });
context.setDefaultTimeout(STEP_MS);
const page = await context.newPage();

// Anything the page reports as an error (a script error, a CSP violation, a failed asset) fails the
// test: the console must run clean under the daemon's Content-Security-Policy.
const pageProblems = [];
page.on("pageerror", (e) => pageProblems.push(`page error: ${e.message}`));
// Requests the test provokes on purpose to get an error answer (Chromium logs each failed load).
let expectedFailures = 0;
page.on("console", (m) => {
  if (m.type() !== "error") return;
  if (expectedFailures > 0 && /status of 503/.test(m.text())) { expectedFailures -= 1; return; }
  pageProblems.push(`console error: ${m.text()}`);
});
// Hostile-data check: no dialog may ever open.
page.on("dialog", async (d) => { pageProblems.push(`unexpected dialog: ${d.message()}`); await d.dismiss(); });

let exitCode = 0;
try {
  const pops = page.locator("#pops");
  const adaCard = pops.locator("article.pop", { hasText: "Ada Lovelace" });

  await stepDo("open the console", async () => {
    const resp = await page.goto(`${BASE_URL}/console/`, { waitUntil: "load" });
    if (!resp || resp.status() !== 200) fail(`GET /console/ answered ${resp && resp.status()}`);
    const csp = resp.headers()["content-security-policy"] || "";
    if (!csp.includes("script-src 'self'")) fail(`GET /console/ has no strict Content-Security-Policy (got "${csp}")`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
  });

  await stepDo("a wrong token is refused", async () => {
    await page.getByLabel("Agent token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#signin-error", { hasText: "not accepted" }).waitFor();
    // The 401 of that check is expected; it is not a page problem.
    for (let i = pageProblems.length - 1; i >= 0; i--) if (/401/.test(pageProblems[i])) pageProblems.splice(i, 1);
  });

  await stepDo("sign in as alice via the form", async () => {
    await page.getByLabel("Agent token").fill(AGENT_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#workspace").waitFor({ state: "visible" });
  });

  await stepDo("the console shows it is connected", async () => {
    await page.locator('#conn[data-state="connected"]').waitFor();
    const text = await page.locator("#conn-text").textContent();
    if (!/connected/i.test(text)) fail(`connection state reads "${text}"`);
    await page.locator("#agent-name", { hasText: "Alice Agent" }).waitFor();
    if (!(await page.getByRole("radio", { name: "Available" }).isChecked())) fail("presence is not 'available' after hello");
  });

  await stepDo("presence switch round-trips (away, then available)", async () => {
    await page.getByRole("radio", { name: "Away" }).check();
    if (!(await page.getByRole("radio", { name: "Away" }).isChecked())) fail("presence 'away' not selected");
    await page.getByRole("radio", { name: "Available" }).check();
    if (!(await page.getByRole("radio", { name: "Available" }).isChecked())) fail("presence 'available' not selected");
    await page.waitForTimeout(200); // let the server apply it before the call rings
  });

  await stepDo("call.ringing pops a card with Ada Lovelace, Ringing", async () => {
    await postInteraction(callEvent("call.ringing"));
    await adaCard.waitFor();
    await adaCard.locator(".pop-state", { hasText: "Ringing" }).waitFor();
    const n = await pops.locator("article.pop").count();
    if (n !== 1) fail(`expected 1 pop card, found ${n}`);
    const live = await page.locator("#announcer").getAttribute("aria-live");
    if (!live) fail("no aria-live region for new pops");
    await page.locator("#announcer", { hasText: "Ada Lovelace" }).waitFor();
    // the customer part of the card
    await adaCard.locator(".identity", { hasText: "+44 20 7946 0123" }).waitFor();
    await adaCard.locator(".tl-item.tl-phone").first().waitFor();
  });
  await shot(page, "console-pop-ringing.png");

  await stepDo("the console acknowledged the pop (pop.ack)", async () => {
    const deadline = Date.now() + STEP_MS;
    for (;;) {
      const text = await (await fetch(`${BASE_URL}/metrics`, { signal: AbortSignal.timeout(STEP_MS) })).text();
      const m = /^omnitrail_pops_acknowledged_total(?:\{[^}]*\})?\s+([0-9.e+]+)/m.exec(text);
      if (!m) { log("warning: /metrics has no omnitrail_pops_acknowledged_total; pop.ack not checked"); return; }
      if (Number(m[1]) >= 1) return;
      if (Date.now() > deadline) fail(`omnitrail_pops_acknowledged_total is ${m[1]}: the console sent no pop.ack`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  await stepDo("reload: still signed in, the ringing pop is replayed by hello", async () => {
    await page.reload({ waitUntil: "load" });
    await page.locator('#conn[data-state="connected"]').waitFor();
    await adaCard.locator(".pop-state", { hasText: "Ringing" }).waitFor();
    const n = await pops.locator("article.pop").count();
    if (n !== 1) fail(`expected 1 pop card after reload, found ${n}`);
  });

  await stepDo("call.answered by alice updates the same card", async () => {
    await postInteraction(callEvent("call.answered", { agent: "alice" }));
    await adaCard.locator(".pop-state", { hasText: /answered by alice/i }).waitFor();
    const n = await pops.locator("article.pop").count();
    if (n !== 1) fail(`the card was duplicated: ${n} pop cards`);
  });

  await stepDo("call.ended marks the card ended", async () => {
    await postInteraction(callEvent("call.ended"));
    await pops.locator('article.pop[data-state="ended"]', { hasText: "Ada Lovelace" }).waitFor();
    await adaCard.locator(".pop-state", { hasText: "Ended" }).waitFor();
    await adaCard.getByRole("button", { name: /dismiss/i }).waitFor();
  });
  await shot(page, "console-pop-ended.png");

  const noteText = `Called about the analytical engine (${RUN}) <b>not bold</b>`;
  const panel = page.locator("#customer-panel");
  await stepDo("search 'Ada' lists the customer", async () => {
    await page.getByLabel("Search by phone, email or name").fill("Ada");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator("#results .result", { hasText: "Ada Lovelace" }).waitFor();
  });

  await stepDo("open the customer", async () => {
    await page.locator("#results .result", { hasText: "Ada Lovelace" }).first().click();
    await panel.waitFor({ state: "visible" });
    await panel.locator(".cv-name", { hasText: "Ada Lovelace" }).waitFor();
    await panel.locator(".tl-item.tl-phone").first().waitFor();
  });

  await stepDo("add a note; it appears on the timeline", async () => {
    await panel.getByLabel("Add a note").fill(noteText);
    await panel.getByRole("button", { name: "Add note" }).click();
    await panel.locator(".tl-item.tl-note", { hasText: noteText }).waitFor();
    // inserted as text, never as HTML
    if (await panel.locator(".tl-item.tl-note b").count()) fail("note text was inserted as HTML");
  });

  await stepDo("click-to-call from a phone identifier (no phone connector here: a clear error)", async () => {
    expectedFailures = 2;  // Chromium may log the 503 load twice (request and resource)
    await panel.getByRole("button", { name: "Call +442079460123" }).click();
    await page.locator("#toast", { hasText: "no phone connector can place calls" }).waitFor();
  });
  await shot(page, "console-1280.png");

  await stepDo("narrow window (400 px): single column, no horizontal scrolling", async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    await page.waitForTimeout(150);
    const { scrollW, cols } = await page.evaluate(() => ({
      scrollW: document.documentElement.scrollWidth,
      cols: getComputedStyle(document.getElementById("workspace")).gridTemplateColumns.split(" ").length,
    }));
    if (scrollW > 400) fail(`page is ${scrollW}px wide at a 400px viewport`);
    if (cols !== 1) fail(`workspace has ${cols} columns at 400px`);
    await panel.locator(".tl-item.tl-note", { hasText: noteText }).scrollIntoViewIfNeeded();
  });
  await shot(page, "console-400.png");
  await page.setViewportSize({ width: 1280, height: 800 });

  await stepDo("hostile customer data is shown as text", async () => {
    const evil = `<img src=x id=evil-${RUN}>Mallory`;
    await postInteraction({
      external_id: `browser-${RUN}-evil`, kind: "email.received", channel: "email",
      identifiers: [{ kind: "email", value: `mallory-${RUN}@example.com` }],
      display_name: evil, subject: "<script>alert(1)</script>", text: "<svg onload=alert(2)>",
    });
    await page.getByLabel("Search by phone, email or name").fill(`mallory-${RUN}`);
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const result = page.locator("#results .result", { hasText: "Mallory" });
    await result.waitFor();
    await result.first().click();
    await panel.locator(".tl-subject", { hasText: "<script>alert(1)</script>" }).waitFor();
    const name = await panel.locator(".cv-name").textContent();
    if (name !== evil) fail(`display name rendered as "${name}"`);
    if (await page.locator(`#evil-${RUN}`).count()) fail("hostile display name was parsed as HTML");
  });

  await stepDo("dismiss the ended card", async () => {
    await adaCard.getByRole("button", { name: /dismiss/i }).click();
    await adaCard.waitFor({ state: "detached" });
    await page.locator("#pops-empty").waitFor({ state: "visible" });
  });

  await stepDo("sign out", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    const stored = await page.evaluate(() => sessionStorage.length);
    if (stored !== 0) fail("the token stayed in sessionStorage after sign-out");
  });

  if (pageProblems.length) fail(`the page reported problems:\n  ${pageProblems.join("\n  ")}`);
  log(`PASS (${shots.length} screenshots in ${ARTIFACT_DIR})`);
} catch (e) {
  exitCode = 1;
  console.error(`[console.test] FAIL at step "${step}": ${e && e.message ? e.message.split("\n").slice(0, 12).join("\n") : e}`);
  if (pageProblems.length) console.error(`[console.test] page problems:\n  ${pageProblems.join("\n  ")}`);
  try {
    const path = join(ARTIFACT_DIR, "console-failure.png");
    await page.screenshot({ path, fullPage: true });
    console.error(`[console.test] failure screenshot: ${path}`);
  } catch (_) { /* the browser may be gone */ }
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
