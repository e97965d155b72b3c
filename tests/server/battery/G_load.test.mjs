// Battery group G, load, backpressure and KV pressure (docs/reliability.md): admission control,
// KV exhaustion with preemption, and a shortened mixed Poisson load (the 30-minute
// version is scripts/soak.sh --g3).
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";

import { metrics } from "../helpers.mjs";
import { assertOpenAiError, caseTest, slow, startBatteryServer, stopBatteryServer } from "./harness.mjs";
import { percentile, runMix } from "./load_mix.mjs";

// Server-side time of each answered request, from the access log: [status, ms].
function answered(log) {
  return [...log.matchAll(/ -> (\d{3}) \((\d+) ms\)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

describe("admission: 2 running, 2 waiting", () => {
  let server;
  before(async () => { server = await startBatteryServer(["--max-num-seqs", "2", "--max-waiting", "2"]); });
  after(async () => { await stopBatteryServer(server); });

  caseTest(() => server, "G1", "3x (running + waiting) offered: the excess gets 503 + Retry-After in milliseconds, the rest complete",
    async (server) => {
      const logStart = server.log().length;
      const body = { prompt: "Admission control probe", max_tokens: 120, ignore_eos: true, temperature: 0 };
      const results = await Promise.all(Array.from({ length: 12 }, () => server.post("/v1/completions", body)));
      const statuses = results.map((r) => r.status);
      // At least the waiting room is admitted (the running slots count only once the
      // engine has scheduled their requests, so how many more get in depends on timing).
      assert.ok(statuses.filter((s) => s === 200).length >= 2, statuses.join(","));
      assert.ok(statuses.includes(503), statuses.join(","));
      for (const r of results) {
        if (r.status === 503) {
          assertOpenAiError(r.json, "service_unavailable");
          assert.equal(r.json.error.code, "server_overloaded");
          assert.equal(r.headers.get("retry-after"), "1");
        } else {
          assert.equal(r.status, 200, r.text);
          assert.equal(r.json.usage.completion_tokens, 120);
        }
      }
      const refusals = answered(server.log().slice(logStart)).filter(([status]) => status === 503).map(([, ms]) => ms);
      assert.ok(refusals.length > 0);
      assert.ok(percentile(refusals, 0.5) < 50 * slow, `503s answered in ${refusals.join(", ")} ms`);
      const m = await metrics(server.url);
      assert.ok(m['tern_requests_rejected_total{reason="busy"}'] >= refusals.length);
    }, { allow5xx: [503] });
});

describe("KV pressure: 40 blocks of 16 tokens for 8 sequences", () => {
  let server;
  before(async () => {
    server = await startBatteryServer(["--num-kv-blocks", "40", "--max-num-seqs", "8", "--no-prefix-caching"]);
  });
  after(async () => { await stopBatteryServer(server); });

  caseTest(() => server, "G2", "requests needing 3x the KV pool are preempted and recomputed, byte-identical to solo runs; nothing fails or hangs",
    async (server) => {
      const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 100 }, (_, j) => (i * 37 + j * 11) % 1000));
      const body = (prompt) => ({ prompt, max_tokens: 140, temperature: 0, ignore_eos: true });
      const solo = [];
      for (const p of prompts) solo.push((await server.post("/v1/completions", body(p))).json.choices[0].text);
      const before = await metrics(server.url);
      const together = await Promise.all(prompts.map((p) => server.post("/v1/completions", body(p))));
      together.forEach((r, i) => {
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.choices[0].text, solo[i], `request ${i}`);
      });
      const after = await metrics(server.url);
      assert.ok(after.tern_preemptions_total > before.tern_preemptions_total, "preemption happened");
      // n = 8 on a 400-token prompt needs twice the pool at once: the siblings take turns
      // through preemption rather than failing or hanging. (A request that fits
      // max_model_len but not the pool cannot exist: start-up refuses a pool smaller than
      // one full-length sequence, case H2.)
      const wide = await server.post("/v1/completions", { prompt: Array(400).fill(3), n: 8, max_tokens: 100,
                                                          ignore_eos: true });
      assert.equal(wide.status, 200, wide.text);
      assert.equal(wide.json.usage.completion_tokens, 800);
    });
});

describe("mixed Poisson load", () => {
  let server;
  before(async () => { server = await startBatteryServer(["--max-num-seqs", "16"]); });
  after(async () => { await stopBatteryServer(server); });

  caseTest(() => server, "G3", "30 s of mixed traffic (10 % cancels, 5 % invalid, 5 % disconnects): no 5xx, no orphans, gauges back to 0",
    async (server) => {
      const stats = await runMix(server.url, { durationMs: 30000, rate: 4 / slow, maxTokens: 48, seed: 3 });
      assert.deepEqual(stats.failures, []);
      assert.equal(stats.completed + stats.cancelled + stats.invalid + stats.disconnected, stats.sent,
                   JSON.stringify({ ...stats, ttft: undefined, itl: undefined }));
      assert.ok(stats.completed >= 0.6 * stats.sent, `${stats.completed} of ${stats.sent} completed`);
      console.log(`G3: ${stats.sent} requests, TTFT p99 ${percentile(stats.ttft, 0.99).toFixed(0)} ms, ` +
                  `ITL p99 ${percentile(stats.itl, 0.99).toFixed(1)} ms`);
    }, { timeout: 180000 });
});
