#!/usr/bin/env python3
"""The GPU-only cases of the reliability battery (docs/reliability.md), against `tern serve`
on the CUDA backend with a real-sized model. Standard library only (plus torch for H2b,
which holds GPU memory from another process).

  H2a  --gpu-memory-utilization too low for one max_model_len sequence: exit 1 < 60 s with
       the needed and available KV memory and a max_model_len that fits; /health never 200.
  H2b  another process holds most of the GPU: the same, fast.
  H3   a model step fails on the GPU (test hooks: fail_step): every in-flight request gets
       an error, /health turns 503 within 5 s, SIGTERM exits 0 and the GPU memory is freed.
  F2b  a client leaves during the prefill of a 32k-token prompt: the request is dropped
       within one scheduler step (time to running == 0 reported, 10 tries).
  I1b  greedy output alone vs inside a batch of 32 sampled requests: the divergence rate
       on the CUDA backend (reported; vLLM documents the same kind of number).

  tools/gpu_battery.py --tern build-gpu-hooks/src/app/tern --model /models/Qwen2.5-7B-Instruct \
      [--out gpu-battery.json] [--backend cuda]

--tern must be a build with -DTERN_TEST_HOOKS=ON for H3 (the other cases need no hooks).
Exits 1 if a checked case fails; the JSON report holds every measurement.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """tern serve in the background; its stderr collected."""

    def __init__(self, tern, model, args, env=None):
        self.port = free_port()
        self.log = []
        self.proc = subprocess.Popen(
            [tern, "serve", "--model", model, "--port", str(self.port), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.healthy_seen = False

    def _read(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def text(self):
        return "".join(self.log)

    def request(self, method, path, body=None, timeout=600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, data

    def health(self):
        try:
            status, _ = self.request("GET", "/health", timeout=5)
        except OSError:
            return None
        if status == 200:
            self.healthy_seen = True
        return status

    def wait_ready(self, timeout=900):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.health() == 200:
                return True
            time.sleep(0.2)
        return False

    def metrics(self):
        _, data = self.request("GET", "/metrics", timeout=10)
        values = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def gpu_used_mib():
    """Memory in use on GPU 0, or -1 without nvidia-smi (a CPU dry run)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True).stdout
    except OSError:
        return -1
    return int(out.split()[0]) if out.strip() else -1


def fails_fast(tern, model, args, report, key, pattern, env=None):
    start = time.time()
    s = Server(tern, model, args, env)
    while s.proc.poll() is None and time.time() - start < 120:
        s.health()
        time.sleep(0.1)
    code = s.stop(5) if s.proc.poll() is None else s.proc.returncode
    took = time.time() - start
    errors = [line for line in s.log if " ERROR " in line]
    ok = code == 1 and took < 60 and not s.healthy_seen and len(errors) == 1 and re.search(pattern, errors[0])
    report[key] = {"ok": bool(ok), "exit": code, "seconds": round(took, 1), "healthy_seen": s.healthy_seen,
                   "error": errors[0].strip() if errors else s.text()[-500:]}
    return ok


def case_h2(a, report):
    ok = fails_fast(a.tern, a.model, ["--backend", a.backend, "--gpu-memory-utilization", "0.06"], report, "H2a",
                    r"not enough memory for the KV cache.*Use --max-model-len \d+|Free memory")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import torch, sys, time\n"
        "free, total = torch.cuda.mem_get_info()\n"
        "x = torch.empty(free - (3 << 30), dtype=torch.uint8, device='cuda')\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    try:
        if holder.stdout.readline().strip() != "held":
            report["H2b"] = {"ok": False, "error": "could not hold GPU memory with torch"}
            return False
        ok = fails_fast(a.tern, a.model, ["--backend", a.backend], report, "H2b",
                        r"not enough memory|out of memory|cannot allocate") and ok
    finally:
        holder.kill()
        holder.wait()
    return ok


