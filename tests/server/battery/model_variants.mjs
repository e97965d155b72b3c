// Broken copies of the tiny test model for battery group E: each variant is a fresh
// folder with tiny-qwen2's files, one of them altered, and `tern serve` is expected to
// refuse it (or serve it safely).
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { binary, repoRoot, tinyModel } from "../helpers.mjs";

const made = [];
process.on("exit", () => { for (const dir of made) rmSync(dir, { recursive: true, force: true }); });

// A copy of tiny-qwen2 after `mutate(dir)`.
export function modelVariant(mutate) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tern-battery-model-"));
  made.push(dir);
  cpSync(tinyModel, dir, { recursive: true });
  mutate(dir);
  return dir;
}

export const readJson = (dir, file) => JSON.parse(readFileSync(path.join(dir, file), "utf8"));
export const writeJson = (dir, file, value) => writeFileSync(path.join(dir, file), JSON.stringify(value));

// model.safetensors split into its header (parsed) and data section.
export function readSafetensors(dir) {
  const bytes = readFileSync(path.join(dir, "model.safetensors"));
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")), data: bytes.subarray(8 + n) };
}

// Writes model.safetensors from a header (an object, or raw text) and a data section.
export function writeSafetensors(dir, header, data) {
  const text = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(path.join(dir, "model.safetensors"), Buffer.concat([length, text, data]));
}

// Runs `tern serve` on `dir` until it exits (or `timeoutMs`), polling /health the whole
// time, with `env` added to the environment. Resolves {code, log, ms, healthy}: healthy is
// whether /health ever said 200.
export function serveUntilExit(dir, args = [], { timeoutMs = 60000, env = {} } = {}) {
  return new Promise((resolve) => {
    const start = Date.now();
    const proc = spawn(binary, ["serve", "--model", dir, "--port", "0", "--threads", "1", ...args],
                       { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    let healthy = false;
    let port = null;
    proc.stdout.on("data", (d) => { log += d; });
    proc.stderr.on("data", (d) => {
      log += d;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(log);
      if (m) port = Number(m[1]);
    });
    const poll = setInterval(async () => {
      if (!port) return;
      const r = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
      if (r && r.status === 200) healthy = true;
    }, 20);
    const killer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    proc.on("exit", (code, signal) => {
      clearInterval(poll);
      clearTimeout(killer);
      resolve({ code, signal, log, ms: Date.now() - start, healthy });
    });
  });
}
