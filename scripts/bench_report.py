#!/usr/bin/env python3
"""Turns the raw results of scripts/benchmark.sh into docs/BENCHMARKS.md and docs/benchmark.png.

Usage: bench_report.py RESULTS_DIR DOCS_DIR. Every figure comes from the k6 summaries, the resource samples and the
start-up timings in RESULTS_DIR; medians are taken over the runs.
"""
import csv
import glob
import json
import os
import platform
import re
import sys
from collections import defaultdict

from cpu_report import END as CPU_END, START as CPU_START
from hog_traffic import END as HOG_END, START as HOG_START
from peers_report import END as PEERS_END, START as PEERS_START
from report_sections import kept_between, median, replace_between, settings

# The section on what jackson-databind costs, written from scripts/benchmark-databind.sh's figures.
DATABIND_START = "<!-- cost-of-databind: from scripts/benchmark-databind.sh -->"
DATABIND_END = "<!-- end of cost-of-databind -->"

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGETS = {"throughput_ratio": 0.85, "p50_added_ms": 3.0, "jvm_rss_mb": 150, "ready_ms": 1500,
           "durable_ratio": 0.60}


def load(path):
    with open(path) as f:
        return json.load(f)


def value(summary, metric, stat):
    m = summary["metrics"].get(metric)
    return None if m is None else m["values"].get(stat)


def resources(csv_path):
    """Per process: mean CPU % over the run and the largest RSS in MB."""
    rows = defaultdict(list)
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            rows[row["name"]].append((float(row["t"]), int(row["ticks"]), int(row["rss_kb"])))
    hz = os.sysconf("SC_CLK_TCK")
    result = {}
    for name, samples in rows.items():
        if len(samples) < 2:
            continue
        (t0, c0, _), (t1, c1, _) = samples[0], samples[-1]
        result[name] = {"cpu_pct": 100.0 * (c1 - c0) / hz / (t1 - t0), "rss_mb": max(s[2] for s in samples) / 1024}
    return result


def store_results(out, store):
    creates = [load(p) for p in sorted(glob.glob(os.path.join(out, f"{store}-create-[0-9]*.json")))]
    baselines = [load(p) for p in sorted(glob.glob(os.path.join(out, f"{store}-baseline-[0-9]*.json")))]
    floors = [load(p) for p in sorted(glob.glob(os.path.join(out, f"{store}-floor-[0-9]*.json")))]
    res = [resources(p) for p in sorted(glob.glob(os.path.join(out, f"{store}-resources-*.csv")))]
    base_res = [resources(p) for p in sorted(glob.glob(os.path.join(out, f"{store}-baseline-resources-*.csv")))]
    r = {"runs": len(creates), "has_baseline": bool(baselines), "drain": []}
    for path in sorted(glob.glob(os.path.join(out, f"{store}-drain-*.txt"))):
        with open(path) as f:
            text = f.read()
        backlog = int(text.split("backlog at the end of the run: ")[1].split()[0])
        drained = [int(line.split()[1]) for line in text.splitlines() if line.startswith("drained_ms")]
        r["drain"].append((backlog, drained[0] if drained else None))
    for key, runs, rate_metric, latency_metric in (("ours", creates, "http_reqs", "http_req_duration"),
                                                   ("baseline", baselines, "http_reqs", "http_req_duration"),
                                                   ("floor", floors, "iterations", "iteration_duration")):
        r[key] = {
            "rate": median([value(s, rate_metric, "rate") for s in runs]),
            "failed": median([value(s, "http_req_failed", "rate") for s in runs]),
            **{stat: median([value(s, latency_metric, stat) for s in runs]) for stat in ("med", "p(90)", "p(99)")},
            "p50_each": [value(s, latency_metric, "med") for s in runs],
        }
    r["p50_added_each"] = [o - f for o, f in zip(r["ours"]["p50_each"], r["floor"]["p50_each"])]
    r["p50_added"] = median(r["p50_added_each"])
    replicas = defaultdict(list)
    for s in creates:
        if "replica_counts" in s:  # load/create-tasks.js's own count per replica name
            for name, count in s["replica_counts"].items():
                replicas[name].append(count)
            continue
        for name, m in s["metrics"].items():  # results written before replica_counts: one submetric per name
            if name.startswith("notifications_delivered{replica:"):
                replicas[name[len("notifications_delivered{replica:"):-1]].append(m["values"]["count"])
    r["replicas"] = {name: sum(counts) for name, counts in sorted(replicas.items())}
    for key, runs in (("resources", res), ("baseline_resources", base_res)):
        names = sorted({n for run in runs for n in run})
        r[key] = {n: {k: median([run[n][k] for run in runs if n in run]) for k in ("cpu_pct", "rss_mb")}
                  for n in names}
    for target in ("todo", "baseline", "floor"):
        path = os.path.join(out, f"{store}-maxrate-{target}.json")
        r[f"max_{target}"] = load(path)["max_rate"] if os.path.exists(path) else None
    return r


