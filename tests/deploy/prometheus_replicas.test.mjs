// Debian's Prometheus scraping two tern replicas on loopback with deploy/prometheus's
// recording rules (scrape and evaluation every second, a temporary storage folder, a free
// port): after a few requests, the fleet's P99 time to first token comes back through
// Prometheus' HTTP API, within the bucket the replicas' own histograms put it in. Skipped
// where prometheus is not installed.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

import { metrics, postJson, repoRoot, startServer } from "../server/helpers.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const prometheusBinary = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v prometheus"], { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
})();

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Polls `fn` until it returns a value other than undefined, or fails after `ms`.
async function waitFor(what, fn, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await sleep(200);
  }
}

let dir, replicas = [], prometheus, promUrl, promLog = "";

async function query(expr) {
  const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`).catch(() => null);
  if (!r || r.status !== 200) return [];
  const body = await r.json();
  return body.data.result;
}

before(async () => {
  if (!prometheusBinary) return;
  replicas = await Promise.all([startServer(), startServer()]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tern-prometheus-"));
  const config = [
    "global: {scrape_interval: 1s, evaluation_interval: 1s}",
    `rule_files: [${JSON.stringify(path.join(repoRoot, "deploy/prometheus/tern_rules.yml"))}]`,
    "scrape_configs:",
    "  - job_name: tern",
    `    static_configs: [{targets: [${replicas.map((r) => `"127.0.0.1:${r.port}"`).join(", ")}]}]`,
  ].join("\n");
  fs.writeFileSync(path.join(dir, "prometheus.yml"), config + "\n");
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(prometheusBinary, [`--config.file=${path.join(dir, "prometheus.yml")}`,
                                        `--storage.tsdb.path=${path.join(dir, "data")}`,
                                        `--web.listen-address=127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
  prometheus.stdout.on("data", (d) => { promLog += d; });
  prometheus.stderr.on("data", (d) => { promLog += d; });
  // Both replicas scraped once before any request, so the rates see the requests arrive.
  await waitFor("both replicas up in Prometheus:\n" + promLog, async () => {
    const up = await query('up{job="tern"} == 1');
    return up.length === 2 ? true : undefined;
  });
});

after(async () => {
  if (prometheus) {
    prometheus.kill("SIGTERM");
    await new Promise((resolve) => prometheus.on("exit", resolve));
  }
  for (const r of replicas) assert.equal((await r.stop()).code, 0);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("the P99 time to first token of two replicas, read back from Prometheus", { skip: !prometheusBinary &&
     "prometheus is not installed (apt-get install prometheus; scripts/install-deps.sh installs it)" }, async () => {
  const body = { prompt: "Monitoring probe", max_tokens: 4, temperature: 0 };
  for (let i = 0; i < 3; ++i) {
    for (const r of replicas) assert.equal((await postJson(r.url, "/v1/completions", body)).status, 200);
  }
  const p99 = await waitFor("fleet:tern_time_to_first_token_seconds:p99_1m:\n" + promLog, async () => {
    const result = await query("fleet:tern_time_to_first_token_seconds:p99_1m");
    const v = result.length === 1 ? Number(result[0].value[1]) : NaN;
    return Number.isFinite(v) ? v : undefined;
  });
  // The replicas' own histograms: the smallest bucket bound that holds all of a replica's
  // first tokens; the fleet's P99 is at most the larger of the two.
  let bound = 0;
  for (const r of replicas) {
    const m = await metrics(r.url);
    const count = m.tern_time_to_first_token_seconds_count;
    assert.equal(count, 3);
    const full = Object.entries(m)
      .filter(([k, v]) => k.startsWith("tern_time_to_first_token_seconds_bucket") && v === count)
      .map(([k]) => /le="([^"]+)"/.exec(k)[1])
      .map((le) => (le === "+Inf" ? Infinity : Number(le)));
    bound = Math.max(bound, Math.min(...full));
  }
  assert.ok(p99 > 0 && p99 <= bound, `P99 ${p99} s within (0, ${bound}] s`);
  const tokens = await waitFor("fleet:tern_generation_tokens:rate1m", async () => {
    const result = await query("fleet:tern_generation_tokens:rate1m > 0");
    return result.length === 1 ? Number(result[0].value[1]) : undefined;
  });
  assert.ok(tokens > 0);
});
