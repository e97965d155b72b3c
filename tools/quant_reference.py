#!/usr/bin/env python3
"""PyTorch reference logits for an INT4 or FP8 checkpoint: dequantise it in torch, run it dense.

Runs on the GPU machine (torch + transformers + safetensors; CPU works too):
    python3 tools/quant_reference.py --model tests/data/quant/tiny-qwen2-gptq-g32 --out $OUT

Reads a GPTQ (checkpoint_format "gptq" or "gptq_v2") or AWQ (GEMM) checkpoint such as
`tern quantize` writes, unpacks every qweight/qzeros/scales/g_idx itself (independently of
tern's C++ and of any GPTQ/AWQ kernel package), builds the dense fp32 model with
transformers from the same config.json, and writes, for a few fixed prompts, fp32 logits
at every position:
    OUT/<name>.json               {"model": ..., "cases": [{"prompt_ids": [...]}, ...]}
    OUT/<name>.logits.safetensors  prompt_<i>: [len, vocab] float32
Copy both into tests/data/quant/golden/; quant_reference_test then checks tern's CPU
INT4 forward against them.

FP8 checkpoints (quant_method "fp8", or "compressed-tensors" float-quantized) are dequantised
the same way, W[n, k] = float(weight[n, k]) * scale(n, k) with the per-tensor, per-channel or
per-block scales as stored, and every quantized projection's input is passed through
torch.float8_e4m3fn as the checkpoint's activation scheme says (a forward pre-hook):
    s = clamp(amax over the token (or its group of block_k columns), min=1e-12) / 448
        (static: the stored input_scale)
    x' = (x / s).clamp(-448, 448).to(torch.float8_e4m3fn).float() * s

INT4 dequantisation (fp32, the same products tern's CPU reference computes):
    W[n, k] = scales[g(k), n] * (code(n, k) - zero(g(k), n))
GPTQ: qweight [K/8, N] int32 packs eight codes along K (low bits first), qzeros [G, N/8]
packs zero points along N, stored minus one in v1; g(k) = g_idx[k] (or k // group_size).
AWQ: qweight [K, N/8] and qzeros [G, N/8] pack along N in the order 0 2 4 6 1 3 5 7.
"""
import argparse
import json
import os

import torch

SHIFTS = torch.arange(0, 32, 4, dtype=torch.int32)
AWQ_UNDO_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]  # column j of a word sits at position AWQ_UNDO_ORDER[j]
PROMPTS = [[5, 17, 300, 42, 999, 7, 256, 64, 128, 3, 511, 77, 901, 12],
           [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
            29, 30, 31, 32, 33]]


def nibbles_along_rows(packed):
    """[R, C] int32 -> [R * 8, C]: value i of word (r, c) becomes row 8 r + i."""
    values = (packed.unsqueeze(1) >> SHIFTS.view(1, 8, 1)) & 0xF
    return values.reshape(packed.shape[0] * 8, packed.shape[1])


def nibbles_along_cols(packed, order=None):
    """[R, C] int32 -> [R, C * 8]: value i of word (r, c) becomes column 8 c + i (or per order)."""
    values = (packed.unsqueeze(2) >> SHIFTS.view(1, 1, 8)) & 0xF
    if order is not None:
        values = values[:, :, order]
    return values.reshape(packed.shape[0], packed.shape[1] * 8)


def dequantize(tensors, module, qcfg, in_features):
    """Dense [N, K] fp32 weight of one quantized module."""
    qweight, qzeros = tensors[module + ".qweight"], tensors[module + ".qzeros"]
    scales = tensors[module + ".scales"].float()
    group_size = qcfg["group_size"] if qcfg["group_size"] > 0 else in_features
    if qcfg["quant_method"] == "gptq":
        codes = nibbles_along_rows(qweight)  # [K, N]
        zeros = nibbles_along_cols(qzeros)  # [G, N]
        if qcfg.get("checkpoint_format", "gptq") == "gptq":
            zeros = zeros + 1
        g_idx = tensors.get(module + ".g_idx")
    else:
        codes = nibbles_along_cols(qweight, AWQ_UNDO_ORDER)
        zeros = nibbles_along_cols(qzeros, AWQ_UNDO_ORDER)
        g_idx = None
    k = codes.shape[0]
    assert k == in_features, f"{module}: {k} inputs, config implies {in_features}"
    g = g_idx.long() if g_idx is not None else torch.arange(k) // group_size
    w_t = scales[g] * (codes - zeros[g]).float()  # [K, N]
    return w_t.t().contiguous()


E4M3_MAX = 448.0


def fp8_scheme(qcfg):
    """(weight scale suffix, block [bn, bk] or None, activation scheme, activation group or None)
    of an FP8 quantization_config: the scheme is "token", "group" or "static"."""
    if qcfg["quant_method"] == "fp8":
        block = qcfg.get("weight_block_size")
        if block:
            return ".weight_scale_inv", block, "group", block[1]
        return ".weight_scale", None, "static" if qcfg.get("activation_scheme") == "static" else "token", None
    (group,) = qcfg["config_groups"].values()
    w, a = group["weights"], group["input_activations"]
    block = w.get("block_structure") if w.get("strategy") == "block" else None
    if a.get("strategy") == "group":
        return ".weight_scale", block, "group", a["group_size"]
    if a.get("strategy") == "tensor" and not a.get("dynamic"):
        return ".weight_scale", block, "static", None
    return ".weight_scale", block, "token", None


