#!/usr/bin/env python3
"""Makes the tiny random-weight models and HF reference outputs that tern's golden tests use.

Runs where transformers and torch are installed (the GPU machine; CPU is enough):
    python3 tools/make_tiny_models.py --tokenizers tests/data/tokenizers --out tests/data

For each variant it writes
    OUT/models/<name>/            config.json, generation_config.json, model.safetensors (bf16),
                                  tokenizer files copied from the tokenizer it names
    OUT/golden/<name>.json        prompts (ids), HF greedy continuations (ids, 16 tokens)
    OUT/golden/<name>.logits.safetensors   HF fp32 logits for every prompt position,
                                  tensor "prompt_<i>" of shape [len, vocab]
The reference runs the bf16 weights upcast to fp32 with eager attention, which is what tern's
CPU backend computes. Everything is seeded, so reruns give the same files.
"""
import argparse
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

GREEDY_TOKENS = 16

BASE = dict(
    vocab_size=1024,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    rms_norm_eps=1e-6,
)

VARIANTS = {
    # Qwen2 as Qwen2.5 ships it: Q/K/V bias, tied embeddings, rope_theta 1e6.
    "tiny-qwen2": dict(arch="qwen2", tokenizer="tiny-qwen", tie=True, rope_theta=1e6, rope_scaling=None),
    "tiny-qwen2-yarn": dict(arch="qwen2", tokenizer="tiny-qwen", tie=False, rope_theta=1e6,
                            rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                          "original_max_position_embeddings": 128}),
    # Llama 3.1 style: llama3 scaling, untied, explicit head_dim different from hidden/heads.
    "tiny-llama3": dict(arch="llama", tokenizer="tiny-llama3", tie=False, rope_theta=500000.0, classic_config=True,
                        head_dim=32, hidden_size=96,
                        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    "tiny-llama-linear": dict(arch="llama", tokenizer="tiny-llama3", tie=True, rope_theta=10000.0,
                              rope_scaling={"rope_type": "linear", "factor": 2.0}),
    "tiny-mistral": dict(arch="mistral", tokenizer="tiny-llama3", tie=False, rope_theta=1e6, rope_scaling=None,
                         num_key_value_heads=1),
}


def make_config(name, v, tok):
    kw = dict(BASE)
    for key in ("hidden_size", "head_dim", "num_key_value_heads"):
        if key in v:
            kw[key] = v[key]
    kw["tie_word_embeddings"] = v["tie"]
    kw["bos_token_id"] = tok.bos_token_id
    kw["eos_token_id"] = tok.eos_token_id
    if v["arch"] == "mistral":
        kw["sliding_window"] = v.get("sliding_window")  # None: full attention
    rope = dict(v["rope_scaling"] or {"rope_type": "default"}, rope_theta=v["rope_theta"])
    # transformers v5 takes rope_parameters; v4 takes rope_theta + rope_scaling.
    cfg = AutoConfig.for_model(v["arch"], rope_parameters=rope, **kw)
    if getattr(cfg, "rope_parameters", None) != rope:
        classic = {k: x for k, x in rope.items() if k != "rope_theta"}
        cfg = AutoConfig.for_model(v["arch"], rope_theta=v["rope_theta"],
                                   rope_scaling=None if v["rope_scaling"] is None else classic, **kw)
    return cfg


def write_classic_config(mdir, v):
    """Rewrites config.json in the pre-v5 form (top-level rope_theta, rope_scaling), so the
    fixtures exercise both ways of writing RoPE parameters."""
    path = os.path.join(mdir, "config.json")
    with open(path) as f:
        c = json.load(f)
    c.pop("rope_parameters", None)
    c["rope_theta"] = v["rope_theta"]
    c["rope_scaling"] = None if v["rope_scaling"] is None else dict(v["rope_scaling"])
    with open(path, "w") as f:
        json.dump(c, f, indent=2)


def prompts_for(tok, vocab, gen):
    texts = ["Hello, world! How are you?", "你好，世界。1 + 2 = 3", "def f(x):\n    return x * 2\n"]
    prompts = [tok(t)["input_ids"] for t in texts]
    prompts.append(torch.randint(0, vocab, (37,), generator=gen).tolist())  # crosses several KV blocks
    prompts.append([int(torch.randint(0, vocab, (1,), generator=gen))])    # one token
    return texts, prompts