def startup(out):
    times = defaultdict(list)
    with open(os.path.join(out, "startup.txt")) as f:
        for line in f:
            name, ms = line.split()
            times[name].append(int(ms))
    return {name: (median(ms), ms) for name, ms in times.items()}


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({model}), {mem_gib:.0f} GiB, Linux {platform.release()}"


def chart(results, path):
    stores = list(results)
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.13
    stats = ("med", "p(90)", "p(99)")
    whos = ("ours", "baseline", "floor")
    names = {"ours": "todo-api, durable", "baseline": "todo-api before the outbox", "floor": "floor (sidecar only)"}
    width = 0.8 / (len(whos) * len(stores))
    for i, store in enumerate(stores):
        for j, who in enumerate(whos):
            n = i * len(whos) + j
            xs = [k + (n - (len(whos) * len(stores) - 1) / 2) * width for k in range(len(stats))]
            ys = [results[store][who][s] or 0 for s in stats]
            lat.bar(xs, ys, width, label=f"{names[who]}, {store}")
    lat.set_xticks(range(len(stats)), ["p50", "p90", "p99"])
    lat.set_ylabel("ms (one create, or the floor's save + invoke)")
    lat.set_yscale("log")
    lat.set_title("Latency at the fixed rate (median of runs)")
    lat.legend(fontsize=8)
    labels, ours, baseline, floor = [], [], [], []
    for store in stores:
        labels.append(store)
        ours.append((results[store]["max_todo"] or {}).get("best", 0))
        baseline.append((results[store]["max_baseline"] or {}).get("best", 0))
        floor.append((results[store]["max_floor"] or {}).get("best", 0))
    xs = range(len(labels))
    thr.bar([x - 0.27 for x in xs], ours, 0.27, label="todo-api POST /tasks, durable")
    thr.bar([x for x in xs], baseline, 0.27, label="todo-api before the outbox")
    thr.bar([x + 0.27 for x in xs], floor, 0.27, label="floor: save + invoke straight to the sidecar")
    thr.set_xticks(list(xs), [f"{s} store" for s in labels])
    thr.set_ylabel("highest rate held, per second")
    thr.set_title("Throughput (p99 bound, no errors)")
    thr.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def verdict(ok):
    return "met" if ok else "**missed**"


def latency_table(rows):
    """The fixed-rate table: for each (label, medians of runs) that has runs, rate, failures and latencies."""
    lines = ["| | achieved/s | failed | p50 | p90 | p99 |", "|---|---|---|---|---|---|"]
    for label, x in rows:
        if x["rate"] is not None:
            lines.append(f"| {label} | {fmt(x['rate'], 1)} | {fmt(100 * (x['failed'] or 0))}% | {fmt(x['med'])} | "
                         f"{fmt(x['p(90)'])} | {fmt(x['p(99)'])} |")
    return lines


def resource_table(r, ours, theirs=None):
    """Per process, CPU % and max RSS of this system's runs (`ours`) and, when named, the baseline's (`theirs`), and
    the totals."""
    none = {"cpu_pct": None, "rss_mb": None}
    sides = [(ours, r["resources"])] + ([(theirs, r["baseline_resources"])] if theirs else [])
    label = (lambda name, side: f"{name} {side}") if theirs else (lambda name, side: name)
    lines = ["| process | " + " | ".join(label("CPU %", n) for n, _ in sides) + " | "
             + " | ".join(label("max RSS MB", n) for n, _ in sides) + " |", "|---|" + "---|" * (2 * len(sides))]
    for name in sorted(set().union(*(runs for _, runs in sides))):
        values = [runs.get(name, none) for _, runs in sides]
        lines.append(f"| {name} | " + " | ".join(fmt(v["cpu_pct"], 1) for v in values) + " | "
                     + " | ".join(fmt(v["rss_mb"], 1) for v in values) + " |")
    totals = [sum(v["cpu_pct"] or 0 for v in runs.values()) for _, runs in sides]
    lines.append("| **all** | " + " | ".join(f"**{fmt(t, 1)}**" for t in totals) + " |" + " |" * len(sides))
    return lines


