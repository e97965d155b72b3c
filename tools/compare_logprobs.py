#!/usr/bin/env python3
"""Teacher-forced comparison of tern's token logprobs with HF transformers on the same model.

    python3 tools/compare_logprobs.py --model DIR --tern-json FILE [--out FILE]

FILE holds `tern generate --json --logprobs N` lines (one per prompt). HF runs prompt + tern's
tokens through the model once (bf16, sdpa) and, at every generated position, compares tern's
logprob of its chosen token and of its top-N alternatives with HF's log-softmax, and checks
whether HF's own argmax is tern's token (else how far below HF's top-1 tern's token was).

An INT4 checkpoint (GPTQ/AWQ, as `tern quantize` writes) is dequantised in torch first by
tools/quant_reference.py's own unpacking, independent of tern, and then run dense in bf16.
An FP8 checkpoint likewise, with each projection's input passed through torch.float8_e4m3fn
as its activation scheme says (PyTorch's own FP8 emulation with the checkpoint's scales).
"""
import argparse
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def load_dense(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if "quantization_config" not in cfg:
        return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, attn_implementation="sdpa").cuda()
    from transformers import AutoConfig
    from quant_reference import add_fp8_input_hooks, dense_state_dict
    config = AutoConfig.from_pretrained(model_dir)
    del config.quantization_config
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.bfloat16)
    state, fp8_inputs = dense_state_dict(model_dir, cfg["quantization_config"], cfg)
    model.load_state_dict(state, strict=not cfg.get("tie_word_embeddings"))
    if cfg.get("tie_word_embeddings"):
        model.tie_weights()
    add_fp8_input_hooks(model, fp8_inputs)
    return model.eval()


def tern_runs_cli(doc):
    """--model DIR --tern-json FILE [--out FILE]: the arguments and FILE's `tern generate
    --json` lines (one object per prompt), for the tools that check tern's output with HF."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tern-json", required=True)
    ap.add_argument("--out")
    args = ap.parse_args()
    with open(args.tern_json) as f:
        return args, [json.loads(line) for line in f if line.strip()]


def main():
    args, rows = tern_runs_cli(__doc__)
    model = load_dense(args.model)
    model.eval()
    report = []
    for r in rows:
        ids = r["prompt_ids"] + r["token_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ids], device="cuda")).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        n = len(r["prompt_ids"])
        max_diff, argmax_same, gaps = 0.0, 0, []
        for j, lp in enumerate(r["logprobs"]):
            row = logp[n - 1 + j]
            for alt in [{"token_id": lp["token_id"], "logprob": lp["logprob"]}] + lp["top_logprobs"]:
                max_diff = max(max_diff, abs(float(row[alt["token_id"]]) - alt["logprob"]))
            hf_top = int(torch.argmax(row))
            if hf_top == lp["token_id"]:
                argmax_same += 1
            else:
                gaps.append(float(row[hf_top] - row[lp["token_id"]]))
        item = {"positions": len(r["logprobs"]), "hf_argmax_equals_tern": argmax_same,
                "max_abs_logprob_diff": max_diff, "hf_gap_where_different": gaps}
        print(json.dumps(item))
        report.append(item)
    if args.out:
        json.dump(report, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
