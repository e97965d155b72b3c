#!/usr/bin/env python3
"""Merges `tern bench engine --suite --tensor-parallel-size N --json FILE` results into one file.

    python3 tools/merge_tp_results.py --gpu NAME --commit SHA --out-dir DIR tp_bench_1.json tp_bench_2.json ...

Writes DIR/<gpu>-<yyyymmdd>-tp.json: {gpu, date, commit, weights, command, results: [...]}, each result
the BF16 results keys of one run plus `tensor_parallel_size`, and prints the TP=N / TP=1 ratios of
batch-1 and batch-64 decode and of the 2048-token time to first token. scripts/gpu-tp.sh calls it.
"""
import argparse
import datetime
import json
import os
import re


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    results = []
    for path in args.files:
        size = int(re.search(r"tp_bench_(\d+)\.json$", path).group(1))
        with open(path) as f:
            run = json.load(f)
        run["tensor_parallel_size"] = size
        results.append(run)
    results.sort(key=lambda r: r["tensor_parallel_size"])
    date = datetime.datetime.now(datetime.timezone.utc)
    slug = re.sub(r"[^a-z0-9]+", "-", args.gpu.lower().replace("nvidia", "")).strip("-").split("-")[0]
    out = {"gpu": args.gpu, "date": date.strftime("%Y-%m-%d"), "commit": args.commit, "weights": "bf16",
           "command": "scripts/gpu-tp.sh (tern bench engine --suite --backend cuda --model <random Qwen2.5-7B-shaped> "
                      "--max-model-len 4096 --tensor-parallel-size N)",
           "results": results}
    path = os.path.join(args.out_dir, f"{slug}-{date.strftime('%Y%m%d')}-tp.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {path}")
    base = next((r for r in results if r["tensor_parallel_size"] == 1), None)
    for r in results:
        b64 = r.get("decode_tokens_per_s_by_batch", {}).get("64")
        line = (f"TP={r['tensor_parallel_size']}: decode b1 {r.get('decode_b1_tokens_per_s', 0):.1f} tok/s, "
                f"b64 {b64 or 0:.0f} tok/s, TTFT 2048 {r.get('ttft_2048_ms', 0):.1f} ms, "
                f"KV tokens {r.get('kv_tokens_resident')}")
        if base and r is not base:
            ratio = lambda k: r.get(k, 0) / base[k] if base.get(k) else float("nan")
            b64_base = base.get("decode_tokens_per_s_by_batch", {}).get("64")
            line += (f" | vs TP=1: b1 x{ratio('decode_b1_tokens_per_s'):.2f}, "
                     f"b64 x{(b64 / b64_base) if b64 and b64_base else float('nan'):.2f}, "
                     f"TTFT x{ratio('ttft_2048_ms'):.2f}")
        print(line)


if __name__ == "__main__":
    main()