@torch.no_grad()
def reference(model, ids):
    x = torch.tensor([ids])
    logits = model(x).logits[0].float()
    out = []
    margins = []
    cur = list(ids)
    for _ in range(GREEDY_TOKENS):
        last = model(torch.tensor([cur])).logits[0, -1].float()
        top2 = torch.topk(last, 2).values
        margins.append(float(top2[0] - top2[1]))
        nxt = int(torch.argmax(last))
        out.append(nxt)
        cur.append(nxt)
    return logits, out, min(margins)


def build_model(name, v, index, tokenizers, out):
    """Makes variant v's random-weight model (seeded by index) and saves it with its
    tokenizer in OUT/models/<name>. Returns the tokenizer, the config and the folder."""
    tok_dir = os.path.join(tokenizers, v["tokenizer"])
    tok = AutoTokenizer.from_pretrained(tok_dir)
    cfg = make_config(name, v, tok)
    torch.manual_seed(1000 + index)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    # Wider than HF's default init so logits are far from uniform and greedy choices
    # have clear margins.
    for pname, p in model.named_parameters():
        if p.dim() >= 2:
            torch.nn.init.normal_(p, std=0.15)
        elif "bias" in pname:
            torch.nn.init.normal_(p, std=0.1)
        else:
            torch.nn.init.normal_(p, mean=1.0, std=0.1)
    model = model.to(torch.bfloat16)
    rot = model.model.rotary_emb
    print(f"{name}: inv_freq[:3]={rot.inv_freq[:3].tolist()} inv_freq[-1]={rot.inv_freq[-1].item():.6g} "
          f"attention_scaling={getattr(rot, 'attention_scaling', 1.0)}")
    mdir = os.path.join(out, "models", name)
    shutil.rmtree(mdir, ignore_errors=True)
    model.save_pretrained(mdir, safe_serialization=True)
    if v.get("classic_config"):
        write_classic_config(mdir, v)
    for f in os.listdir(tok_dir):
        shutil.copy(os.path.join(tok_dir, f), mdir)
    return tok, cfg, mdir


def load_reference(mdir, **config_overrides):
    """The saved model in fp32 with eager attention, as the golden files are computed."""
    ref = AutoModelForCausalLM.from_pretrained(mdir, dtype=torch.float32, attn_implementation="eager",
                                               **config_overrides)
    ref.eval()
    return ref


def write_golden(name, mdir, out, texts, prompts):
    """Writes OUT/golden/<name>.json and <name>.logits.safetensors for `prompts` (texts[j]
    is prompt j's text, or absent for made-up ids)."""
    ref = load_reference(mdir)
    cases, tensors = [], {}
    worst = float("inf")
    for j, ids in enumerate(prompts):
        logits, greedy, margin = reference(ref, ids)
        worst = min(worst, margin)
        tensors[f"prompt_{j}"] = logits.contiguous()
        cases.append({"text": texts[j] if j < len(texts) else None, "prompt_ids": ids, "greedy_ids": greedy,
                      "greedy_min_margin": margin})
    save_file(tensors, os.path.join(out, "golden", f"{name}.logits.safetensors"))
    with open(os.path.join(out, "golden", f"{name}.json"), "w") as f:
        json.dump({"model": f"models/{name}", "greedy_tokens": GREEDY_TOKENS, "cases": cases}, f, indent=1,
                  ensure_ascii=False)
    print(f"{name}: {sum(p.numel() for p in ref.parameters())} params, worst greedy margin {worst:.4f}")


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--tokenizers", required=True, help="folder holding tiny-qwen/ and tiny-llama3/")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "models"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "golden"), exist_ok=True)
    return args


def main():
    args = parse_args(__doc__.splitlines()[0])
    for i, (name, v) in enumerate(VARIANTS.items()):
        tok, cfg, mdir = build_model(name, v, i, args.tokenizers, args.out)
        gen = torch.Generator().manual_seed(7 + i)
        texts, prompts = prompts_for(tok, cfg.vocab_size, gen)
        write_golden(name, mdir, args.out, texts, prompts)


if __name__ == "__main__":
    main()
