#!/usr/bin/env python3
"""Turns the overhead bench's raw results into one JSON file and markdown tables.

Usage: report.py RESULTS_DIR OUT_JSON   (also writes OUT_JSON with a .md suffix)
RESULTS_DIR holds loadgen's JSON lines (open-RATE.json, stream-RATE.json: all targets, several
rounds each; closed.jsonl: one line per closed-loop segment), wrk.jsonl (one line per wrk
segment) and meta.json, as overhead.sh writes them.
"""
import json
import statistics
import sys
from pathlib import Path


# Target name and the meta.json key that holds its version, in the order they are listed.
PEER_VERSION_KEYS = [("vllm-router", "vllm_router"), ("sglang-router", "sglang_router"),
                     ("nginx", "nginx"), ("litellm", "litellm")]


def load(path):
    text = path.read_text().strip()
    return json.loads(text.splitlines()[-1]) if text else None


def ms(value_us):
    return None if value_us is None else round(value_us / 1000.0, 3)


def fmt(value, signed=False, digits=3):
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def jsonl(path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []


def closed_stats(closed, name):
    """Median req/s, CPU per request weighted by requests, last RSS, errors, over segments."""
    mine = [t for run in closed for t in run["targets"] if t["name"] == name]
    if not mine:
        return None
    with_cpu = [t for t in mine if t.get("cpu_us_per_req") is not None]
    requests = sum(t["requests"] for t in with_cpu)
    return {
        "rps": round(statistics.median(t["rps_median"] for t in mine if t["rps_median"] is not None)),
        "cpu_us_per_req": round(sum(t["cpu_us_per_req"] * t["requests"] for t in with_cpu) / requests, 1)
        if requests else None,
        "rss_kib": mine[-1].get("rss_kib"),
        "errors": sum(t["errors"] for t in mine),
    }


def by_name(run):
    return {t["name"]: t for t in run["targets"]} if run else {}


def main(res_dir, out_path):
    res = Path(res_dir)
    meta = json.loads((res / "meta.json").read_text())
    runs = {p.stem: load(p) for p in sorted(res.glob("*.json")) if p.stem not in ("meta", "bench-ab")}
    wrk = jsonl(res / "wrk.jsonl")
    closed = jsonl(res / "closed.jsonl")
    names = meta["targets"].split()
    rates = sorted(int(k.split("-")[1]) for k in runs if k.startswith("open-"))
    stream_key = next((k for k in runs if k.startswith("stream-")), None)

    summary, floor = {}, {}
    for name in names:
        s = summary.setdefault(name, {"added_ms": {}})
        for rate in rates:
            t = by_name(runs[f"open-{rate}"]).get(name)
            if not t:
                continue
            if name == "direct":
                floor[str(rate)] = {"p50": ms(t["latency_us"]["p50"]), "p99": ms(t["latency_us"]["p99"])}
            elif t.get("added_us"):
                s["added_ms"][str(rate)] = {"p50": ms(t["added_us"]["p50"]), "p99": ms(t["added_us"]["p99"])}
            if rate == 2000 or (2000 not in rates and rate == rates[0]):
                s["cpu_us_per_req_open"] = t.get("cpu_us_per_req")
                s["cpu_util_open"] = t.get("cpu_util")
                s["cpu_rate"] = rate
        t = by_name(runs.get(stream_key)).get(name) if stream_key else None
        if t and t.get("ttfc_us"):
            if name == "direct":
                floor["stream_ttfc"] = {"p50": ms(t["ttfc_us"]["p50"]), "p99": ms(t["ttfc_us"]["p99"])}
            elif t.get("added_us"):
                s["stream_ttfc_added_ms"] = {"p50": ms(t["added_us"]["ttfc_p50"]),
                                             "p99": ms(t["added_us"]["ttfc_p99"])}
        c = closed_stats(closed, name)
        wrk_rps = [w["rps"] for w in wrk if w["target"] == name and w["rps"] is not None]
        lg = c["rps"] if c else None
        wk = round(statistics.median(wrk_rps)) if wrk_rps else None
        best = max((v for v in (lg, wk) if v is not None), default=None)
        s["max_rps"] = {"loadgen": lg, "wrk": wk, "best": best,
                        "generator": None if best is None else ("wrk" if best == wk else "loadgen")}
        if c:
            s["cpu_us_per_req_closed"] = c.get("cpu_us_per_req")
            s["rss_mib"] = None if c.get("rss_kib") is None else round(c["rss_kib"] / 1024, 1)
        s["errors"] = sum(by_name(r).get(name, {}).get("errors", 0) for r in runs.values() if r) \
            + sum(w.get("non2xx", 0) + w.get("socket_errors", 0) for w in wrk if w["target"] == name) \
            + (c["errors"] if c else 0)

    ceiling = summary.get("direct", {}).get("max_rps", {}).get("best")
    vllm = summary.get("vllm-router", {}).get("max_rps", {}).get("best")
    for name, s in summary.items():
        best = s["max_rps"]["best"]
        s["max_rps"]["vs_vllm_router"] = round(best / vllm, 2) if best and vllm else None
        s["max_rps"]["generator_bound"] = bool(best and ceiling and name != "direct" and best >= 0.9 * ceiling)

    checks = []
    for sy_name in ("switchyard", "switchyard-busy-poll"):
        sy = summary.get(sy_name)
        if not sy:
            continue
        a2 = sy["added_ms"].get("2000", {})
        tt = sy.get("stream_ttfc_added_ms", {})
        ratio = sy["max_rps"].get("vs_vllm_router")
        for what, value, limit, ok in [
            ("added p50 at 2,000 req/s (ms)", a2.get("p50"), "<= 0.1", a2.get("p50") is not None and a2["p50"] <= 0.1),
            ("added p99 at 2,000 req/s (ms)", a2.get("p99"), "<= 0.5", a2.get("p99") is not None and a2["p99"] <= 0.5),
            ("streamed TTFC added p50 (ms)", tt.get("p50"), "<= 0.2", tt.get("p50") is not None and tt["p50"] <= 0.2),
            ("max throughput / vllm-router", ratio, ">= 1.5", ratio is not None and ratio >= 1.5),
        ]:
            checks.append({"check": f"{sy_name}: {what}", "value": value, "target": limit, "pass": ok})

    md = render(meta, names, rates, summary, floor, checks, runs)
    ab_file = Path(res_dir) / "bench-ab.json"
    if ab_file.exists():
        ab = json.loads(ab_file.read_text()).get("ab") or {}
        def signed(v):
            return "-" if v is None else f"{v:+.3f}"
        md += ("\nCross-check with `switchyard bench` A/B mode (direct vs Switchyard, 2,000 req/s constant, "
               f"{ab.get('rounds')} interleaved rounds): added E2E p50 {signed(ab.get('added_e2e_p50_ms'))} ms, "
               f"p99 {signed(ab.get('added_e2e_p99_ms'))} ms.\n")
    result = {"meta": meta, "summary": summary, "direct_floor_ms": floor, "checks": checks,
              "runs": runs, "closed_loadgen": closed, "wrk": wrk}
    out = Path(out_path)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(md)
    print(md)
    print(f"results: {out} and {out.with_suffix('.md')}", file=sys.stderr)


def render(meta, names, rates, summary, floor, checks, runs):
    lag = next((r.get("pacer_lag_us") for k, r in runs.items() if k.startswith("open-") and r), None)
    lines = [f"Router on core {meta['router_core']}, load generator and upstream on core "
             f"{meta['generator_core']}; medians of {meta['rounds']} interleaved rounds of "
             f"{meta['duration_s']} s per target{'; idle cores kept busy during the latency runs (--spin-idle)' if meta.get('spin_idle') else ''}. Load average before/after: "
             f"{meta.get('loadavg_before')}/{meta.get('loadavg_after')} (above ~0.5: other work shared the cores).", ""]
    versions = [f"{name} {meta[key]}" for name, key in PEER_VERSION_KEYS
                if name in names and meta.get(key)]
    if versions:
        lines += [f"Peers: {', '.join(versions)} (their flags: meta in the JSON).", ""]
    head = ["target"] + [f"{r // 1000 if r % 1000 == 0 else r / 1000}k {p}" for r in rates for p in ("p50", "p99")] \
        + ["stream TTFC p50", "stream TTFC p99"]
    lines += ["Added latency vs direct, ms (direct row: absolute, the generator's floor)", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    row = ["direct (absolute)"] + [fmt(floor.get(str(r), {}).get(p)) for r in rates for p in ("p50", "p99")] \
        + [fmt(floor.get("stream_ttfc", {}).get(p)) for p in ("p50", "p99")]
    lines.append("| " + " | ".join(row) + " |")
    for name in names:
        if name == "direct":
            continue
        s = summary[name]
        row = [name] + [fmt(s["added_ms"].get(str(r), {}).get(p), True) for r in rates for p in ("p50", "p99")] \
            + [fmt(s.get("stream_ttfc_added_ms", {}).get(p), True) for p in ("p50", "p99")]
        lines.append("| " + " | ".join(row) + " |")
    cpu_rate = next((s.get("cpu_rate") for s in summary.values() if s.get("cpu_rate")), "?")
    head = ["target", "max req/s (loadgen)", "max req/s (wrk)", "max req/s", "by", "x vllm-router",
            f"CPU us/req @{cpu_rate}", "CPU us/req @max", "RSS MiB", "errors"]
    lines += ["", f"Throughput (closed loop, {meta['closed_connections']} connections) and cost of the process on the router core "
              "(direct row: the upstream's own cost, and the ceiling of the shared generator core)", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        s, m = summary[name], summary[name]["max_rps"]
        best = "-" if m["best"] is None else f"{m['best']:.0f}" + (" (gen-bound)" if m["generator_bound"] else "")
        row = [name, fmt(m["loadgen"], digits=0), fmt(m["wrk"], digits=0), best, m["generator"] or "-",
               fmt(m.get("vs_vllm_router"), digits=2),
               fmt(s.get("cpu_us_per_req_open"), digits=1), fmt(s.get("cpu_us_per_req_closed"), digits=1),
               fmt(s.get("rss_mib"), digits=1), str(s["errors"])]
        lines.append("| " + " | ".join(row) + " |")
    if meta.get("spin_idle"):
        lines += ["", "With --spin-idle the p99 columns are unreliable: the busy loop on the generator core "
                  "lengthens the direct path's tail, which can make added p99 negative."]
    if lag:
        lines += ["", f"Open-loop pacer lag (send time vs schedule), us: p50 {lag['p50']}, p99 {lag['p99']}."]
    if checks:
        lines += ["", "| Switchyard target | value | goal | |", "|---|---|---|---|"]
        for c in checks:
            lines.append(f"| {c['check']} | {fmt(c['value'])} | {c['target']} | {'PASS' if c['pass'] else 'FAIL'} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
