// `tern bench serve` end to end: against tern serving the demo model (every request
// completes, the numbers are plausible, the JSON keys stay what scripts read), and against
// a fake server that misbehaves in every way a real one can (each failure is counted under
// its class; the client neither crashes nor hangs).
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { metrics, startServer } from "../server/helpers.mjs";
import { demoModel, readJson, runTern, scratchDir } from "./support.mjs";

const scratch = scratchDir();
let runs = 0;

async function benchServe(url, args, { expectCode = 0 } = {}) {
  const jsonPath = path.join(scratch, `serve-${runs++}.json`);
  const r = await runTern(["bench", "serve", "--url", url, "--json", jsonPath, "--no-progress", ...args]);
  assert.equal(r.code, expectCode, r.stderr);
  return { ...r, json: expectCode === 0 ? readJson(jsonPath) : null };
}

// The keys scripts and tools/plot_bench.py read.
function assertSchema(j) {
  for (const key of ["completed", "failed", "errors", "duration_s", "requests_per_min", "output_tokens_per_s",
    "total_tokens_per_s", "input_tokens", "output_tokens", "max_in_flight", "url", "model", "date", "workload",
    "load"]) {
    assert.ok(key in j, `missing ${key}`);
  }
  for (const key of ["ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"]) {
    for (const stat of ["mean", "median", "p95", "p99"]) assert.equal(typeof j[key][stat], "number", `${key}.${stat}`);
  }
}

function assertOrdered(summary, what) {
  const { min, median, p95, p99, max } = summary;
  assert.ok(min >= 0 && min <= median && median <= p95 && p95 <= p99 && p99 <= max, `${what}: ${JSON.stringify(summary)}`);
}

describe("against tern serving the demo model", () => {
  let server;
  before(async () => { server = await startServer(["--model", demoModel]); });
  after(async () => { assert.equal((await server.stop()).code, 0); });

  test("a closed loop of token-id prompts: all complete, with exact token counts and plausible latencies", async () => {
    const { json: j, stdout } = await benchServe(server.url, ["--tokenizer", demoModel, "--concurrency", "4",
      "--num-prompts", "12", "--input-len", "32", "--output-len", "16", "--ignore-eos"]);
    assertSchema(j);
    assert.equal(j.completed, 12);
    assert.equal(j.failed, 0);
    assert.deepEqual(j.errors, {});
    assert.equal(j.model, "tern-demo", "taken from /v1/models");
    assert.equal(j.workload.prompt_format, "ids");
    assert.equal(j.input_tokens, 12 * 32);
    assert.equal(j.output_tokens, 12 * 16);
    assert.equal(j.output_tokens_from, "usage");
    assert.ok(j.max_in_flight >= 1 && j.max_in_flight <= 4);
    for (const key of ["ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"]) assertOrdered(j[key], key);
    assert.ok(j.ttft_ms.min > 0);
    assert.ok(j.ttft_ms.max < j.e2e_ms.max);
    assert.equal(j.ttft_ms.count, 12);
    assert.ok(j.e2e_ms.max / 1000 <= j.duration_s);
    assert.ok(Math.abs(j.requests_per_min - (12 * 60) / j.duration_s) < 1e-6);
    assert.ok(Math.abs(j.output_tokens_per_s - (12 * 16) / j.duration_s) < 1e-6);
    assert.match(stdout, /time to first token \(ms\)/);
  });

  test("chat requests with a shared prefix at a request rate hit the prefix cache", async () => {
    const before = await metrics(server.url);
    const { json: j } = await benchServe(server.url, ["--endpoint", "chat", "--tokenizer", demoModel,
      "--request-rate", "20", "--num-prompts", "8", "--input-len", "16", "--shared-prefix-len", "64",
      "--output-len", "8", "--slo-ttft-ms", "60000"]);
    assert.equal(j.completed, 8);
    assert.equal(j.failed, 0);
    assert.equal(j.workload.prompt_format, "text");
    assert.equal(j.load.request_rate, 20);
    assert.equal(j.load.concurrency, null);
    assert.equal(j.goodput.requests, 8);
    const after = await metrics(server.url);
    assert.ok(after.tern_prefix_cache_hits_total - before.tern_prefix_cache_hits_total >= 7 * 48,
      "each request after the first reuses at least the three full blocks of the shared prefix");
  });

  test("a sweep sends fresh prompts at every level: no level finds another's in the prefix cache", async () => {
    const before = await metrics(server.url);
    const jsonPath = path.join(scratch, "sweep.json");
    const r = await runTern(["bench", "sweep", "--url", server.url, "--tokenizer", demoModel, "--ignore-eos",
      "--concurrency-levels", "1,2", "--workloads", "32x4", "--rounds", "1", "--min-prompts", "2", "--seed", "1000",
      "--json", jsonPath, "--no-progress"]);
    assert.equal(r.code, 0, r.stderr);
    const j = readJson(jsonPath);
    assert.equal(j.kind, "sweep");
    assert.deepEqual(j.runs.map((run) => run.load.concurrency), [1, 2]);
    for (const run of j.runs) assert.equal(run.completed, 2);
    assert.notEqual(j.runs[0].workload.seed, j.runs[1].workload.seed);
    const after = await metrics(server.url);
    assert.equal(after.tern_prefix_cache_hits_total - before.tern_prefix_cache_hits_total, 0,
      "32-token random prompts (seeds no other test uses) share no 16-token block unless one is sent twice");
  });

  test("without a tokenizer, text prompts are sent and the server's usage gives the counts", async () => {
    const { json: j } = await benchServe(server.url, ["--concurrency", "2", "--num-prompts", "4", "--input-len", "20",
      "--output-len", "8", "--ignore-eos", "--model", "tern-demo"]);
    assert.equal(j.completed, 4);
    assert.equal(j.workload.prompt_format, "text");
    assert.equal(j.workload.exact_lengths, false);
    assert.ok(j.input_tokens >= 4 * 20, `input tokens ${j.input_tokens}`);
    assert.equal(j.output_tokens, 4 * 8);
  });

  test("a ShareGPT dataset", async () => {
    const dataset = path.join(scratch, "sharegpt.json");
    fs.writeFileSync(dataset, JSON.stringify([
      { conversations: [{ from: "human", value: "What is 12 + 30?" }, { from: "gpt", value: "12 + 30 = 42." }] },
      { conversations: [{ from: "human", value: "What is 7 * 8?" }, { from: "gpt", value: "7 * 8 = 56." }] },
    ]));
    const { json: j } = await benchServe(server.url, ["--dataset", dataset, "--tokenizer", demoModel,
      "--concurrency", "2", "--num-prompts", "5"]);
    assert.equal(j.completed, 5);
    assert.equal(j.workload.dataset, dataset);
    assert.equal(j.workload.input_len, null);
  });

  test("a run needs --concurrency or --request-rate", async () => {
    const r = await runTern(["bench", "serve", "--url", server.url, "--num-prompts", "2"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--concurrency C or --request-rate R/);
  });
});

// A fake OpenAI server: the n-th request to arrive gets behaviours[n].
const sse = (data) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
const chunk = (text, finish = null) => ({ object: "text_completion", choices: [{ index: 0, text, finish_reason: finish }] });
const alive = (res) => res.socket && !res.socket.destroyed;
const startStream = (res) => res.writeHead(200, { "Content-Type": "text/event-stream" });

const behaviours = {
  ok(res) {
    startStream(res);
    res.end(sse(chunk("a")) + sse(chunk("b")) + sse(chunk("", "length")) +
      sse({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }) + sse("[DONE]"));
  },
  okWithoutUsage(res) {
    startStream(res);
    res.end(sse(chunk("a")) + sse(chunk("b")) + sse(chunk("c")) + sse(chunk("", "stop")) + sse("[DONE]"));
  },
  http500(res) {
    res.writeHead(500, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ error: { message: "internal boom", type: "server_error", param: null, code: null } }));
  },
  dropMidStream(res) {
    startStream(res);
    res.write(sse(chunk("a")));
    setTimeout(() => res.socket?.destroy(), 50);
  },
  malformedSse(res) {
    startStream(res);
    res.end("data: {this is not json\n\n" + sse("[DONE]"));
  },
  slowFirstByte(res) {
    setTimeout(() => { if (alive(res)) behaviours.ok(res); }, 3000);
  },
  errorEvent(res) {
    startStream(res);
    res.end(sse(chunk("a")) + sse({ error: { message: "engine failed", type: "server_error" } }) + sse("[DONE]"));
  },
  truncated(res) {
    startStream(res);
    res.end(sse(chunk("a")));
  },
};

