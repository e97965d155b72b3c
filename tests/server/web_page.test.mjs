// The chat page in headless Chromium (Debian's chromium, driven by playwright-core): send
// a message and watch it stream, see the reply's stats, hold a second turn, stop a reply.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { metrics, startServer, waitFor } from "./helpers.mjs";

const executablePath = process.env.CHROMIUM || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);

let server;
let browser;
let page;

before(async () => {
  assert.ok(executablePath, "Chromium is installed (apt install chromium) or CHROMIUM names it");
  server = await startServer();
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.errors = errors;
  await page.goto(server.url + "/");
  await page.waitForFunction(() => document.getElementById("model").textContent === "tiny-qwen2");
});

after(async () => {
  await browser?.close();
  assert.equal((await server.stop()).code, 0);
});

async function setSetting(id, value) {
  await page.evaluate(() => { document.getElementById("settings").open = true; });
  await page.fill("#" + id, value);
}

test("a message streams into a reply with time to first token and tokens/s", async () => {
  await setSetting("temperature", "0");
  await setSetting("max-tokens", "40");
  await page.fill("#prompt", "Hello, who are you?");
  // Count the updates of the reply's text (mutation records, however they are batched),
  // to see it arrive in pieces.
  await page.evaluate(() => {
    window.updates = 0;
    new MutationObserver((records) => {
      window.updates += records.filter((r) => r.target.closest?.(".message.assistant .content") ||
                                              r.target.parentElement?.closest(".message.assistant .content")).length;
    }).observe(document.getElementById("log"), { subtree: true, childList: true, characterData: true });
  });
  await page.click("#send");
  await page.waitForSelector(".message.assistant:not(.streaming) .stats");
  const stats = await page.textContent(".message.assistant .stats");
  assert.match(stats, /TTFT \d+ ms/);
  assert.match(stats, /tok\/s/);
  assert.match(stats, /40 tokens/);
  const updates = await page.evaluate(() => window.updates);
  assert.ok(updates > 3, `the text grew in several steps (${updates} updates)`);
  const user = await page.textContent(".message.user .content");
  assert.equal(user, "Hello, who are you?");
  assert.deepEqual(page.errors, []);
});

test("a second turn sends the history and gets its own reply", async () => {
  await page.fill("#prompt", "And then?");
  await page.press("#prompt", "Enter");
  await page.waitForFunction(() => document.querySelectorAll(".message.assistant:not(.streaming) .stats").length === 2);
  assert.equal(await page.locator(".message.user").count(), 2);
});

test("the stop button aborts a reply and the server frees it", async () => {
  await setSetting("max-tokens", "450");
  await page.click("#new-chat");
  // A long reply: ignore the model's end token by asking for many tokens of a short prompt.
  await page.route("**/v1/chat/completions", async (route) => {
    const body = JSON.parse(route.request().postData());
    await route.continue({ postData: JSON.stringify({ ...body, ignore_eos: true }) });
  });
  // Background load slows the tiny model's steps enough to press Stop mid-reply.
  const load = Array.from({ length: 16 }, () => fetch(server.url + "/v1/completions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt: "background", max_tokens: 480, ignore_eos: true }) }));
  await page.fill("#prompt", "Tell me a very long story.");
  await page.click("#send");
  await page.waitForFunction(() => (document.querySelector(".message.assistant .content")?.textContent.length ?? 0) > 0);
  assert.equal(await page.isVisible("#stop"), true);
  await page.click("#stop");
  await page.waitForSelector(".message.assistant:not(.streaming) .stats");
  assert.match(await page.textContent(".message.assistant .stats"), /stopped/);
  assert.equal(await page.isVisible("#stop"), false);
  await Promise.all(load);
  await waitFor(async () => (await metrics(server.url)).tern_kv_cache_usage_ratio === 0, 2000, "KV freed");
  const m = await metrics(server.url);
  assert.ok(m.tern_client_disconnects_total >= 1);
  assert.ok(m['tern_requests_total{finish_reason="abort"}'] >= 1);
  await page.unroute("**/v1/chat/completions");
});
