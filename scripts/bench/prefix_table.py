"""Table of a prefix-compare.sh run: python3 prefix_table.py DIR SYSTEM..."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
rows = []
for system in sys.argv[2:]:
    path = out / f"{system}.json"
    if not path.exists():
        continue
    r = json.loads(path.read_text())
    s = r["overall"]
    eps = r["endpoints"]
    queries = sum(e.get("prefix_cache_queries") or 0 for e in eps)
    hits = sum(e.get("prefix_cache_hits") or 0 for e in eps)
    served = [e.get("engine_requests") or 0 for e in eps]
    fair = sum(served) / len(served) if served else 0
    ttft = s.get("ttft_ms") or {}
    rows.append((system, hits / queries if queries else float("nan"), ttft.get("mean"), ttft.get("p99"),
                 s["request_throughput"], max(served) / max(min(served), 1), max(served) / fair - 1 if fair else 0,
                 s["requests_failed"]))
oracle = next((r for r in rows if r[0] == "oracle"), None)
sglang = next((r for r in rows if r[0] == "sglang"), None)
print(f"workload: {json.loads((out / (rows[0][0] + '.json')).read_text())['config']['workload']}\n")
print("| system | engine prefix-cache hit rate | vs oracle | mean TTFT ms | vs sglang | p99 TTFT ms | req/s | max/min requests | max over fair share | failed |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name, hit, mean, p99, rps, ratio, over, failed in rows:
    vs_oracle = f"{hit / oracle[1]:.2f}x" if oracle and oracle[1] else "-"
    vs_sglang = f"{mean / sglang[2]:.2f}x" if sglang and sglang[2] and mean else "-"
    print(f"| {name} | {hit:.3f} | {vs_oracle} | {mean:.1f} | {vs_sglang} | {p99:.1f} | {rps:.2f} | {ratio:.2f} | {over:+.0%} | {failed} |")

# A chart beside the table: hit rate and request balance per system, as plain SVG.
width, bar_h, gap, left = 640, 16, 10, 150
height = 40 + len(rows) * (2 * bar_h + gap)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
       '<text x="10" y="18">engine prefix-cache hit rate (blue, 0-1) and max/min requests per engine (orange, 1-3)</text>']
for k, (name, hit, _mean, _p99, _rps, ratio, _over, _failed) in enumerate(rows):
    y = 34 + k * (2 * bar_h + gap)
    span = width - left - 60
    hit_w = 0 if hit != hit else hit * span
    ratio_w = min(max(ratio - 1, 0) / 2, 1) * span
    svg.append(f'<text x="10" y="{y + bar_h + 4}">{name}</text>')
    svg.append(f'<rect x="{left}" y="{y}" width="{hit_w:.1f}" height="{bar_h - 2}" fill="#3b7dd8"/>')
    svg.append(f'<text x="{left + hit_w + 4:.1f}" y="{y + bar_h - 4}">{hit:.2f}</text>')
    svg.append(f'<rect x="{left}" y="{y + bar_h}" width="{max(ratio_w, 1):.1f}" height="{bar_h - 2}" fill="#e08a2c"/>')
    svg.append(f'<text x="{left + max(ratio_w, 1) + 4:.1f}" y="{y + 2 * bar_h - 4}">{ratio:.2f}</text>')
svg.append("</svg>")
(out / "chart.svg").write_text("\n".join(svg))
