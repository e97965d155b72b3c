// The soak (battery J1; the long form of G3): `tern serve` under the G3 traffic mix for a
// fixed time, sampled every 10 s, then a report:
//   memory   RssAnon + VmSwap (not RSS: file-backed pages of the mapped weights come and
//            go), as growth per hour after the warm-up, from a least-squares fit;
//   flat     open file descriptors and threads after the warm-up (their floor must not rise);
//   idle     KV free blocks, running and waiting back to baseline when the load stops;
//   load     every request terminal, no unexpected status, throughput in the last tenth
//            of the run against the first tenth after the warm-up.
// Run it through scripts/soak.sh; it exits 1 when a limit is broken.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { metrics, startServer, tinyModel } from "../helpers.mjs";
import { percentile, runMix } from "./load_mix.mjs";

const { values: opt } = parseArgs({ options: {
  minutes: { type: "string", default: "60" },
  "warmup-minutes": { type: "string" },
  rate: { type: "string", default: "6" },
  "max-tokens": { type: "string", default: "64" },
  "max-prompt-words": { type: "string", default: "100" },
  model: { type: "string", default: tinyModel },
  out: { type: "string", default: "soak-report.json" },
  "max-growth-percent-per-hour": { type: "string", default: "1" },
  "server-arg": { type: "string", multiple: true, default: [] },
} });
const minutes = Number(opt.minutes);
const warmup = Number(opt["warmup-minutes"] ?? Math.min(30, minutes / 2));
const sampleMs = 10000;

const server = await startServer(["--max-num-seqs", "16", ...opt["server-arg"]],
                                 { model: opt.model, chatTemplate: opt.model === tinyModel ? undefined : null });
const pid = server.proc.pid;
const base = await metrics(server.url);

function sample(completed) {
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { t: Date.now(), anonKb: kb("RssAnon") + kb("VmSwap"), rssKb: kb("VmRSS"),
           threads: Number(/Threads:\s+(\d+)/.exec(status)[1]), fds: readdirSync(`/proc/${pid}/fd`).length, completed };
}

const samples = [];
let stats = null;
const start = Date.now();
samples.push(sample(0));
const timer = setInterval(() => {
  samples.push(sample(stats ? stats.completed : 0));
  const last = samples.at(-1);
  console.log(`${((last.t - start) / 60000).toFixed(1)} min: RssAnon+VmSwap ${(last.anonKb / 1024).toFixed(1)} MiB, ` +
              `${last.fds} fds, ${last.threads} threads, ${last.completed} completed`);
}, sampleMs);
stats = await runMix(server.url, { durationMs: minutes * 60000, rate: Number(opt.rate),
                                   maxTokens: Number(opt["max-tokens"]), maxPromptWords: Number(opt["max-prompt-words"]), seed: 7, onProgress: (s) => { stats = s; } });
clearInterval(timer);
samples.push({ ...sample(stats.completed), final: true });  // after the last response: memory only

// Idle: gauges back to baseline within 1 s of the last response.
let idle = false;
for (const deadline = Date.now() + 1000; Date.now() < deadline && !idle;) {
  const m = await metrics(server.url);
  idle = m.tern_kv_cache_blocks_free === base.tern_kv_cache_blocks_free && m.tern_requests_running === 0 &&
         m.tern_requests_waiting === 0;
}
const { code } = await server.stop();

const steady = samples.filter((s) => s.t - start >= warmup * 60000);
const hours = (s) => (s.t - start) / 3600000;
let growthPerHour = 0;
if (steady.length >= 2) {
  const mx = steady.reduce((a, s) => a + hours(s), 0) / steady.length;
  const my = steady.reduce((a, s) => a + s.anonKb, 0) / steady.length;
  const slope = steady.reduce((a, s) => a + (hours(s) - mx) * (s.anonKb - my), 0) /
                steady.reduce((a, s) => a + (hours(s) - mx) ** 2, 0);
  growthPerHour = 100 * slope / my;
}
const rateBetween = (a, b) => (b.completed - a.completed) / ((b.t - a.t) / 1000);
const tenth = Math.max(1, Math.floor(steady.length / 10));
const loaded = steady.filter((s) => !s.final);
// Open connections come and go with the load: a leak shows as the floor rising, so the
// lowest count of the last tenth is compared with the lowest of the first.
const drift = (key) => steady.length > 2 * tenth
  ? Math.min(...steady.slice(-tenth).map((s) => s[key])) - Math.min(...steady.slice(0, tenth).map((s) => s[key])) : 0;
const early = loaded.length > 2 * tenth ? rateBetween(loaded[0], loaded[tenth]) : 0;
const late = loaded.length > 2 * tenth ? rateBetween(loaded.at(-1 - tenth), loaded.at(-1)) : 0;
const report = {
  minutes, warmup_minutes: warmup, rate_per_s: Number(opt.rate),
  requests: { sent: stats.sent, completed: stats.completed, cancelled: stats.cancelled, invalid: stats.invalid,
              disconnected: stats.disconnected, failures: stats.failures.slice(0, 20), failure_count: stats.failures.length },
  ttft_p99_ms: percentile(stats.ttft, 0.99), itl_p99_ms: percentile(stats.itl, 0.99),
  memory: { anon_mib_first: samples[0].anonKb / 1024, anon_mib_last: samples.at(-1).anonKb / 1024,
            growth_percent_per_hour: growthPerHour },
  fds_drift: drift("fds"), threads_drift: drift("threads"),
  throughput: { early_per_s: early, late_per_s: late }, idle_gauges_back: idle, exit_code: code, samples,
};
writeFileSync(opt.out, JSON.stringify(report, null, 1));

const problems = [];
if (stats.failures.length) problems.push(`${stats.failures.length} failed requests (first: ${stats.failures[0]})`);
if (stats.completed + stats.cancelled + stats.invalid + stats.disconnected !== stats.sent) problems.push("orphaned requests");
if (steady.length >= 2 && growthPerHour >= Number(opt["max-growth-percent-per-hour"])) {
  problems.push(`RssAnon+VmSwap grows ${growthPerHour.toFixed(2)} %/h`);
}
if (drift("fds") > 2) problems.push(`the floor of open fds rose by ${drift("fds")}`);
if (drift("threads") > 0) problems.push(`the floor of threads rose by ${drift("threads")}`);
if (!idle) problems.push("gauges not back to baseline when idle");
if (late && early && late < 0.95 * early) problems.push(`throughput fell from ${early.toFixed(2)}/s to ${late.toFixed(2)}/s`);
if (code !== 0) problems.push(`server exit status ${code}`);
console.log(`soak: ${minutes} min, ${stats.sent} requests (${stats.completed} completed), memory growth ` +
            `${growthPerHour.toFixed(3)} %/h after a ${warmup}-min warm-up, fds drift ${drift("fds")}, ` +
            `threads drift ${drift("threads")}, throughput ${early.toFixed(2)} -> ${late.toFixed(2)} req/s; report ${opt.out}`);
for (const p of problems) console.log("FAIL: " + p);
process.exit(problems.length ? 1 : 0);
