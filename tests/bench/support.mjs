// Running `tern bench ...` from the tests, and a scratch folder removed at exit.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { binary, repoRoot } from "../server/helpers.mjs";

export const demoModel = path.join(repoRoot, "models/tern-demo");

export function scratchDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tern-bench-test-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Runs the binary with `args`; resolves {code, stdout, stderr, seconds}. Kills it (and
// fails) after timeoutMs, so a hang is a failure rather than a stuck test.
export function runTern(args, { timeoutMs = 180000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const proc = spawn(binary, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => { stdout += d; });
    proc.stderr.on("data", (d) => { stderr += d; });
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`tern ${args.join(" ")} did not finish in ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    proc.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? 128 : code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

export function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}
