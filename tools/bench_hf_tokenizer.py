#!/usr/bin/env python3
"""HF `tokenizers` encode throughput on the text bench/tokenizer_bench.cpp uses, for comparison.

    python3 tools/bench_hf_tokenizer.py [--seconds 3] [--json bench/results/tokenizer_hf.json]

Encodes tests/data/tokenizer/bench_corpus.txt with tests/data/tokenizers/qwen2.5 on one thread:
the whole corpus in one call (BM_EncodeCorpus) and paragraph by paragraph (BM_EncodeParagraphs,
threads:1), plus encode_batch over the paragraphs on all cores for reference. Prints MB/s
(10^6 bytes, as Google Benchmark's "M/s" is 2^20: multiply ours by 1.048576 to compare), and the
id count and FNV-1a checksum of the whole-corpus ids, which must equal the BM_EncodeCorpus label.
"""
import argparse
import json
import os
import time

import tokenizers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(REPO, "tests", "data", "tokenizer", "bench_corpus.txt")
TOKENIZER = os.path.join(REPO, "tests", "data", "tokenizers", "qwen2.5", "tokenizer.json")


def checksum(ids):
    value = 1469598103934665603
    for token_id in ids:
        value = ((value ^ token_id) * 1099511628211) % (1 << 64)
    return value


def paragraphs(text):
    parts, start = [], 0
    while start < len(text):
        end = text.find("\n\n", start)
        end = len(text) if end < 0 else end + 2
        parts.append(text[start:end])
        start = end
    return parts


def throughput(fn, nbytes, seconds):
    fn()  # warm the BPE cache, as the C++ benchmark's repeated iterations do
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        runs += 1
    elapsed = time.perf_counter() - start
    return nbytes * runs / elapsed / 1e6, elapsed / runs * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    with open(CORPUS, encoding="utf-8") as f:
        text = f.read()
    nbytes = len(text.encode("utf-8"))
    parts = paragraphs(text)
    tok = tokenizers.Tokenizer.from_file(TOKENIZER)
    ids = tok.encode(text).ids

    results = {"tokenizers_version": tokenizers.__version__, "corpus_bytes": nbytes, "ids": len(ids),
               "checksum": checksum(ids)}
    single = lambda: tok.encode(text)
    per_paragraph = lambda: [tok.encode(p) for p in parts]
    batch = lambda: tok.encode_batch(parts)
    for name, fn in (("encode_corpus", single), ("encode_paragraphs", per_paragraph),
                     ("encode_batch_paragraphs_all_cores", batch)):
        mb_per_s, ms = throughput(fn, nbytes, args.seconds)
        results[name] = {"MB_per_s": round(mb_per_s, 2), "ms_per_corpus": round(ms, 2)}
        print(f"{name:36s} {mb_per_s:8.2f} MB/s  {ms:8.2f} ms per corpus")
    print(f"ids={len(ids)} checksum={results['checksum']}  (tokenizers {tokenizers.__version__}, "
          f"{nbytes} bytes, {len(parts)} paragraphs)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
