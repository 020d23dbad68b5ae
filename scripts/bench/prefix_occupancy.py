"""Mean TTFT by how busy the machine was when each request was sent, from a prefix-compare.sh
run's per-request samples: python3 prefix_occupancy.py DIR SYSTEM...

For each request it counts the requests in flight at its send time, on the same engine
(when the samples name it, i.e. behind Switchyard) and in all. If TTFT follows the count on
the request's own engine, spreading load pays; if it follows the count in all, the engines
share their compute (as two CPU engines on two shared cores do) and spreading buys little.
"""
import json
import statistics
import sys
from pathlib import Path

out = Path(sys.argv[1])
BUCKETS = 8  # the last bucket holds that many in flight or more


def rows(path):
    samples = [s for s in json.loads(path.read_text())["samples"] if s.get("ttft_ms") is not None]
    spans = [(s["t_s"], s["t_s"] + s["e2e_ms"] / 1000, s.get("endpoint")) for s in samples]
    for s in samples:
        t, endpoint = s["t_s"], s.get("endpoint")
        busy = [e for start, end, e in spans if start < t < end]
        same = sum(1 for e in busy if e == endpoint) if endpoint else None
        yield same, len(busy), s["ttft_ms"]


def by_count(points):
    buckets = {}
    for count, ttft in points:
        buckets.setdefault(min(count, BUCKETS), []).append(ttft)
    return " ".join(f"{k}{'+' if k == BUCKETS else ''}: {statistics.mean(v):.0f} ms (n={len(v)})"
                    for k, v in sorted(buckets.items()))


for system in sys.argv[2:]:
    for path in sorted(out.glob(f"{system}-r*.json")):
        points = list(rows(path))
        if not points:
            continue
        print(f"{path.stem}: mean TTFT {statistics.mean(p[2] for p in points):.0f} ms, "
              f"in flight at send {statistics.mean(p[1] for p in points):.2f} in all")
        print(f"  by in flight in all:        {by_count((p[1], p[2]) for p in points)}")
        if points[0][0] is not None:
            print(f"  by in flight on its engine: {by_count((p[0], p[2]) for p in points)}")