# The sections written by a run against this same checkout started another way (BASELINE_REF=insecure|unobserved):
# each replaces only its own part of docs/BENCHMARKS.md.
COSTS = {
    "insecure": {
        "marker": "cost-of-security", "title": "Cost of security", "ours": "secure", "theirs": "insecure",
        "ours_row": "secure default `POST /tasks`", "theirs_row": "`--insecure` `POST /tasks`",
        "floor_row": "floor, secure sidecars (save + invoke, k6 with the token)",
        "what": "the secure default of `scripts/run.sh` (Sentry's mTLS on every sidecar hop, access control on "
                "notification-service, `DAPR_API_TOKEN` and `APP_API_TOKEN` both ways) against the same checkout "
                "started beside it with `--insecure` (none of it)"},
    "unobserved": {
        "marker": "cost-of-observability", "title": "Cost of observability: tracing and metrics on against off",
        "ours": "on", "theirs": "off",
        "ours_row": "tracing + metrics on `POST /tasks`", "theirs_row": "tracing + metrics off `POST /tasks`",
        "floor_row": "floor, sidecars with tracing + metrics on (save + invoke, k6)",
        "what": "the default of `scripts/run.sh` (tracing at sampling 1 in every sidecar and both apps, every span "
                "sent to its Zipkin; Micrometer metrics in both apps and the sidecars' metrics, scraped every 2 s by "
                "its Prometheus) against the same checkout started beside it with `--no-tracing --no-metrics` (no "
                "Zipkin, no Prometheus, `OTEL_SDK_DISABLED=true`, `METRICS=off`, daprd `--enable-metrics=false`). "
                "The CPU table counts the Zipkin and Prometheus processes on the side that runs them"},
}


def markers(kind):
    marker = COSTS[kind]["marker"]
    return (f"<!-- {marker}: written by BASELINE_REF={kind} scripts/benchmark.sh -->", f"<!-- end of {marker} -->")


def cost_section(kind, out, s, results):
    """The section of a BASELINE_REF=insecure|unobserved run: the default against the same checkout without it."""
    c = COSTS[kind]
    start, end = markers(kind)
    lines = [start, f"## {c['title']}", "",
             f"One run of `BASELINE_REF={kind} STORES={s['STORES']} RATE={s['RATE']} DURATION={s['DURATION']} "
             f"RUNS={s['RUNS']} scripts/benchmark.sh` (results in `load/results/{os.path.basename(out)}/`): "
             f"{c['what']}; alternately, after the same warm-up; JVM options `{s['JAVA_OPTS']}`. Highest rate: "
             f"plateaus {s['MAX_RATES']}/s of {s['STEP']} each, p99 under {s['P99_MS']} ms.", ""]
    for store, r in results.items():
        o, b, f = r["ours"], r["baseline"], r["floor"]
        mt, mb = r["max_todo"] or {}, r["max_baseline"] or {}
        kept = (mt.get("best", 0) / mb["best"]) if mb.get("best") else None
        lines += [f"### {store} store", "", f"At {s['RATE']}/s, medians of {r['runs']} runs (ms):", ""]
        lines += latency_table(((c["ours_row"], o), (c["theirs_row"], b), (c["floor_row"], f)))
        lines += ["", f"Highest rate held: {c['ours']} {mt.get('best', '-')}/s, {c['theirs']} {mb.get('best', '-')}/s"
                  + (f": {c['ours']} keeps {100 * kept:.0f}% (aim: at least 90%)." if kept is not None else "."),
                  "", f"| plateau/s | {c['ours']} achieved | p99 ms | holds | {c['theirs']} achieved | p99 ms | holds |",
                  "|---|---|---|---|---|---|---|"]
        for pt, pb in zip(mt.get("plateaus", []), mb.get("plateaus", [])):
            lines.append(f"| {pt['rate']} | {fmt(pt['achieved'], 1)} | {fmt(pt['p99'])} | {'yes' if pt['holds'] else 'no'} "
                         f"| {fmt(pb['achieved'], 1)} | {fmt(pb['p99'])} | {'yes' if pb['holds'] else 'no'} |")
        lines += ["", f"CPU at {s['RATE']}/s (median of runs, % of one core) and max RSS:", ""]
        lines += resource_table(r, c["ours"], c["theirs"]) + [""]
    lines.append(end)
    return lines


