#!/usr/bin/env python3
"""PNG charts from `tern bench` JSON files, for docs/performance.md.

Needs matplotlib: on Debian `apt-get install python3-matplotlib` (then run it with
/usr/bin/python3), elsewhere `pip install matplotlib`. Runs anywhere the JSON files are;
no GPU needed.

    tools/plot_bench.py RESULTS.json [MORE.json ...] --out-dir docs/img [--prefix h200-20261201]

What each kind of file gives:
  - `tern bench sweep` ({"kind": "sweep", "runs": [...]}), or several `tern bench serve`
    files at different concurrency levels (grouped by workload):
      <prefix>-latency.png     TTFT and ITL (median, P95, P99) against concurrency, per workload
      <prefix>-throughput.png  output tokens/s and requests/min against concurrency, per workload
    with, optionally, the HF transformers static-batch baseline of tools/hf_static_baseline.py
    (marked x, batch size on the concurrency axis) on the TTFT and throughput charts
  - `tern bench ablation` ({"kind": "ablation", "stages": [...]}):
      <prefix>-ablation.png    one bar chart per column of the article's table: TTFT (mean, with
                               P95/P99 marks), throughput, peak GPU memory, concurrency
Prints the path of every file it writes.
"""
import argparse
import json
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402


def load(paths):
    """(serve runs grouped by workload, HF baseline runs grouped by workload, ablation results,
    titles) from the given files."""
    runs = []
    baseline = defaultdict(list)
    ablations = []
    titles = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        kind = data.get("kind")
        if data.get("engine", "").startswith("transformers generate() static"):
            for run in data["runs"]:
                baseline[f"{run['input_len']}/{run['output_len']}"].append(run)
        elif kind == "ablation" or "stages" in data:
            ablations.append(data)
        elif kind == "sweep" or "runs" in data:
            runs.extend(data["runs"])
            titles.append(describe(data))
        elif "ttft_ms" in data:
            runs.append(data)
        else:
            sys.exit(f"{path}: not a tern bench serve, sweep or ablation result")
    by_workload = defaultdict(list)
    for run in runs:
        w = run["workload"]
        name = (f"{w['input_len']}/{w['output_len']}" if w.get("input_len") is not None
                else os.path.basename(w.get("dataset") or "dataset"))
        concurrency = run["load"].get("concurrency")
        if concurrency is None:
            sys.exit("a serve run without --concurrency cannot be placed on the concurrency axis")
        by_workload[name].append(run)
    for name in by_workload:
        by_workload[name].sort(key=lambda r: r["load"]["concurrency"])
    return by_workload, baseline, ablations, titles


def describe(data):
    parts = [data.get("model") or "", data.get("gpu") or "", data.get("date") or ""]
    if data.get("commit"):
        parts.append("commit " + data["commit"])
    return ", ".join(p for p in parts if p)


COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def concurrency_axis(ax, by_workload):
    """Log-2 x axis labelled with the measured concurrency levels as plain numbers."""
    levels = sorted({r["load"]["concurrency"] for runs in by_workload.values() for r in runs})
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels)
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def plot_baseline(ax, baseline, name, key, color):
    """The HF static batches of workload `name`, batch size on the concurrency axis."""
    runs = sorted(baseline.get(name, []), key=lambda r: r["batch"])
    if runs:
        ax.plot([r["batch"] for r in runs], [r[key] for r in runs], "x", color=color, markersize=9, mew=2,
                label=f"{name} HF static batch")


def plot_latency(by_workload, baseline, title, path):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key, label in ((axes[0], "ttft_ms", "time to first token (ms)"),
                           (axes[1], "itl_ms", "inter-token latency (ms)")):
        for color, (name, runs) in zip(COLORS, sorted(by_workload.items())):
            c = [r["load"]["concurrency"] for r in runs]
            for stat, style in (("median", "-o"), ("p95", "--s"), ("p99", ":^")):
                ax.plot(c, [r[key][stat] for r in runs], style, color=color, label=f"{name} {stat}", markersize=4)
            if key == "ttft_ms":
                plot_baseline(ax, baseline, name, "ttft_ms", color)
        concurrency_axis(ax, by_workload)
        ax.set_yscale("log")
        ax.set_xlabel("concurrent requests")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Latency percentiles against load — {title}" if title else "Latency percentiles against load")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_throughput(by_workload, baseline, title, path):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key, label in ((axes[0], "output_tokens_per_s", "output tokens/s"),
                           (axes[1], "requests_per_min", "requests/min")):
        for color, (name, runs) in zip(COLORS, sorted(by_workload.items())):
            ax.plot([r["load"]["concurrency"] for r in runs], [r[key] for r in runs], "-o", color=color, label=name,
                    markersize=4)
            plot_baseline(ax, baseline, name, key, color)
        concurrency_axis(ax, by_workload)
        ax.set_xlabel("concurrent requests")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Throughput against concurrency — {title}" if title else "Throughput against concurrency")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_ablation(result, path):
    stages = [s for s in result["stages"] if "error" not in s]
    if not stages:
        sys.exit("the ablation has no completed stage")
    names = [f"{s['stage']}. {s['name']}" for s in stages]
    x = range(len(stages))
    fig, axes = plt.subplots(1, 4, figsize=(18, 5))
    columns = (("ttft_ms", "TTFT (ms), mean; P95 and P99 marked"), ("requests_per_min", "throughput (req/min)"),
               ("peak_gpu_memory_gib", "peak GPU memory (GiB)"), ("max_concurrency", "concurrency (most resident)"))
    for ax, (key, label) in zip(axes, columns):
        values = [s[key] for s in stages]
        bars = ax.bar(x, values, color="#4c72b0")
        ax.bar_label(bars, labels=[f"{v:.0f}" if v >= 100 else f"{v:.3g}" for v in values], fontsize=8)
        if key == "ttft_ms":
            ax.plot(x, [s["ttft_p95_ms"] for s in stages], "v", color="#dd8452", label="P95")
            ax.plot(x, [s["ttft_p99_ms"] for s in stages], "^", color="#c44e52", label="P99")
            ax.legend(fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    w = result["workload"]
    load = f"concurrency {w['concurrency']}" if w.get("concurrency") else f"{w.get('request_rate')} req/s"
    fig.suptitle(f"Ablation — {describe(result)}; {w['input_len']}-token prompts, {w['output_len']} output tokens, "
                 f"{w['num_prompts']} requests, {load}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+",
                        help="tern bench serve / sweep / ablation JSON files, tools/hf_static_baseline.py JSON")
    parser.add_argument("--out-dir", default=".", help="where to write the PNG files")
    parser.add_argument("--prefix", default="bench", help="file name prefix, e.g. h200-20261201")
    args = parser.parse_args()
    by_workload, baseline, ablations, titles = load(args.files)
    os.makedirs(args.out_dir, exist_ok=True)
    written = []
    if by_workload:
        title = "; ".join(titles)
        written.append(os.path.join(args.out_dir, f"{args.prefix}-latency.png"))
        plot_latency(by_workload, baseline, title, written[-1])
        written.append(os.path.join(args.out_dir, f"{args.prefix}-throughput.png"))
        plot_throughput(by_workload, baseline, title, written[-1])
    for i, result in enumerate(ablations):
        suffix = "" if len(ablations) == 1 else f"-{i + 1}"
        written.append(os.path.join(args.out_dir, f"{args.prefix}-ablation{suffix}.png"))
        plot_ablation(result, written[-1])
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