function startFake(order) {
  let arrivals = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => behaviours[order[arrivals++ % order.length]](res));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("against a misbehaving server", () => {
  test("500s, dropped connections, malformed SSE, a slow first byte, error events and truncated streams are counted by class", async () => {
    const order = ["ok", "http500", "dropMidStream", "malformedSse", "slowFirstByte", "errorEvent", "okWithoutUsage",
      "truncated", "ok", "ok"];
    const fake = await startFake(order);
    try {
      const url = `http://127.0.0.1:${fake.address().port}`;
      const { json: j, seconds } = await benchServe(url, ["--model", "fake", "--warmup", "0", "--concurrency", "3",
        "--num-prompts", String(order.length), "--timeout", "1"]);
      assertSchema(j);
      assert.equal(j.completed, 4);
      assert.equal(j.failed, 6);
      const counts = Object.fromEntries(Object.entries(j.errors).map(([k, v]) => [k, v.count]));
      assert.deepEqual(counts, { http_500: 1, disconnected: 1, malformed_sse: 1, timeout: 1, stream_error: 1,
        truncated_stream: 1 });
      assert.equal(j.errors.http_500.example, "internal boom");
      assert.equal(j.errors.stream_error.example, "engine failed");
      assert.equal(j.output_tokens, 3 * 2 + 3, "usage for three, token chunks for one");
      assert.equal(j.output_tokens_from, "mixed");
      assert.ok(seconds < 30, `took ${seconds} s`);
    } finally {
      fake.closeAllConnections();
      fake.close();
    }
  });

  test("a pooled connection the server closed while idle is replaced, not counted as a failure", async () => {
    const fake = await startFake(["ok"]);
    fake.keepAliveTimeout = 50;  // closes each connection 50 ms after its response; requests come ~250 ms apart
    try {
      const url = `http://127.0.0.1:${fake.address().port}`;
      const { json: j } = await benchServe(url, ["--model", "fake", "--warmup", "0", "--request-rate", "4",
        "--num-prompts", "6"]);
      assert.equal(j.completed, 6, JSON.stringify(j.errors));
    } finally {
      fake.closeAllConnections();
      fake.close();
    }
  });

  test("nothing listening: every request is a connect_error; a failed warm-up stops the run with a reason", async () => {
    const probe = await startFake(["ok"]);
    const url = `http://127.0.0.1:${probe.address().port}`;
    await new Promise((resolve) => probe.close(resolve));
    const { json: j } = await benchServe(url, ["--model", "m", "--warmup", "0", "--concurrency", "2",
      "--num-prompts", "3"]);
    assert.equal(j.failed, 3);
    assert.equal(j.errors.connect_error.count, 3);
    const r = await runTern(["bench", "serve", "--url", url, "--model", "m", "--concurrency", "2", "--num-prompts", "3"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /every warm-up request .* failed; the first: connect_error/);
  });
});