def stream(server, body, results, index):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        conn.request("POST", "/v1/completions", body=json.dumps({**body, "stream": True}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        results[index] = (r.status, r.read().decode(errors="replace"))
        conn.close()
    except OSError as e:
        results[index] = (None, str(e))


def case_h3(a, report):
    before = gpu_used_mib()
    tokens = min(2000, int(a.max_model_len) - 32)  # each stream's length; the step fails halfway
    s = Server(a.tern, a.model, ["--backend", a.backend, "--max-model-len", a.max_model_len],
               {"TERN_TEST_HOOKS": f"fail_step={tokens // 2}"})
    if not s.wait_ready():
        report["H3"] = {"ok": False, "error": s.text()[-1500:]}
        s.stop()
        return False
    results = [None] * 4
    threads = [threading.Thread(target=stream, args=(s, {"prompt": "Tell a long story", "max_tokens": tokens,
                                                         "ignore_eos": True}, results, i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed_at = time.time()
    errors = sum(1 for status, text in results if status == 500 or '"engine_failed"' in (text or ""))
    health_503 = None
    while time.time() - failed_at < 5:
        if s.health() == 503:
            health_503 = round(time.time() - failed_at, 2)
            break
        time.sleep(0.05)
    code = s.stop()
    time.sleep(2)
    after = gpu_used_mib()
    ok = errors == 4 and health_503 is not None and code == 0 and after <= before + 64
    report["H3"] = {"ok": bool(ok), "requests_with_error": errors, "health_503_after_s": health_503, "exit": code,
                    "gpu_used_mib_before": before, "gpu_used_mib_after_exit": after}
    return ok


def case_f2b(a, report, server):
    tokens = min(32000, int(a.max_model_len) - 16)
    times = []
    for attempt in range(10):
        prompt = [(attempt * 7919 + i * 31) % 900 + 100 for i in range(tokens)]  # ids every vocabulary has
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        conn.request("POST", "/v1/completions",
                     body=json.dumps({"prompt": prompt, "max_tokens": 4, "stream": True}),
                     headers={"Content-Type": "application/json"})
        deadline = time.time() + 30
        while server.metrics()["tern_requests_running"] < 1 and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(0.1)  # inside the prefill of 32k tokens
        generated = server.metrics()["tern_generation_tokens_total"]
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        start = time.time()
        while server.metrics()["tern_requests_running"] > 0 and time.time() - start < 10:
            time.sleep(0.002)
        times.append(time.time() - start)
        if server.metrics()["tern_generation_tokens_total"] != generated:
            report["F2b"] = {"ok": False, "error": "a token was generated after the disconnect"}
            return False
    times.sort()
    ok = times[-1] < 1.0
    report["F2b"] = {"ok": ok, "prompt_tokens": tokens, "abort_seconds_p50": round(times[len(times) // 2], 3),
                     "abort_seconds_max": round(times[-1], 3), "target_p99_s": 0.1}
    return ok


def case_i1b(a, report, server):
    prompts = [f"Batch invariance probe {i}: explain item {i * 7} in detail." for i in range(16)]
    greedy = lambda p: {"prompt": p, "max_tokens": 64, "temperature": 0, "ignore_eos": True}
    alone = [json.loads(server.request("POST", "/v1/completions", greedy(p))[1])["choices"][0]["text"] for p in prompts]
    results = [None] * (len(prompts) + 32)

    def run(i, body):
        status, data = server.request("POST", "/v1/completions", body)
        results[i] = json.loads(data)["choices"][0]["text"] if status == 200 else None

    threads = [threading.Thread(target=run, args=(i, greedy(p))) for i, p in enumerate(prompts)]
    threads += [threading.Thread(target=run, args=(len(prompts) + j, {
        "prompt": f"Noise {j} " + "word " * (j * 5), "max_tokens": 64, "temperature": 1, "seed": j}))
        for j in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    diverged = sum(1 for i in range(len(prompts)) if results[i] != alone[i])
    report["I1b"] = {"ok": True, "greedy_prompts": len(prompts), "diverged_in_batch": diverged,
                     "divergence_rate": diverged / len(prompts)}
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tern", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--backend", default="cuda")
    p.add_argument("--out", default="gpu-battery.json")
    p.add_argument("--cases", default="H2,H3,F2b,I1b", help="comma-separated subset")
    p.add_argument("--max-model-len", default="32768", help="for F2b and I1b (F2b sends 32000 tokens)")
    a = p.parse_args()
    cases = set(a.cases.split(","))
    report = {}
    ok = True
    if "H2" in cases:
        ok = case_h2(a, report) and ok
    if "H3" in cases:
        ok = case_h3(a, report) and ok
    server = Server(a.tern, a.model, ["--backend", a.backend, "--max-model-len", a.max_model_len])
    if server.wait_ready():
        if "F2b" in cases:
            ok = case_f2b(a, report, server) and ok
        if "I1b" in cases:
            ok = case_i1b(a, report, server) and ok
        bad = re.findall(r".*(?:AddressSanitizer|runtime error:|CUDA error|terminate called).*", server.text())
        report["G-INV-3"] = {"ok": not bad, "lines": bad[:5]}
        ok = ok and not bad
    else:
        report["server"] = {"ok": False, "error": server.text()[-1500:]}
        ok = False
    report["exit_code"] = server.stop()
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    for key, value in report.items():
        if isinstance(value, dict):
            print(f"{key}: {'ok' if value.get('ok') else 'FAIL'} {json.dumps({k: v for k, v in value.items() if k != 'ok'})}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
