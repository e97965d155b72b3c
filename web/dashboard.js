// tern's live dashboard: polls /metrics every second and plots the last five minutes.
// Percentiles come from the Prometheus histograms the way histogram_quantile computes
// them: the bucket counts' growth over the last 10 s, linearly interpolated in a bucket.
"use strict";

const $ = (id) => document.getElementById(id);
const pollMs = 1000;
const historyMs = 5 * 60 * 1000;
const percentileWindowMs = 10 * 1000;
const colors = ["#2563eb", "#d97706", "#dc2626"];

// The chat page's settings hold the API key too, so a key entered on either page serves both.
const settingsKey = "tern-chat-settings";

function loadKey() {
  try {
    const saved = JSON.parse(localStorage.getItem(settingsKey) || "{}");
    if (typeof saved["api-key"] === "string") $("api-key").value = saved["api-key"];
  } catch (_) { /* unreadable settings: no key */ }
}

function saveKey() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(settingsKey) || "{}"); } catch (_) { /* start afresh */ }
  saved["api-key"] = $("api-key").value;
  localStorage.setItem(settingsKey, JSON.stringify(saved));
}

// Prometheus text format -> {scalars: Map("name{labels}" -> value), buckets: Map(name -> [[le, count]])}.
function parseMetrics(text) {
  const scalars = new Map();
  const buckets = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (m[1].endsWith("_bucket")) {
      const le = /le="([^"]+)"/.exec(m[2] || "");
      if (!le) continue;
      const name = m[1].slice(0, -"_bucket".length);
      if (!buckets.has(name)) buckets.set(name, []);
      buckets.get(name).push([le[1] === "+Inf" ? Infinity : Number(le[1]), value]);
    } else {
      scalars.set(m[1] + (m[2] || ""), value);
    }
  }
  for (const list of buckets.values()) list.sort((a, b) => a[0] - b[0]);
  return { scalars, buckets };
}

// The q-quantile of the observations between two snapshots of one histogram, or null
// when none were made.
function quantile(q, now, before) {
  if (!now || !before || now.length !== before.length) return null;
  const delta = now.map(([le, count], i) => [le, count - before[i][1]]);
  const total = delta[delta.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of delta) {
    if (count >= rank) {
      if (le === Infinity) return lower;  // past the last finite bucket: its bound, as Prometheus does
      return lower + (le - lower) * (count > below ? (rank - below) / (count - below) : 1);
    }
    lower = le;
    below = count;
  }
  return null;
}

// Per-second growth of a counter between two samples.
function rate(name, now, before) {
  if (!before) return null;
  const d = now.scalars.get(name) - before.scalars.get(name);
  const seconds = (now.time - before.time) / 1000;
  return Number.isFinite(d) && d >= 0 && seconds > 0 ? d / seconds : null;
}

const samples = [];  // {time, scalars, buckets}, oldest first
const points = [];   // {time, ...derived values}, oldest first

// The newest sample at least `ms` older than `now`, else the oldest; null for none but `now`.
function sampleBefore(now, ms) {
  let found = samples[0];
  for (const s of samples) {
    if (now.time - s.time < ms) break;
    found = s;
  }
  return found === now ? null : found;
}

function derive(now) {
  const prev = samples.length > 1 ? samples[samples.length - 2] : null;
  const windowStart = sampleBefore(now, percentileWindowMs);
  const hist = (name, q) => quantile(q, now.buckets.get(name), windowStart?.buckets.get(name));
  const g = (name) => now.scalars.get(name) ?? null;
  const total = g("tern_kv_cache_blocks_total");
  const free = g("tern_kv_cache_blocks_free");
  return {
    time: now.time,
    ttft: [0.5, 0.95, 0.99].map((q) => hist("tern_time_to_first_token_seconds", q)),
    itl: [0.5, 0.95, 0.99].map((q) => hist("tern_inter_token_latency_seconds", q)),
    throughput: [rate("tern_generation_tokens_total", now, prev), rate("tern_prompt_tokens_total", now, prev)],
    requests: [g("tern_requests_running"), g("tern_requests_waiting")],
    kv: [total !== null && free !== null ? total - free : null],
    kvTotal: total,
    memory: [g("tern_device_memory_used_bytes"), g("tern_memory_peak_bytes")],
    memoryTotal: g("tern_device_memory_total_bytes"),
    loaded: g("tern_model_loaded"),
    healthy: g("tern_engine_healthy"),
  };
}

const fmt = {
  ms: (s) => s === null ? "–" : (s * 1000 < 10 ? (s * 1000).toFixed(2) : (s * 1000).toFixed(0)) + " ms",
  rate: (v) => v === null ? "–" : v.toFixed(v < 10 ? 1 : 0) + " tok/s",
  count: (v) => v === null ? "–" : String(Math.round(v)),
  bytes: (v) => {
    if (v === null) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
  },
};

