"""Table and chart of a prefix-compare.sh run: python3 prefix_table.py DIR SYSTEM...

Each system has one results file per round (SYSTEM-rN.json). Ratios to the oracle and to
sglang-router are taken within a round (same engines, same moment); every figure in the
table is the median over rounds, and the hit rate also shows its range. The "all rounds"
columns pool every request of every round instead: the mean TTFT over the whole run (a
policy's bad rounds, such as a hot spot, count in full rather than being outvoted) and its
ratio to sglang-router's.
"""
import json
import statistics
import sys
from pathlib import Path

out = Path(sys.argv[1])
systems = sys.argv[2:]


def figures(path):
    r = json.loads(path.read_text())
    s = r["overall"]
    eps = r["endpoints"]
    queries = sum(e.get("prefix_cache_queries") or 0 for e in eps)
    hits = sum(e.get("prefix_cache_hits") or 0 for e in eps)
    served = [e.get("engine_requests") or 0 for e in eps]
    fair = sum(served) / len(served) if served else 0
    ttft = s.get("ttft_ms") or {}
    return {
        "hit": hits / queries if queries else float("nan"),
        "mean": ttft.get("mean") or float("nan"),
        "p50": ttft.get("p50") or float("nan"),
        "p99": ttft.get("p99") or float("nan"),
        "rps": s["request_throughput"],
        "ratio": max(served) / max(min(served), 1),
        "over": max(served) / fair - 1 if fair else 0.0,
        "failed": s["requests_failed"],
        "count": ttft.get("count") or 0,
        "workload": r["config"]["workload"],
    }


rounds = {}
for system in systems:
    for path in sorted(out.glob(f"{system}-r*.json")):
        rounds.setdefault(int(path.stem.rsplit("-r", 1)[1]), {})[system] = figures(path)
if not rounds:
    sys.exit(f"no results in {out}")

rows = []
for system in systems:
    runs = [r[system] for r in rounds.values() if system in r]
    if not runs:
        continue
    vs_oracle = [r[system]["hit"] / r["oracle"]["hit"] for r in rounds.values()
                 if system in r and "oracle" in r and r["oracle"]["hit"]]
    vs_sglang = [r[system]["mean"] / r["sglang"]["mean"] for r in rounds.values()
                 if system in r and "sglang" in r and r["sglang"]["mean"]]
    med = {k: statistics.median(run[k] for run in runs) for k in ("hit", "mean", "p50", "p99", "rps", "ratio", "over")}
    rows.append({
        "system": system, **med,
        "hit_range": (min(run["hit"] for run in runs), max(run["hit"] for run in runs)),
        "vs_oracle": statistics.median(vs_oracle) if vs_oracle else None,
        "vs_sglang": statistics.median(vs_sglang) if vs_sglang else None,
        "failed": sum(run["failed"] for run in runs),
        "runs": len(runs),
        "pooled": sum(run["mean"] * run["count"] for run in runs) / max(sum(run["count"] for run in runs), 1),
    })
pooled = {r["system"]: r["pooled"] for r in rows}

workload = next(iter(next(iter(rounds.values())).values()))["workload"]
print(f"workload: {workload}; {len(rounds)} round(s), medians over rounds\n")
print("| system | engine prefix-cache hit rate (range) | vs oracle | mean TTFT ms | vs sglang | mean TTFT ms, all rounds | vs sglang, all rounds | p50 TTFT ms | p99 TTFT ms | req/s | max/min requests | busiest over fair share | failed |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    lo, hi = r["hit_range"]
    vo = f"{r['vs_oracle']:.2f}x" if r["vs_oracle"] is not None else "-"
    vs = f"{r['vs_sglang']:.2f}x" if r["vs_sglang"] is not None else "-"
    vp = f"{r['pooled'] / pooled['sglang']:.2f}x" if pooled.get("sglang") else "-"
    print(f"| {r['system']} | {r['hit']:.3f} ({lo:.2f}-{hi:.2f}) | {vo} | {r['mean']:.1f} | {vs} | {r['pooled']:.1f} | {vp} | {r['p50']:.1f} | {r['p99']:.1f} | "
          f"{r['rps']:.1f} | {r['ratio']:.2f} | {r['over']:+.0%} | {r['failed']} |")

# A chart beside the table, as plain SVG: per system, the hit rate, the request balance and
# the mean TTFT over all rounds (scaled to the slowest system's).
width, bar_h, gap, left = 640, 16, 10, 150
height = 56 + len(rows) * (3 * bar_h + gap)
slowest = max((r["pooled"] for r in rows), default=1.0) or 1.0
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="10" y="18">engine prefix-cache hit rate (blue, 0-1, median round), max/min requests</text>',
       '<text x="10" y="34">per engine (orange, 1-3), mean TTFT over all rounds (green, ms)</text>']
for k, r in enumerate(rows):
    y = 50 + k * (3 * bar_h + gap)
    span = width - left - 70
    hit_w = 0 if r["hit"] != r["hit"] else r["hit"] * span
    ratio_w = max(min(max(r["ratio"] - 1, 0) / 2, 1) * span, 1)
    ttft_w = max(r["pooled"] / slowest * span, 1)
    bars = [(hit_w, "#3b7dd8", f'{r["hit"]:.2f}'), (ratio_w, "#e08a2c", f'{r["ratio"]:.2f}'),
            (ttft_w, "#3a9a4a", f'{r["pooled"]:.0f}')]
    svg.append(f'<text x="10" y="{y + 2 * bar_h - 4}">{r["system"]}</text>')
    for b, (w, colour, label) in enumerate(bars):
        top = y + b * bar_h
        svg.append(f'<rect x="{left}" y="{top}" width="{w:.1f}" height="{bar_h - 2}" fill="{colour}"/>')
        svg.append(f'<text x="{left + w + 4:.1f}" y="{top + bar_h - 4}">{label}</text>')
svg.append("</svg>")
(out / "chart.svg").write_text("\n".join(svg))