def main(out, docs):
    s = settings(out)
    stores = s["STORES"].split()
    results = {store: store_results(out, store) for store in stores}
    os.makedirs(docs, exist_ok=True)
    report = os.path.join(docs, "BENCHMARKS.md")
    kind = s.get("BASELINE_REF")
    if kind in COSTS:
        section = "\n".join(cost_section(kind, out, s, results))
        text = open(report).read() if os.path.exists(report) else "# Benchmarks\n"
        with open(report, "w") as f:
            f.write(replace_between(text, *markers(kind), section))
        print(section)
        return
    ready = startup(out)
    chart(results, os.path.join(docs, "benchmark.png"))

    lines = ["# Benchmarks", "",
             "Produced by `scripts/benchmark.sh` (raw k6 summaries, HTML dashboards and resource samples in "
             f"`load/results/{os.path.basename(out)}/`, which is not committed). Every figure below is from that one run "
             "of the script; ratios compare runs made in it, minutes apart, on the same machine.", "",
             "## Machine and versions", "",
             f"- {machine()}; shared, so expect a few percent of noise between runs.",
             f"- {s['JAVA_VERSION']}, JVM options `{s['JAVA_OPTS']}`; daprd {s['DAPRD_VERSION']} (built from source, "
             f"`tools/daprd`); {s['K6_VERSION']}.",
             "- Everything on this one machine: k6, todo-api, 3 notification-service replicas, 4 daprd, the store. "
             "k6 and the sidecars compete with the services for the same 2 cores, so the highest rate held is the "
             "machine's limit for the whole system; the ratio to the floor says how much of it todo-api takes.", "",
             "## Settings and commands", "",
             f"- Fixed rate: {s['RATE']}/s for {s['DURATION']}, {s['RUNS']} runs, ours and the floor alternately "
             f"(after {s.get('WARMUP', '60s')} of warm-up at half that rate for each system); p99 bound {s['P99_MS']} ms.",
             f"- Highest rate held: plateaus {s['MAX_RATES']}/s of {s['STEP']} each (load/max-rate.js); a plateau "
             "holds with no error, p99 under the bound and 95% of the target rate reached.",
             "- Ours: `k6 run load/create-tasks.js` (`POST /tasks` through todo-api: the task and its notification "
             "saved in one outbox transaction, the notification sent at once, the outbox event consumed, and "
             "notification-service recording each delivery). "
             + (f"Baseline: the same script against the system as of `{s['BASELINE_REF']}` "
                f"({s.get('BASELINE_SUBJECT', '')}), before notifications were durable (a plain save, the notification "
                "sent once, an in-memory redelivery queue), running beside it on other ports. "
                if s.get("BASELINE_REF") else "")
             + "Floor: `k6 run load/floor.js`, a plain state save and invocation sent by k6 straight to todo-api's "
             "sidecar.",
             f"- Command: `RATE={s['RATE']} DURATION={s['DURATION']} RUNS={s['RUNS']} scripts/benchmark.sh`", "",
             "![latency and throughput, todo-api vs the floor](benchmark.png)", ""]

    for store in stores:
        r = results[store]
        o, b, f = r["ours"], r["baseline"], r["floor"]
        mt, mb, mf = r["max_todo"] or {}, r["max_baseline"] or {}, r["max_floor"] or {}
        top = max(int(x) for x in str(s['MAX_RATES']).split(","))
        ratio = (mt.get("best", 0) / mf["best"]) if mf.get("best") else None
        durable = (mt.get("best", 0) / mb["best"]) if mb.get("best") else None
        lines += [f"## {store} store", "",
                  f"At {s['RATE']}/s, medians of {r['runs']} runs (ms):", ""]
        rows = [("todo-api `POST /tasks`, durable", o), ("floor (save + invoke)", f)]
        if r["has_baseline"]:
            rows.insert(1, ("todo-api before the outbox (baseline)", b))
        lines += latency_table(rows)
        if r["drain"]:
            lines += ["", "The outbox keeps up: events left unread or unacknowledged (internal topic and notifications) "
                      "when each fixed-rate run ended, and how long until none were left: "
                      + ", ".join(f"{n} events, {'not drained' if ms is None else f'{ms / 1000:.1f} s'}"
                                  for n, ms in r["drain"]) + "."]
        held = [f"todo-api {mt.get('best', '-')}/s"] + ([f"baseline {mb.get('best', '-')}/s"] if r["has_baseline"] else [])
        lines += ["", f"Against the floor, todo-api adds {fmt(r['p50_added'])} ms at p50 (per run: "
                  f"{', '.join(fmt(x) for x in r['p50_added_each'])}).", "",
                  "Highest rate held: " + ", ".join(held + [f"floor {mf.get('best', '-')}/s"])
                  + (f"; durable/baseline {100 * durable:.0f}%" if durable is not None else "")
                  + (f"; durable/floor {100 * ratio:.0f}%." if ratio is not None else ".")
                  + (f" A system that held the highest plateau tried ({top}/s) may hold more: its ratio is an upper "
                     "bound for the durable path." if top in (mb.get('best'), mf.get('best')) else ""), ""]
        systems = [("todo-api", mt)] + ([("baseline", mb)] if r["has_baseline"] else []) + [("floor", mf)]
        lines += ["| plateau/s | " + " | ".join(f"{n} achieved | p99 ms | holds" for n, _ in systems) + " |",
                  "|---|" + "---|---|---|" * len(systems)]
        for i, pt in enumerate(mt.get("plateaus", [])):
            cells = []
            for _, m in systems:
                p = (m.get("plateaus") or [])[i] if i < len(m.get("plateaus") or []) else {"achieved": None, "p99": None, "holds": False}
                cells.append(f"{fmt(p['achieved'], 1)} | {fmt(p['p99'])} | {'yes' if p['holds'] else 'no'}")
            lines.append(f"| {pt['rate']} | " + " | ".join(cells) + " |")
        total = sum(r["replicas"].values())
        lines += ["", f"Notifications per replica over the {r['runs']} fixed-rate runs ({total} in all): "
                  + ", ".join(f"{n} {c} ({100 * c / total:.1f}%)" for n, c in r["replicas"].items()) + ".", ""]
        lines += [f"Where the time goes: CPU at {s['RATE']}/s (median of runs, % of one core"
                  + ("; the machine has 200" if not r["has_baseline"] else "") + ") and max RSS"
                  + (", durable against the baseline" if r["has_baseline"] else "") + ":", ""]
        lines += resource_table(r, "durable", "baseline" if r["has_baseline"] else None)
        lines.append("")

    lines += ["## Start-up", "", "Process start to the first answer of its health route, 3 starts each (ms):", "",
              "| process | median | runs |", "|---|---|---|"]
    for name, (med, runs) in sorted(ready.items()):
        lines.append(f"| {name} | {fmt(med, 0)} | {', '.join(map(str, runs))} |")

    jvm_rss = max((v["rss_mb"] for r in results.values() for n, v in r["resources"].items()
                   if n == "todo-api" or re.fullmatch(r"notification-\d+", n)), default=None)
    lines += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
    for store in stores:
        r = results[store]
        mt, mf = r["max_todo"] or {}, r["max_floor"] or {}
        ratio = (mt.get("best", 0) / mf["best"]) if mf.get("best") else 0
        lines.append(f"| throughput ≥ 85% of the floor ({store}) | {100 * ratio:.0f}% | "
                     f"{verdict(ratio >= TARGETS['throughput_ratio'])} |")
        lines.append(f"| todo-api adds ≤ 3 ms at p50 over the floor at {s['RATE']}/s ({store}) | {fmt(r['p50_added'])} ms | "
                     f"{verdict(r['p50_added'] is not None and r['p50_added'] <= TARGETS['p50_added_ms'])} |")
        mb = r["max_baseline"] or {}
        if mb.get("best"):
            durable = mt.get("best", 0) / mb["best"]
            lines.append(f"| durable keeps ≥ 60% of the baseline's highest rate, same p99 bound ({store}) | "
                         f"{100 * durable:.0f}% | {verdict(durable >= TARGETS['durable_ratio'])} |")
    lines.append(f"| each of our JVMs ≤ 150 MB RSS under load | {fmt(jvm_rss, 1)} MB at most | "
                 f"{verdict(jvm_rss is not None and jvm_rss <= TARGETS['jvm_rss_mb'])} |")
    for name in ("todo-api", "notification-service"):
        med = ready.get(name, (None, []))[0]
        lines.append(f"| {name} ready ≤ 1.5 s after start | {fmt(med, 0)} ms | "
                     f"{verdict(med is not None and med <= TARGETS['ready_ms'])} |")
    lines.append("")
    # The sections other scripts write stay as they were: the last security and observability runs', the peers
    # comparison (peers_report.py), the cost of jackson-databind (by hand), the CPU-hog trials (hog_traffic.py) and
    # the CPU profile (cpu_report.py).
    for start, end in [*(markers(kind) for kind in COSTS), (PEERS_START, PEERS_END), (DATABIND_START, DATABIND_END),
                       (HOG_START, HOG_END), (CPU_START, CPU_END)]:
        kept = kept_between(report, start, end)
        if kept:
            lines += [kept, ""]
    with open(report, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
