#!/usr/bin/env python3
"""How long greedy continuations agree: tern against HF transformers, and HF against itself.

    python3 tools/greedy_agreement.py --model DIR --tern-json FILE [--out FILE]

FILE holds `tern generate --json` lines (prompt_ids, token_ids), one per prompt. For every
prompt, HF transformers continues the same prompt ids greedily for as many tokens in three
numerical settings of the same weights: BF16 with sdpa attention (what tern is compared with
elsewhere), BF16 with eager attention (the same model, another attention kernel) and FP32
(the BF16 weights upcast, sdpa, TF32 off: the nearest thing to exact arithmetic). It reports
the length of the common prefix of every pair, and where a pair first differs, how far apart
FP32 scores the two tokens (a near-tie when that gap is small).

Why: on a random-weight model the next-token distribution is nearly flat, so two correct
BF16 implementations that round at different points pick different tokens at near-ties and
then continue from different texts. HF's own two attention kernels, or HF BF16 against FP32,
show how early that happens for any BF16 implementation; tern against FP32 says whether tern
is further from exact than HF's BF16 is.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_logprobs import tern_runs_cli  # noqa: E402


def prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def greedy(model, prompt_ids, new_tokens):
    ids = torch.tensor([prompt_ids], device="cuda")
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens, do_sample=False,
                         pad_token_id=0)
    return out[0, len(prompt_ids):].tolist()


def fp32_gap(model, prompt_ids, path, other):
    """FP32 logit of path's token minus other's at the first position where they differ."""
    n = prefix(path, other)
    if n >= min(len(path), len(other)):
        return None
    ids = torch.tensor([prompt_ids + path[:n]], device="cuda")
    with torch.no_grad():
        logits = model(ids).logits[0, -1].float()
    return float(logits[path[n]] - logits[other[n]])


def main():
    args, rows = tern_runs_cli(__doc__)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16).cuda().eval()
    model.generation_config.eos_token_id = None  # like `tern generate --ignore-eos`
    runs = [{"prompt_ids": r["prompt_ids"], "tern": r["token_ids"]} for r in rows]
    for impl in ("sdpa", "eager"):
        model.config._attn_implementation = impl
        for run in runs:
            run[f"hf_bf16_{impl}"] = greedy(model, run["prompt_ids"], len(run["tern"]))
    model.config._attn_implementation = "sdpa"
    model = model.float()
    for run in runs:
        run["hf_fp32"] = greedy(model, run["prompt_ids"], len(run["tern"]))
    pairs = [("tern", "hf_bf16_sdpa"), ("hf_bf16_eager", "hf_bf16_sdpa"), ("tern", "hf_fp32"),
             ("hf_bf16_sdpa", "hf_fp32"), ("hf_bf16_eager", "hf_fp32")]
    report = {"tokens": len(runs[0]["tern"]) if runs else 0, "pairs": {}, "prompts": []}
    for run in runs:
        item = {"prompt_ids": run["prompt_ids"], "agree": {}, "fp32_gap_at_split": {}}
        for a, b in pairs:
            key = f"{a} vs {b}"
            item["agree"][key] = prefix(run[a], run[b])
            item["fp32_gap_at_split"][key] = fp32_gap(model, run["prompt_ids"], run[b], run[a])
        item.update({name: run[name] for name in ("tern", "hf_bf16_sdpa", "hf_bf16_eager", "hf_fp32")})
        report["prompts"].append(item)
    for a, b in pairs:
        key = f"{a} vs {b}"
        lengths = [p["agree"][key] for p in report["prompts"]]
        report["pairs"][key] = {"agree_prefix": lengths, "mean": sum(lengths) / max(1, len(lengths))}
        print(f"{key:32s} agree for {lengths} tokens (mean {report['pairs'][key]['mean']:.1f}); FP32 gap where "
              f"they split: {[None if g is None else round(g, 3) for g in (p['fp32_gap_at_split'][key] for p in report['prompts'])]}")
    if args.out:
        json.dump(report, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
