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

With --kv-cache-dtype fp8 (tern generate run with the same flag), every attention layer's
keys (after RoPE) and values pass through torch.float8_e4m3fn with the checkpoint's
self_attn.k_scale / v_scale (or kv_scale), else 1.0, as tern's FP8 KV cache stores them:
    k' = (k / k_scale).clamp(-448, 448).to(torch.float8_e4m3fn).float() * k_scale
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


def kv_scales(model_dir, num_layers):
    """Per-layer (k_scale, v_scale) from the checkpoint, 1.0 where it has none."""
    from safetensors import safe_open
    found = {}
    for f in sorted(os.listdir(model_dir)):
        if f.endswith(".safetensors"):
            with safe_open(os.path.join(model_dir, f), "pt") as st:
                for key in st.keys():
                    if key.endswith(("self_attn.k_scale", "self_attn.v_scale", "self_attn.kv_scale")):
                        found[key] = float(st.get_tensor(key).float().reshape(-1)[0])
    scales = []
    for i in range(num_layers):
        p = f"model.layers.{i}.self_attn."
        both = found.get(p + "kv_scale", 1.0)
        scales.append((found.get(p + "k_scale", both), found.get(p + "v_scale", both)))
    return scales


def use_fp8_kv_attention(model, model_dir):
    """Routes every attention layer through sdpa with K and V rounded as tern's FP8 KV cache."""
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from quant_reference import fake_quantize_fp8
    scales = kv_scales(model_dir, model.config.num_hidden_layers)

    def attention(module, query, key, value, attention_mask, **kwargs):
        k_scale, v_scale = scales[module.layer_idx]
        key = fake_quantize_fp8(key, "static", None, k_scale).to(key.dtype)
        value = fake_quantize_fp8(value, "static", None, v_scale).to(value.dtype)
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)

    AttentionInterface.register("tern_fp8_kv", attention)
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("tern_fp8_kv")
    else:
        model.config._attn_implementation = "tern_fp8_kv"


def tern_runs_cli(doc, kv_cache_dtype=False):
    """--model DIR --tern-json FILE [--out FILE] (and --kv-cache-dtype when asked): the
    arguments and FILE's `tern generate --json` lines (one object per prompt), for the tools
    that check tern's output with HF."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tern-json", required=True)
    ap.add_argument("--out")
    if kv_cache_dtype:
        ap.add_argument("--kv-cache-dtype", choices=("auto", "fp8"), default="auto")
    args = ap.parse_args()
    with open(args.tern_json) as f:
        return args, [json.loads(line) for line in f if line.strip()]


def main():
    args, rows = tern_runs_cli(__doc__, kv_cache_dtype=True)
    model = load_dense(args.model)
    if args.kv_cache_dtype == "fp8":
        use_fp8_kv_attention(model, args.model)
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
