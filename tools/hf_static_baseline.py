#!/usr/bin/env python3
"""HF transformers baseline for the serving load sweep: static batches through generate().

Stage 0 of the source article: a batch of B requests of I prompt tokens starts together and
runs until all have O new tokens (min_new_tokens = max_new_tokens = O, so end-of-sequence does
not shorten it). Reported per (I, O, B), the numbers `tern bench sweep` reports at concurrency
B: requests/min, output tokens/s, time to first token (every request of a static batch gets
its first token when the batch's prefill ends) and peak GPU memory. Runs on the GPU machine:

    python3 tools/hf_static_baseline.py --model-dir /tmp/qwen7b --out hf_static.json \\
        --runs 2048x512x32,2048x512x64,1024x1024x64
"""
import argparse
import json
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", default="2048x512x32,2048x512x64,1024x1024x64",
                    help="comma-separated INPUTxOUTPUTxBATCH")
    args = ap.parse_args()
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.bfloat16).cuda()
    model.config._attn_implementation = "sdpa"
    model.eval()
    model.generation_config.eos_token_id = None
    vocab = model.config.vocab_size
    g = torch.Generator(device="cpu").manual_seed(3)
    results = []
    out = {"engine": "transformers generate() static batches", "transformers": __import__("transformers").__version__,
           "torch": torch.__version__, "gpu": torch.cuda.get_device_name(), "runs": results}
    with torch.no_grad():
        for spec in args.runs.split(","):
            i, o, b = (int(v) for v in spec.split("x"))
            ids = torch.randint(0, vocab, (b, i), generator=g).cuda()
            mask = torch.ones_like(ids)

            def run(new_tokens):
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                               do_sample=False, pad_token_id=0)
                torch.cuda.synchronize()
                return time.perf_counter() - t0

            run(1)  # warm-up
            torch.cuda.reset_peak_memory_stats()
            ttft = run(1)
            wall = run(o)
            row = {"input_len": i, "output_len": o, "batch": b, "duration_s": wall,
                   "requests_per_min": 60.0 * b / wall, "output_tokens_per_s": b * o / wall,
                   "ttft_ms": 1000.0 * ttft, "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30}
            print(json.dumps(row), flush=True)
            results.append(row)
            with open(args.out, "w") as f:  # after every run, so a run cut short keeps the earlier ones
                json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
