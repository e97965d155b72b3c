#!/usr/bin/env python3
"""Device-to-device copy bandwidth of the current GPU in GB/s (bytes read + written), the
memory-bandwidth floor the benchmark scripts divide weight bytes by: a 2 GiB torch copy,
3 warm-up copies, then 10 timed with CUDA events. Prints one integer."""
import torch


def main():
    x = torch.empty(2 * 1024**3, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(10):
        y.copy_(x)
    end.record()
    torch.cuda.synchronize()
    print(f"{2 * x.numel() * 10 / (start.elapsed_time(end) / 1000) / 1e9:.0f}")


if __name__ == "__main__":
    main()