// chart id -> [the point's field, the formatter of its axis label]
const charts = {
  "chart-ttft": ["ttft", fmt.ms],
  "chart-itl": ["itl", fmt.ms],
  "chart-throughput": ["throughput", fmt.rate],
  "chart-requests": ["requests", fmt.count],
  "chart-kv": ["kv", fmt.count],
  "chart-memory": ["memory", fmt.bytes],
};

function draw(canvas, field, format) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const end = points.length ? points[points.length - 1].time : Date.now();
  const start = end - historyMs;
  let max = 0;
  for (const p of points) for (const v of p[field]) if (v !== null && v > max) max = v;
  // KV and memory are drawn against their capacity, so a full pool reaches the top.
  const last = points.length ? points[points.length - 1] : null;
  if (field === "kv" && last && last.kvTotal) max = last.kvTotal;
  if (field === "memory" && last && last.memoryTotal) max = last.memoryTotal;
  if (max <= 0) max = 1;
  const top = 14;
  const bottom = height - 14;
  const x = (t) => ((t - start) / historyMs) * width;
  const y = (v) => bottom - (v / max) * (bottom - top);
  ctx.strokeStyle = "#d9dde3";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, top + 0.5); ctx.lineTo(width, top + 0.5);
  ctx.moveTo(0, bottom + 0.5); ctx.lineTo(width, bottom + 0.5);
  ctx.stroke();
  ctx.fillStyle = "#6b7280";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  ctx.fillText(format(max), 2, top - 1);
  ctx.textBaseline = "top";
  ctx.fillText("−5 min", 2, bottom + 1);
  ctx.textAlign = "right";
  ctx.fillText("now", width - 2, bottom + 1);
  ctx.textAlign = "left";
  const series = points.length ? points[points.length - 1][field].length : 0;
  for (let s = 0; s < series; s++) {
    ctx.strokeStyle = colors[s];
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let drawing = false;
    for (const p of points) {
      const v = p[field][s];
      if (v === null) { drawing = false; continue; }  // no data: a gap, not a zero
      if (drawing) ctx.lineTo(x(p.time), y(v)); else ctx.moveTo(x(p.time), y(v));
      drawing = true;
    }
    ctx.stroke();
  }
}

function show(p) {
  ["p50", "p95", "p99"].forEach((name, i) => {
    $("ttft-" + name).textContent = fmt.ms(p.ttft[i]);
    $("itl-" + name).textContent = fmt.ms(p.itl[i]);
  });
  $("output-tps").textContent = fmt.rate(p.throughput[0]);
  $("prompt-tps").textContent = fmt.rate(p.throughput[1]);
  $("running").textContent = fmt.count(p.requests[0]);
  $("waiting").textContent = fmt.count(p.requests[1]);
  $("kv-used").textContent = fmt.count(p.kv[0]);
  $("kv-total").textContent = fmt.count(p.kvTotal);
  $("device-memory").textContent = fmt.bytes(p.memory[0]);
  $("memory-peak").textContent = fmt.bytes(p.memory[1]);
  $("memory-total").textContent = fmt.bytes(p.memoryTotal);
  $("status").textContent = p.loaded !== 1 ? "loading the model…" : p.healthy !== 1 ? "engine failed" : "live";
  drawAll();
}

function drawAll() {
  for (const [id, [field, format]] of Object.entries(charts)) draw($(id), field, format);
}

async function poll() {
  try {
    const headers = {};
    const key = $("api-key").value.trim();
    if (key) headers.Authorization = "Bearer " + key;
    const response = await fetch("/metrics", { headers, cache: "no-store" });
    if (response.status === 401) {
      $("status").textContent = "this server needs an API key: enter it under Settings";
      $("settings").open = true;
      return;
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    const sample = { time: Date.now(), ...parseMetrics(await response.text()) };
    // A counter that went down means the server restarted: its history no longer adds up.
    const last = samples[samples.length - 1];
    if (last && sample.scalars.get("tern_generation_tokens_total") < last.scalars.get("tern_generation_tokens_total")) {
      samples.length = 0;
    }
    samples.push(sample);
    while (samples.length && sample.time - samples[0].time > historyMs + percentileWindowMs) samples.shift();
    const point = derive(sample);
    points.push(point);
    while (points.length && point.time - points[0].time > historyMs) points.shift();
    show(point);
  } catch (e) {
    $("status").textContent = "metrics unavailable: " + e.message;
  } finally {
    setTimeout(poll, pollMs);
  }
}

function init() {
  loadKey();
  $("api-key").addEventListener("change", saveKey);
  window.addEventListener("resize", drawAll);
  poll();
}

init();
