// `tern bench ablation` on the CPU with the demo model and tiny lengths: the INT4 copy is
// made by tern quantize, five servers start and stop in turn, and the JSON has every
// stage with the article's columns, HF's static batches as stage 0 (--hf-baseline), and
// the last stage's throughput over the first's.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { demoModel, readJson, runTern, scratchDir } from "./support.mjs";

test("five stages of tern on the demo model, with the article's columns", async () => {
  const scratch = scratchDir();
  const int4 = path.join(scratch, "tern-demo-int4");
  const jsonPath = path.join(scratch, "ablation.json");
  // Stage 0 comes from tools/hf_static_baseline.py's JSON: the run with these lengths and the largest batch.
  const hfPath = path.join(scratch, "hf_static.json");
  fs.writeFileSync(hfPath, JSON.stringify({ engine: "transformers generate() static batches", runs: [
    { input_len: 24, output_len: 8, batch: 2, requests_per_min: 30, output_tokens_per_s: 4, ttft_ms: 900, peak_gpu_memory_gib: 0.5 },
    { input_len: 24, output_len: 8, batch: 4, requests_per_min: 40, output_tokens_per_s: 5.3, ttft_ms: 1500, peak_gpu_memory_gib: 0.6 },
    { input_len: 2048, output_len: 512, batch: 64, requests_per_min: 99, output_tokens_per_s: 850, ttft_ms: 9000, peak_gpu_memory_gib: 40 },
  ] }));
  const r = await runTern(["bench", "ablation", "--model", demoModel, "--int4-model", int4, "--backend", "cpu",
    "--threads", "1", "--max-model-len", "256", "--input-len", "24", "--output-len", "8", "--range-ratio", "0.25",
    "--num-prompts", "8", "--concurrency", "4", "--warmup", "1", "--no-progress", "--json", jsonPath,
    "--log-dir", path.join(scratch, "logs"), "--hf-baseline", hfPath]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readJson(path.join(int4, "config.json")).quantization_config, "tern quantize made the INT4 copy");

  const j = readJson(jsonPath);
  assert.equal(j.gpu, "cpu");
  assert.match(j.date, /^\d{4}-\d{2}-\d{2}$/);
  assert.equal(typeof j.commit, "string");
  assert.equal(j.workload.input_len, 24);
  assert.deepEqual(j.stages.map((s) => s.stage), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(j.stages.map((s) => s.weights), ["bf16", "bf16", "int4", "int4", "int4", "int4"]);
  const hf = j.stages.shift();
  assert.equal(hf.max_concurrency, 4, "the HF run with the workload's lengths and the largest batch");
  assert.equal(hf.requests_per_min, 40);
  assert.match(hf.name, /HF transformers generate\(\), static batches of 4/);
  assert.equal(typeof j.summary.monotone, "boolean");
  assert.equal(j.summary.first_stage, 0);
  assert.equal(j.summary.last_stage, 5);
  assert.ok(Math.abs(j.summary.last_over_first - j.stages[4].requests_per_min / 40) < 1e-9);
  assert.match(r.stdout, /stage 5 \/ stage 0: [0-9.]+x requests\/min; each stage at least as fast as the one before: (yes|no)/);
  for (const s of j.stages) {
    assert.ok(!("error" in s), s.error);
    assert.equal(typeof s.name, "string");
    assert.equal(s.completed, 8);
    assert.equal(s.failed, 0);
    assert.ok(s.ttft_ms > 0 && s.ttft_p95_ms >= s.ttft_median_ms && s.ttft_p99_ms >= s.ttft_p95_ms, s.name);
    assert.ok(s.requests_per_min > 0 && s.output_tokens_per_s > 0, s.name);
    assert.ok(s.peak_gpu_memory_gib > 0, s.name);
    assert.equal(s.gpu_memory_reserved_gib, null, "no device memory on the CPU");
    assert.ok(s.max_concurrency >= 1 && s.max_concurrency <= 4, `${s.name}: ${s.max_concurrency}`);
    assert.equal(s.backend, "cpu");
    assert.equal(s.bench.output_tokens_from, "usage");
    assert.ok(fs.existsSync(s.server_log));
  }
  const flags = j.stages.map((s) => s.flags.join(" "));
  assert.match(flags[0], /--scheduler static --kv-layout contiguous .*--enforce-eager/);
  assert.match(flags[2], /--scheduler static/);
  assert.doesNotMatch(flags[2], /contiguous/);
  assert.doesNotMatch(flags[4], /--scheduler|--kv-layout|--enforce-eager/);
  assert.match(flags[4], /--cuda-graphs/, "the last stage turns the graphs on (off by default for now)");
  assert.ok(j.stages[1].peak_gpu_memory_gib < j.stages[0].peak_gpu_memory_gib, "INT4 weights take less memory");
  assert.match(r.stdout, /\| stage \| TTFT \(ms\) \|.*\| peak GPU memory \(GiB\) \| concurrency \|/);
});

test("a stage whose server cannot start is reported with the end of its log, and the others still run", async () => {
  const scratch = scratchDir();
  const jsonPath = path.join(scratch, "ablation.json");
  // The demo model allows 2048 positions, so every server refuses to load.
  const r = await runTern(["bench", "ablation", "--model", demoModel, "--skip-int4", "--backend", "cpu",
    "--max-model-len", "100000", "--num-prompts", "2", "--concurrency", "2", "--json", jsonPath,
    "--log-dir", path.join(scratch, "logs")]);
  assert.equal(r.code, 1, r.stderr);
  const j = readJson(jsonPath);
  assert.deepEqual(j.stages.map((s) => s.stage), [1, 3, 4, 5], "--skip-int4 leaves out stage 2");
  for (const s of j.stages) assert.match(s.error, /tern serve exited before it was ready.*max_position_embeddings/s);
  assert.match(r.stdout, /\| 1\. BF16.* \| failed/);
});

test("--hf-baseline without a run of the workload's lengths is refused, naming the lengths", async () => {
  const scratch = scratchDir();
  const hfPath = path.join(scratch, "hf_static.json");
  fs.writeFileSync(hfPath, JSON.stringify({ runs: [{ input_len: 2048, output_len: 512, batch: 64, requests_per_min: 99,
    output_tokens_per_s: 850, ttft_ms: 9000, peak_gpu_memory_gib: 40 }] }));
  const r = await runTern(["bench", "ablation", "--model", demoModel, "--skip-int4", "--backend", "cpu",
    "--input-len", "24", "--output-len", "8", "--num-prompts", "2", "--hf-baseline", hfPath,
    "--log-dir", path.join(scratch, "logs")]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no run of 24-token prompts and 8 output tokens/);
});
