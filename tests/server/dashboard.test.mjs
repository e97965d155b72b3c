// The dashboard (/dashboard) in headless Chromium (Debian's chromium, driven by
// playwright-core): it polls /metrics and, once completions have run, shows time to first
// token and inter-token percentiles, throughput, running/waiting requests and KV blocks.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { startServer } from "./helpers.mjs";

const executablePath = process.env.CHROMIUM || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);

let server;
let browser;
let page;
const errors = [];

before(async () => {
  assert.ok(executablePath, "Chromium is installed (apt install chromium) or CHROMIUM names it");
  server = await startServer();
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
});

after(async () => {
  await browser?.close();
  assert.equal((await server.stop()).code, 0);
});

const text = (id) => page.textContent("#" + id);

test("the dashboard is live before any request, with no percentile yet", async () => {
  await page.goto(server.url + "/dashboard");
  await page.waitForFunction(() => document.getElementById("status").textContent === "live");
  assert.equal(await text("running"), "0");
  assert.equal(await text("waiting"), "0");
  assert.match(await text("kv-total"), /^\d+$/);
  assert.ok(Number(await text("kv-total")) > 0);
  assert.equal(await text("kv-used"), "0");
  assert.equal(await text("memory-total"), "0 B"); // the CPU backend reports no device memory
  assert.equal(await text("ttft-p50"), "–");
});

test("completions show up as percentiles, throughput and a running request", async () => {
  const complete = (max_tokens) => fetch(server.url + "/v1/completions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt: "Hello", max_tokens, ignore_eos: true }) }).then((r) => r.json());
  // Rounds of sixteen long requests at once, until a poll (once a second) lands while they
  // run: how long a round takes depends on the machine.
  await page.evaluate(() => {
    window.mostRunning = 0;
    new MutationObserver(() => {
      window.mostRunning = Math.max(window.mostRunning, Number(document.getElementById("running").textContent) || 0);
    }).observe(document.getElementById("running"), { childList: true, characterData: true, subtree: true });
  });
  for (let round = 0; round < 10 && await page.evaluate(() => window.mostRunning) < 1; ++round) {
    await Promise.all(Array.from({ length: 16 }, () => complete(480)));
  }
  assert.ok(await page.evaluate(() => window.mostRunning) >= 1, "a poll saw requests running");
  await page.waitForFunction(() => /ms$/.test(document.getElementById("ttft-p50").textContent), null, { timeout: 5000 });
  for (const id of ["ttft-p50", "ttft-p95", "ttft-p99", "itl-p50", "itl-p95", "itl-p99"]) {
    assert.match(await text(id), /^\d+(\.\d+)? ms$/, id);
  }
  const ms = (s) => parseFloat(s);
  assert.ok(ms(await text("ttft-p50")) <= ms(await text("ttft-p99")), "P50 <= P99");
  assert.match(await text("output-tps"), /^\d+(\.\d+)? tok\/s$/);
  await page.waitForFunction(() => document.getElementById("running").textContent === "0");
  assert.match(await text("memory-peak"), /^\d+(\.\d)? (B|KiB|MiB|GiB)$/);
  // The charts drew something: some pixel of the TTFT canvas is not blank.
  const inked = await page.evaluate(() => {
    const c = document.getElementById("chart-ttft");
    return c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some((v) => v !== 0);
  });
  assert.ok(inked);
  assert.deepEqual(errors, []);
});

test("with --api-key the dashboard asks for the key, then reads /metrics with it", async () => {
  const keyed = await startServer(["--api-key", "sesame"]);
  try {
    const p = await browser.newPage();
    await p.goto(keyed.url + "/dashboard");
    await p.waitForFunction(() => /API key/.test(document.getElementById("status").textContent));
    await p.fill("#api-key", "sesame");
    await p.waitForFunction(() => document.getElementById("status").textContent === "live");
    assert.match(await p.textContent("#kv-total"), /^\d+$/);
    await p.close();
  } finally {
    await keyed.stop();
  }
});
