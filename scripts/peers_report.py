#!/usr/bin/env python3
"""The peers comparison of scripts/benchmark-peers.sh, from its results folder:
  peers_report.py OUT DOCS     the "Against what teams would pick instead" section of DOCS/BENCHMARKS.md (its own part
                               only) and DOCS/peers.png
  peers_report.py OUT --check  the test command's smoke: every peer answered every create with the pending task, the
                               replicas counted exactly one notification per answered create, the rate search ran;
                               exit 1 otherwise
"""
import json
import os
import platform
import sys

from report_sections import median, replace_between, settings

START = "<!-- peers: written by scripts/benchmark.sh peers -->"
END = "<!-- end of peers -->"
NAMES = {
    "todo-api": "todo-api (this project)",
    "fastapi": "seed FastAPI + dapr SDK",
    "spring": "Spring Boot + Dapr SDK, our JVM flags",
    "spring-defaults": "Spring Boot + Dapr SDK, JVM defaults",
}


def rows(out):
    with open(os.path.join(out, "runs.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def max_rate(out, peer):
    path = os.path.join(out, f"{peer}-maxrate.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f).get("max_rate")


def fmt(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"


def summary(out, peers):
    """{peer: medians over its runs, and its rate search}."""
    by = {}
    all_rows = rows(out)
    for peer in peers:
        mine = [r for r in all_rows if r["peer"] == peer]
        if not mine:
            continue
        by[peer] = {
            "runs": len(mine),
            "warm": median([r["warm"]["throughput"] for r in mine]),
            "warm_each": [r["warm"]["throughput"] for r in sorted(mine, key=lambda r: r["run"])],
            "cold": median([r["cold"]["throughput"] for r in mine]),
            "p50": median([r["warm"]["p50"] for r in mine]),
            "p90": median([r["warm"]["p90"] for r in mine]),
            "p99": median([r["warm"]["p99"] for r in mine]),
            "rss": max(r["max_rss_mb"] for r in mine if r["max_rss_mb"] is not None),
            "first": median([r["first_answer_ms"] for r in mine]),
            "first_each": [r["first_answer_ms"] for r in sorted(mine, key=lambda r: r["run"])],
            "cpu": median([r["cpu_ms_per_request"] for r in mine]),
            "system_cpu": median([r.get("system_cpu_ms_per_request") for r in mine]),
            "drain": median([r.get("drain_ms") for r in mine]),
            "failed": sum(r["warm"]["failed_checks"] + r["cold"]["failed_checks"] for r in mine),
            "max_rate": max_rate(out, peer),
        }
    return by


def start_trials(out):
    """{variant: [ms, ...]} from start.txt (todo-api with and without its class-data archive)."""
    trials = {}
    path = os.path.join(out, "start.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                name, ms = line.split()
                trials.setdefault(name, []).append(int(ms))
    return trials


def check(out):
    s = settings(out)
    peers = s["PEERS"].split()
    problems = []
    all_rows = rows(out)
    for peer in peers:
        mine = [r for r in all_rows if r["peer"] == peer]
        if not mine:
            problems.append(f"{peer}: no run")
        for r in mine:
            for phase in ("cold", "warm"):
                c = r[phase]
                if c["requests"] == 0 or c["failed_checks"] or c["failed"]:
                    problems.append(f"{peer} run {r['run']} {phase}: {c['requests']} creates, {c['failed_checks']} "
                                    f"failed checks, {100 * c['failed']:.1f}% failed")
            if r["delivered"] != r["answered"]:
                problems.append(f"{peer} run {r['run']}: the replicas counted {r['delivered']} notifications for "
                                f"{r['answered']} answered creates")
            print(f"{peer}: first answer {r['first_answer_ms']} ms; {r['answered']} creates answered, "
                  f"{r['delivered']} notifications counted at the replicas; warm {r['warm']['throughput']:.1f}/s")
        m = max_rate(out, peer)
        if not m or not m.get("plateaus") or not any(p["achieved"] > 0 for p in m["plateaus"]):
            problems.append(f"{peer}: the rate search did not run")
    for p in problems:
        print("FAILED: " + p, file=sys.stderr)
    return 1 if problems else 0


def chart(by, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    peers = list(by)
    labels = [NAMES[p].replace(" + ", "\n+ ").replace(", ", "\n") for p in peers]
    colors = ["#2b7bba" if p == "todo-api" else "#999999" for p in peers]
    panels = [
        ("closed-loop throughput (creates/s)", [by[p]["warm"] for p in peers]),
        ("highest constant rate held (/s)", [(by[p]["max_rate"] or {}).get("best") or 0 for p in peers]),
        ("p99 latency, closed loop (ms)", [by[p]["p99"] for p in peers]),
        ("max RSS (MB)", [by[p]["rss"] for p in peers]),
        ("CPU per request (ms): the service, and the rest of the system", [by[p]["cpu"] for p in peers]),
        ("start to first answered POST /tasks (ms)", [by[p]["first"] for p in peers]),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, (title, values) in zip(axes.flat, panels):
        values = [v or 0 for v in values]
        bars = ax.bar(range(len(peers)), values, color=colors)
        if title.startswith("CPU per request"):
            # Stacked on each service's own CPU: the sidecars, replicas, Redis, Zipkin and Prometheus per request.
            rest = [max(0.0, (by[p].get("system_cpu") or 0) - (by[p]["cpu"] or 0)) for p in peers]
            ax.bar(range(len(peers)), rest, bottom=values, color="#dddddd", edgecolor="#999999")
            for i, (v, r) in enumerate(zip(values, rest)):
                if r:
                    ax.annotate(f"{v + r:.1f} all", (i, v + r), ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(peers)))
        ax.set_xticklabels(labels, fontsize=7)
        for bar, value in zip(bars, values):
            ax.annotate(f"{value:,.1f}" if value < 100 else f"{value:,.0f}", (bar.get_x() + bar.get_width() / 2,
                        bar.get_height()), ha="center", va="bottom", fontsize=8)
    fig.suptitle("todo-api against the seed's FastAPI service and Spring Boot + Dapr SDK, same sidecars and replicas")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def section(out, s, by):
    t = by.get("todo-api", {})
    lines = [START, "## Against what teams would pick instead", "",
             f"One run of `scripts/benchmark.sh peers` (RUNS={s['RUNS']}, closed loop {s['VUS']} users for "
             f"{s['DURATION']} after {s['COLD']} straight from start; results in `load/results/{os.path.basename(out)}/`)"
             f" on {platform.machine()} with {os.cpu_count()} cores, shared. Each service in turn takes todo-api's place "
             "behind the same daprd (secure default: Sentry's mTLS, access control, API tokens) with the same 3 "
             "notification-service replicas and store; the same k6 script for all (`load/compare.js`, "
             "`load/max-rate.js TARGET=any`, one check: a 2xx answer with the new pending task), the order turned "
             "every run. Every answered create's notification was counted at the replicas.", "",
             "- todo-api: this project as `scripts/run.sh` runs it (durable notifications through the outbox, "
             f"tracing at sampling 1 to Zipkin, metrics), JVM options `{s['JAVA_OPTS']}`.",
             "- seed FastAPI + dapr SDK: `load/peers/fastapi-seed/todo_api.py`, the lesson's code with `def` for "
             "`async def` (verbatim, `invoke_method` raises \"This event loop is already running\" on every request); "
             f"uvicorn, one worker; {s.get('PYTHON_PACKAGES', '')}.",
             "- Spring Boot + Dapr SDK: `load/peers/spring-boot-dapr-sdk/`, Spring Boot 3.5.7 MVC, `io.dapr:dapr-sdk` "
             "1.16.1, `saveState(...).block()` then `invokeMethod(..., HttpExtension.POST, ...).block()`; once with "
             "todo-api's JVM options, once with the JVM's defaults.", "",
             "Medians of the runs:", "",
             "| | closed loop /s | first 20 s /s | highest rate held /s | p50 ms | p90 ms | p99 ms | max RSS MB "
             "| CPU ms / request | whole system's CPU ms / request | first answer ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for peer, v in by.items():
        best = (v["max_rate"] or {}).get("best")
        lines.append(f"| {NAMES[peer]} | {fmt(v['warm'])} | {fmt(v['cold'])} | {best if best is not None else '-'} | "
                     f"{fmt(v['p50'])} | {fmt(v['p90'])} | {fmt(v['p99'])} | {fmt(v['rss'], 0)} | {fmt(v['cpu'], 2)} "
                     f"| {fmt(v['system_cpu'], 2)} | {fmt(v['first'], 0)} |")
    if t.get("drain"):
        lines += ["", f"todo-api's answers do not end its work: each create's notification also goes through the "
                  f"outbox, which todo-api's subscription handles after the answer. After each closed loop its outbox "
                  f"drained {t['drain'] / 1000:.1f} s later (median); the whole system's CPU above counts until then, "
                  "and every phase starts on a drained outbox."]
    if t.get("system_cpu") and t.get("cpu"):
        outside = t["system_cpu"] - t["cpu"]
        lines += ["", f"Where the time goes: the whole system spends {fmt(t['system_cpu'], 2)} ms of CPU per todo-api "
                  f"create, {fmt(t['cpu'], 2)} of them in todo-api and {fmt(outside, 2)} "
                  f"({100 * outside / t['system_cpu']:.0f}%) outside it: the sidecars, the replicas, Redis, Zipkin. "
                  "On 2 shared cores the throughput of every peer is the machine's CPU divided by that whole-system "
                  "figure, so no peer's own code can make the system several times faster than another's here; "
                  "the service's own CPU per request is where they differ most."]
    lines += ["", "Throughput of each run (closed loop, warm), in the order of the runs:", ""]
    for peer, v in by.items():
        lines.append(f"- {NAMES[peer]}: {', '.join(fmt(x) for x in v['warm_each'])}; first answer "
                     f"{', '.join(str(x) for x in v['first_each'])} ms")
    trials = start_trials(out)
    if trials:
        lines += ["", "Start of todo-api, process start to its first answered `POST /tasks` (ms), alternately:", ""]
        for name, label in (("todo-api", "with its class-data archive (as `scripts/run.sh` starts it)"),
                            ("todo-api-no-cds", "without"),
                            ("todo-api-jdk25-aot", "the same jar and options on JDK 25 with an AOT cache (JEP 483/515) "
                             "from the same training run (not what `scripts/run.sh` or the images run: JDK 17)"),
                            ("todo-api-image", "its image, from `docker run` (with the archive built into the image)"),
                            ("todo-api-image-no-cds", "its image without the archive")):
            if trials.get(name):
                lines.append(f"- {label}: median {fmt(median(trials[name]), 0)} ({', '.join(map(str, trials[name]))})")
    lines += ["", "![todo-api against its peers](peers.png)", "", "Goals:", "",
              "| goal | measured | |", "|---|---|---|"]

    def ratio_line(goal, peer, factor):
        if peer not in by or not t:
            return
        each = [a / b for a, b in zip(t["warm_each"], by[peer]["warm_each"]) if b]
        ok = bool(each) and min(each) >= factor
        lines.append(f"| {goal} | {', '.join(f'{x:.1f}x' for x in each)} (closed loop, each run) | "
                     f"{'met' if ok else 'MISSED'} |")
    # Issue 21's goals: todo-api delivers durably and exactly once, the peers do neither.
    ratio_line("at least 4x the seed's service, every run", "fastapi", 4)
    ratio_line("at least 1.2x Spring Boot + Dapr SDK (our flags), every run", "spring", 1.2)
    ratio_line("at least 1.2x Spring Boot + Dapr SDK (JVM defaults), every run", "spring-defaults", 1.2)
    for peer in ("fastapi", "spring", "spring-defaults"):
        if peer in by and t and t.get("system_cpu") and by[peer].get("system_cpu"):
            lines.append(f"| (not a goal) the whole system's CPU per request, against {NAMES[peer]}: the bound on "
                         f"the throughput ratio on 2 shared cores | {fmt(t['system_cpu'], 2)} ms against "
                         f"{fmt(by[peer]['system_cpu'], 2)} ms: {by[peer]['system_cpu'] / t['system_cpu']:.2f}x | |")
    for peer in ("spring", "spring-defaults"):
        if peer in by and t:
            share = t["rss"] / by[peer]["rss"]
            lines.append(f"| memory at most a third of {NAMES[peer]} | {fmt(t['rss'], 0)} MB against "
                         f"{fmt(by[peer]['rss'], 0)} MB: {share:.2f} | {'met' if share <= 1 / 3 else 'MISSED'} |")
    for peer in ("fastapi", "spring", "spring-defaults"):
        if peer in by and t and t["cpu"]:
            lines.append(f"| (not a goal) the service's own CPU per request, against {NAMES[peer]} | "
                         f"{fmt(t['cpu'], 2)} ms against {fmt(by[peer]['cpu'], 2)} ms: "
                         f"{by[peer]['cpu'] / t['cpu']:.1f}x less | |")
    trials = start_trials(out)
    if t and trials.get("todo-api"):
        first = median(trials["todo-api"])
        lines.append(f"| todo-api's first answer within 400 ms | {fmt(first, 0)} ms (median of "
                     f"{len(trials['todo-api'])} starts) | {'met' if first <= 400 else 'MISSED'} |")
        share = t["cold"] / t["warm"] if t["warm"] else 0
        lines.append(f"| todo-api's first {s['COLD']} at 90% of warm throughput | {100 * share:.0f}% | "
                     f"{'met' if share >= 0.9 else 'MISSED'} |")
    lines += ["", END]
    return "\n".join(lines)


def main():
    out = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == "--check":
        return check(out)
    docs = sys.argv[2]
    s = settings(out)
    by = summary(out, s["PEERS"].split())
    chart(by, os.path.join(docs, "peers.png"))
    text_path = os.path.join(docs, "BENCHMARKS.md")
    text = open(text_path).read() if os.path.exists(text_path) else "# Benchmarks\n"
    new = section(out, s, by)
    with open(text_path, "w") as f:
        f.write(replace_between(text, START, END, new))
    print(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
