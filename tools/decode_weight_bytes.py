#!/usr/bin/env python3
"""Bytes of weights one decode step reads from a Hugging Face model folder: every tensor of
its model*.safetensors but the embedding table (a step reads one row of it) and act-order
g_idx (read once per projection, not per weight). Prints one integer.

    tools/decode_weight_bytes.py MODEL_DIR
"""
import glob
import math
import sys

from safetensors import safe_open

SIZE = {"BF16": 2, "F16": 2, "F32": 4, "I32": 4, "I64": 8, "U8": 1, "I8": 1, "F8_E4M3": 1}


def main():
    total = 0
    for path in glob.glob(sys.argv[1] + "/model*.safetensors"):
        with safe_open(path, "pt") as f:
            for key in f.keys():
                if "embed_tokens" in key or key.endswith(".g_idx"):
                    continue
                tensor = f.get_slice(key)
                total += SIZE[tensor.get_dtype()] * math.prod(tensor.get_shape())
    print(total)


if __name__ == "__main__":
    main()
