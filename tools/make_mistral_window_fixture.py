#!/usr/bin/env python3
"""Makes tiny-mistral-window: a tiny random-weight Mistral whose every layer attends over a
sliding window of 8 keys, and Hugging Face's reference outputs on prompts far longer than
the window, for tern's sliding-window golden tests (tests/golden/forward_window_golden_test.cpp,
and forward_golden_test.cpp and cli_generate_test.cpp, which check every tiny model).

Runs where transformers (>= 4.53, for masking_utils) and torch are installed (the GPU
machine; CPU is enough):
    python3 tools/make_mistral_window_fixture.py --tokenizers tests/data/tokenizers --out tests/data

It writes, as tools/make_tiny_models.py does for the other tiny models,
    OUT/models/tiny-mistral-window/              config.json (sliding_window 8), weights (bf16), tokenizer
    OUT/golden/tiny-mistral-window.json          prompts (ids), HF greedy continuations (16 tokens)
    OUT/golden/tiny-mistral-window.logits.safetensors   HF fp32 logits at every prompt position
Before writing anything it checks that this transformers windows attention as tern does (a
query at position p sees keys (p - 8, p]); afterwards, that the window changed HF's logits
past position 8 and nowhere before it, so the goldens really test the window.
"""
import torch

import make_tiny_models as tiny

NAME = "tiny-mistral-window"
WINDOW = 8
PROMPT_TOKENS = 40
# tiny-mistral's shape with the window; its own seed (1000 + SEED_INDEX, prompts 7 + SEED_INDEX).
VARIANT = dict(tiny.VARIANTS["tiny-mistral"], sliding_window=WINDOW)
SEED_INDEX = 100


def check_window_rule():
    """transformers' sliding-window mask must let the query at position p see exactly keys
    p - WINDOW + 1 .. p, the rule tern implements; refuse to make goldens otherwise."""
    from transformers.masking_utils import sliding_window_causal_mask_function

    visible = sliding_window_causal_mask_function(WINDOW)
    q = 3 * WINDOW
    seen = [kv for kv in range(q + 2) if bool(visible(0, 0, torch.tensor(q), torch.tensor(kv)))]
    if seen != list(range(q - WINDOW + 1, q + 1)):
        raise SystemExit(f"this transformers' window {WINDOW} lets position {q} see keys {seen}, "
                         f"not {q - WINDOW + 1}..{q}: tern's rule differs")


@torch.no_grad()
def check_window_matters(mdir, ids):
    """The goldens equal full attention before position WINDOW and differ after it."""
    windowed = tiny.load_reference(mdir)(torch.tensor([ids])).logits[0]
    full = tiny.load_reference(mdir, sliding_window=None)(torch.tensor([ids])).logits[0]
    before = float((windowed[:WINDOW] - full[:WINDOW]).abs().max())
    after = float((windowed[WINDOW:] - full[WINDOW:]).abs().max())
    print(f"{NAME}: max |windowed - full| logits before position {WINDOW}: {before:.2e}, after: {after:.3f}")
    if before > 1e-4 or after < 0.1:
        raise SystemExit("the window did not change the logits as it should: eager attention ignored it?")


def main():
    args = tiny.parse_args(__doc__.splitlines()[0])
    check_window_rule()
    tok, cfg, mdir = tiny.build_model(NAME, VARIANT, SEED_INDEX, args.tokenizers, args.out)
    gen = torch.Generator().manual_seed(7 + SEED_INDEX)
    texts, prompts = tiny.prompts_for(tok, cfg.vocab_size, gen)
    # prompts_for's three texts (15, 22 and 19 tokens with tiny-mistral's tokenizer), 37
    # random ids and one token, then two prompts of PROMPT_TOKENS random ids (five windows).
    prompts += [torch.randint(0, cfg.vocab_size, (PROMPT_TOKENS,), generator=gen).tolist() for _ in range(2)]
    check_window_matters(mdir, prompts[-1])
    tiny.write_golden(NAME, mdir, args.out, texts, prompts)


if __name__ == "__main__":
    main()
