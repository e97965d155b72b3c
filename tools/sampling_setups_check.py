"""Sends a running `tern serve` three short completions per sampling setup (temperature 1
with no top-k, greedy, top-k 20, the model's defaults), each without and with a JSON schema
(response_format), and prints each one's finish reason and first characters, or its error.
Greedy lines must be identical across the three seeds and match between a server with CUDA
graphs and one with --enforce-eager (scripts/gpu-graph-check.sh compares them).

    python3 tools/sampling_setups_check.py PORT SCHEMA_FILE [WORDS]

WORDS (default 200) sets the prompt length: "word0 is number 0. word1 ..." (about 10 tokens
a word with the Qwen2.5 tokenizer)."""
import json, sys, urllib.request
port, schema_path = sys.argv[1], sys.argv[2]
words = int(sys.argv[3]) if len(sys.argv) > 3 else 200
base = f"http://127.0.0.1:{port}"
model = json.load(urllib.request.urlopen(base + "/v1/models"))["data"][0]["id"]
schema = json.load(open(schema_path))
prompt = " ".join(f"word{i} is number {i}." for i in range(words))
rf = {"type": "json_schema", "json_schema": {"name": "nested", "schema": schema}}
setups = {
    "T1-full": {"temperature": 1.0, "top_k": -1, "repetition_penalty": 1.0},
    "greedy": {"temperature": 0.0},
    "T1-top20": {"temperature": 1.0, "top_k": 20, "repetition_penalty": 1.0},
    "defaults": {},
}
for name, params in setups.items():
    for constrained in (False, True):
        results = []
        for seed in range(3):
            body = {"model": model, "prompt": prompt, "max_tokens": 48, "seed": seed, **params}
            if constrained: body["response_format"] = rf
            req = urllib.request.Request(base + "/v1/completions", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                r = json.load(urllib.request.urlopen(req, timeout=60))
                results.append(r["choices"][0]["finish_reason"] + ":" + repr(r["choices"][0]["text"][:24]))
            except urllib.error.HTTPError as e:
                results.append(f"HTTP {e.code}: {e.read().decode()[:160]}")
            except Exception as e:
                results.append(f"{type(e).__name__}: {str(e)[:120]}")
        print(f"{name:10s} {'json' if constrained else 'free'}: " + " | ".join(results), flush=True)