def dequantize_fp8(tensors, module, suffix, block):
    """Dense [N, K] fp32 weight of one FP8 module."""
    w = tensors[module + ".weight"].float()
    scale = tensors[module + suffix].float()
    if block:
        bn, bk = block
        scale = scale.repeat_interleave(bn, 0)[: w.shape[0]].repeat_interleave(bk, 1)[:, : w.shape[1]]
    else:
        scale = scale.reshape(-1, 1) if scale.numel() > 1 else scale.reshape(1, 1)
    return w * scale


def fake_quantize_fp8(x, scheme, group, input_scale):
    """x' of tern's fake_quantize_fp8_activations, in fp32."""
    x = x.float()
    if scheme == "static":
        s = input_scale
        return (x / s).clamp(-E4M3_MAX, E4M3_MAX).to(torch.float8_e4m3fn).float() * s
    k = x.shape[-1]
    g = group if scheme == "group" else k
    pad = (-k) % g
    xp = torch.nn.functional.pad(x, (0, pad)).reshape(*x.shape[:-1], (k + pad) // g, g)
    s = xp.abs().amax(-1, keepdim=True).clamp(min=1e-12) / E4M3_MAX
    q = (xp / s).clamp(-E4M3_MAX, E4M3_MAX).to(torch.float8_e4m3fn).float() * s
    return q.reshape(*x.shape[:-1], k + pad)[..., :k]


def is_fp8(qcfg):
    return qcfg["quant_method"] in ("fp8", "compressed-tensors")


def dense_state_dict(model_dir, qcfg, cfg):
    """The fp32 state dict, and for FP8 {module: (scheme, group, input_scale)} of the
    quantized projections."""
    from safetensors.torch import load_file
    tensors = {}
    for f in sorted(os.listdir(model_dir)):
        if f.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(model_dir, f)))
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    inputs = {"q_proj": cfg["hidden_size"], "k_proj": cfg["hidden_size"], "v_proj": cfg["hidden_size"],
              "o_proj": cfg["num_attention_heads"] * head_dim, "gate_proj": cfg["hidden_size"],
              "up_proj": cfg["hidden_size"], "down_proj": cfg["intermediate_size"]}
    state, fp8_inputs = {}, {}
    if is_fp8(qcfg):
        suffix, block, scheme, group = fp8_scheme(qcfg)
        for name, t in tensors.items():
            module = name.rsplit(".", 1)[0]
            if name.endswith(".weight") and t.dtype == torch.float8_e4m3fn:
                state[name] = dequantize_fp8(tensors, module, suffix, block)
                fused = module.replace("k_proj", "q_proj").replace("v_proj", "q_proj").replace("up_proj", "gate_proj")
                input_scale = None
                if scheme == "static":
                    # tern quantises a fused layer's shared input once, with the largest scale.
                    siblings = [fused, fused.replace("q_proj", "k_proj").replace("gate_proj", "up_proj"),
                                fused.replace("q_proj", "v_proj")]
                    input_scale = max(float(tensors[m + ".input_scale"].float().reshape(-1)[0])
                                      for m in dict.fromkeys(siblings) if m + ".input_scale" in tensors)
                fp8_inputs[module] = (scheme, group, input_scale)
            elif not name.endswith((".weight_scale", ".weight_scale_inv", ".input_scale")):
                state[name] = t.float()
        return state, fp8_inputs
    for name, t in tensors.items():
        if name.endswith(".qweight"):
            module = name[: -len(".qweight")]
            state[module + ".weight"] = dequantize(tensors, module, qcfg, inputs[module.rsplit(".", 1)[1]])
        elif not name.endswith((".qzeros", ".scales", ".g_idx")):
            state[name] = t.float()
    return state, fp8_inputs


def add_fp8_input_hooks(model, fp8_inputs):
    """Quantise each FP8 projection's input as tern does, before the dense product."""
    for module, (scheme, group, input_scale) in fp8_inputs.items():
        model.get_submodule(module).register_forward_pre_hook(
            lambda _, args, scheme=scheme, group=group, s=input_scale:
            (fake_quantize_fp8(args[0], scheme, group, s).to(args[0].dtype),))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="quantized checkpoint folder")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM

    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    qcfg = cfg["quantization_config"]
    assert is_fp8(qcfg) or qcfg["bits"] == 4, qcfg
    state, fp8_inputs = dense_state_dict(args.model, qcfg, cfg)

    config = AutoConfig.from_pretrained(args.model)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").float()
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = {"lm_head.weight"} if cfg.get("tie_word_embeddings") else set()
    assert set(missing) <= tied and not unexpected, (missing, unexpected)
    if tied:
        model.tie_weights()
    add_fp8_input_hooks(model, fp8_inputs)
    model = model.to(args.device).eval()
    torch.backends.cuda.matmul.allow_tf32 = False

    name = os.path.basename(os.path.normpath(args.model))
    os.makedirs(args.out, exist_ok=True)
    result = {"model": name, "transformers": __import__("transformers").__version__, "torch": torch.__version__,
              "cases": []}
    logits = {}
    with torch.no_grad():
        for i, ids in enumerate(PROMPTS):
            ids = [t for t in ids if t < cfg["vocab_size"]]
            out = model(torch.tensor([ids], device=args.device)).logits[0].float().cpu().contiguous()
            logits[f"prompt_{i}"] = out
            result["cases"].append({"prompt_ids": ids})
    save_file(logits, os.path.join(args.out, name + ".logits.safetensors"))
    with open(os.path.join(args.out, name + ".json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "cases"}), flush=True)


if __name__ == "__main__":
    main()
