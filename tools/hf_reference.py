#!/usr/bin/env python3
"""Random-weight Qwen2.5-7B-shaped model, HF transformers reference outputs and baseline numbers.

Runs on the GPU machine (torch + transformers):
    python3 tools/hf_reference.py --model-dir /tmp/qwen7b --tokenizer tests/data/tokenizers/qwen2.5 \
        --out $OUT/hf_reference.json [--bench]

1. Creates the model if MODEL_DIR has no config.json: Qwen2ForCausalLM with the exact
   Qwen2.5-7B-Instruct shapes (hidden 3584, 28 layers, 28 heads, 4 KV heads, intermediate
   18944, vocab 152064, QKV bias, rope_theta 1e6, untied lm_head), random bf16 weights
   (seeded; lm_head drawn wider than the rest so greedy choices have clear margins),
   saved as safetensors with the Qwen2.5 tokenizer files.
2. Reference outputs (bf16, sdpa): for a few prompts, the last-position logits and a 32-token
   greedy continuation (ids written to the JSON; logits to MODEL_DIR/reference_logits.safetensors).
   With --shape qwen2.5-0.5b: Qwen2.5-0.5B's shapes instead (tied embeddings), a draft
   model for speculative decoding of the 7B; only the model is made.
3. With --bench: transformers generate() baselines on the same model: batch-1 decode tokens/s at
   128 and 2048 tokens of context, time to first token for a 2048-token prompt, and decode
   throughput at batch 1..256 (median of timed runs after a warm-up).
"""
import argparse
import json
import os
import shutil
import statistics
import time

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM

QWEN7B = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
              num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768, rms_norm_eps=1e-6,
              tie_word_embeddings=False, bos_token_id=151643, eos_token_id=151645)
# Qwen2.5-0.5B-Instruct's shapes: a draft model for speculative decoding of the 7B (same
# tokenizer; its vocabulary is the tokenizer's 151,936 rows, fewer than the 7B's padded 152,064).
QWEN05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
               num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
               tie_word_embeddings=True, bos_token_id=151643, eos_token_id=151645)
SHAPES = {"qwen2.5-7b": QWEN7B, "qwen2.5-0.5b": QWEN05B}
GREEDY = 32
PROMPTS = ["The capital of France is", "def fibonacci(n):", "你好，请介绍一下你自己。",
           "In 1905, Albert Einstein published four papers that", "SELECT name, price FROM products WHERE",
           "Once upon a time, in a small village by the sea,", "The derivative of x^3 + 2x is",
           "Write a haiku about autumn leaves:"]


def create(model_dir, tokenizer_dir, shape, num_layers):
    shapes = dict(SHAPES[shape], num_hidden_layers=num_layers or SHAPES[shape]["num_hidden_layers"])
    cfg = AutoConfig.for_model("qwen2", rope_parameters={"rope_type": "default", "rope_theta": 1e6}, **shapes)
    if getattr(cfg, "rope_parameters", None) is None:
        cfg = AutoConfig.for_model("qwen2", rope_theta=1e6, **shapes)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            elif name == "lm_head.weight":
                p.normal_(0.0, 0.08)
            else:
                p.normal_(0.0, 0.02)
    model.save_pretrained(model_dir, safe_serialization=True, max_shard_size="5GB")
    for f in os.listdir(tokenizer_dir):
        shutil.copy(os.path.join(tokenizer_dir, f), model_dir)
    return model


def timed(fn, repeats=3):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def generate_fn(model, ids, new_tokens):
    def run():
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                       do_sample=False, pad_token_id=0)
    return run


def bench(model, vocab):
    g = torch.Generator(device="cpu").manual_seed(1)
    out = {}

    def prompt(batch, length):
        return torch.randint(0, vocab, (batch, length), generator=g).cuda()

    for ctx, key in ((128, "decode_b1_tokens_per_s"), (2048, "decode_b1_ctx2048_tokens_per_s")):
        ids = prompt(1, ctx)
        t1 = timed(generate_fn(model, ids, 1))
        t_n = timed(generate_fn(model, ids, 129), repeats=2)
        out[key] = 128 / (t_n - t1)
    out["ttft_2048_ms"] = 1000 * timed(generate_fn(model, prompt(1, 2048), 1), repeats=5)
    by_batch = {}
    for b in (1, 8, 32, 64, 128, 256):
        ids = prompt(b, 128)
        t1 = timed(generate_fn(model, ids, 1), repeats=2)
        t_n = timed(generate_fn(model, ids, 65), repeats=1)
        by_batch[str(b)] = b * 64 / (t_n - t1)
        print(f"hf decode batch {b}: {by_batch[str(b)]:.0f} tokens/s", flush=True)
    out["decode_tokens_per_s_by_batch"] = by_batch
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="qwen2.5-7b",
                    help="the model's shapes (qwen2.5-0.5b: a draft model for the 7B; no reference outputs)")
    ap.add_argument("--num-layers", type=int, default=0,
                    help="decoder layers (default: the shape's, 28 for the 7B); fewer make a quicker model of the "
                         "same layer shapes, for comparisons of the same binary's kernels before and after a change")
    ap.add_argument("--no-reference", action="store_true", help="only create the model")
    args = ap.parse_args()
    t0 = time.time()
    if not os.path.exists(os.path.join(args.model_dir, "config.json")):
        os.makedirs(args.model_dir, exist_ok=True)
        model = create(args.model_dir, args.tokenizer, args.shape, args.num_layers)
        print(f"created {args.model_dir} in {time.time() - t0:.0f}s", flush=True)
        if args.no_reference or args.shape != "qwen2.5-7b":
            return
    else:
        model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.bfloat16).cuda()
    model.config._attn_implementation = "sdpa"
    model.eval()
    # Greedy references run past end-of-sequence like `tern generate --ignore-eos`.
    model.generation_config.eos_token_id = None
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    result = {"transformers": __import__("transformers").__version__, "torch": torch.__version__, "cases": []}
    tensors = {}
    with torch.no_grad():
        for i, text in enumerate(PROMPTS):
            ids = tok(text, return_tensors="pt").input_ids.cuda()
            logits = model(ids).logits[0, -1].float()
            tensors[f"prompt_{i}"] = logits.cpu().contiguous()
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=GREEDY,
                                 do_sample=False, pad_token_id=0)
            top2 = torch.topk(logits, 2).values
            result["cases"].append({"text": text, "prompt_ids": ids[0].tolist(),
                                    "greedy_ids": gen[0, ids.shape[1]:].tolist(),
                                    "first_margin": float(top2[0] - top2[1])})
        save_file(tensors, os.path.join(args.model_dir, "reference_logits.safetensors"))
        if args.bench:
            result["hf"] = bench(model, QWEN7B["vocab_size"])
            result["hf"]["gpu"] = torch.cuda.get_device_name()
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
    print(json.dumps({k: v for k, v in result.items() if k != "cases"}, indent=1), flush=True)


if __name__ == "__main__":
    main()
