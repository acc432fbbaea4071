"""The report of scripts/benchmark-complete.sh (scripts/benchmark.sh complete): from a results folder, per rate of
load/create-complete.js, the completions, charges and notifications a second, what was left pending or failed, the
latency of the create and of the completion, whether the thresholds held, and the CPU and RSS of todo-api, billing-1
and every daprd; medians over the runs, with their range. Printed, written to OUT/summary.md and OUT/complete.json,
and with --docs to the section "Creates and completions (load/create-complete.js)" of that file (standard library
only).

    python3 scripts/complete_report.py OUT [--docs docs/BENCHMARKS.md]
"""
import argparse
import csv
import json
import os
import pathlib
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_sections import median, replace_between, settings  # noqa: E402

START = "<!-- create-complete: written by scripts/benchmark.sh complete -->"
END = "<!-- end of create-complete -->"
TITLE = "## Creates and completions (load/create-complete.js)"
POST = "http_req_duration{name:POST /tasks}"
PATCH = "http_req_duration{name:PATCH /tasks/{id}}"
RUN_FILE = re.compile(r"^(\d+)-(\d+)\.json$")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def value(data, name, stat, default=None):
    m = data["metrics"].get(name)
    return m["values"].get(stat, default) if m and "values" in m else default


def failed_thresholds(data):
    return sorted(f"{name} {expr}" for name, m in data["metrics"].items()
                  for expr, result in (m.get("thresholds") or {}).items() if not result.get("ok"))


def resources(path):
    """{name: (cpu seconds, wall seconds, max rss MB)} from a resources CSV: first and last sample of each process."""
    rows = {}
    if not path.exists():
        return {}
    with path.open() as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["name"], []).append((float(row["t"]), int(row["ticks"]), int(row["rss_kb"])))
    result = {}
    for name, samples in rows.items():
        if len(samples) < 2:
            continue
        wall = samples[-1][0] - samples[0][0]
        result[name] = ((samples[-1][1] - samples[0][1]) / CLK_TCK, wall, max(s[2] for s in samples) / 1024)
    return result


def drain(path):
    if not path.exists():
        return {}
    return dict(part.split("=", 1) for part in path.read_text().split())


def figures(out, rate, run):
    data = json.loads((out / f"{rate}-{run}.json").read_text())
    exit_file = out / f"{rate}-{run}.exit"
    failed = failed_thresholds(data)
    count = lambda name: value(data, name, "count", 0) or 0  # noqa: E731
    return {
        "rate": rate, "run": run,
        "exit": int(exit_file.read_text().strip()) if exit_file.exists() else None,
        "iterations_per_s": value(data, "iterations", "rate", 0),
        "iterations": count("iterations"),
        "dropped": count("dropped_iterations"),
        "completions_per_s": value(data, "completions", "rate", 0),
        "charges_per_s": value(data, "charges", "rate", 0),
        "notifications_per_s": value(data, "notifications", "rate", 0),
        "charged_share": value(data, "charged_at_once", "rate"),
        "notified_share": value(data, "notified_at_once", "rate"),
        "charges_pending": count("charges_pending"), "charges_failed": count("charges_failed"),
        "charges_missing": count("charges_missing"),
        "notifications_pending": count("notifications_pending"),
        "notifications_failed": count("notifications_failed"),
        "notifications_missing": count("notifications_missing"),
        "http_failed_share": value(data, "http_req_failed", "rate", 0),
        "checks_share": value(data, "checks", "rate"),
        "post_p50": value(data, POST, "med"), "post_p99": value(data, POST, "p(99)"),
        "patch_p50": value(data, PATCH, "med"), "patch_p99": value(data, PATCH, "p(99)"),
        # k6's exit code when it was recorded (99: a threshold failed), else the thresholds in the summary
        "thresholds_ok": (int(exit_file.read_text().strip()) == 0) if exit_file.exists() else not failed,
        "failed_thresholds": failed or ([] if not exit_file.exists() or exit_file.read_text().strip() == "0"
                                        else [f"k6 exit {exit_file.read_text().strip()}"]),
        "resources": resources(out / f"{rate}-{run}-resources.csv"),
        "drain": drain(out / f"{rate}-{run}.drain"),
    }


def spread(values, digits=1):
    """The median of the values, and their range in brackets when they differ: "12.3 (12.1-12.5)"."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    text = f"{median(values):.{digits}f}"
    if min(values) != max(values):
        text += f" ({min(values):.{digits}f}-{max(values):.{digits}f})"
    return text


def process_order(name):
    return (0 if name.startswith("todo-api") else 1 if name.startswith("billing") else 2, name)


def report(out, docs):
    s = settings(str(out))
    runs = {}
    for path in out.glob("*.json"):
        m = RUN_FILE.match(path.name)
        if m:
            runs.setdefault(int(m.group(1)), []).append(figures(out, int(m.group(1)), int(m.group(2))))
    if not runs:
        print(f"no runs (<rate>-<run>.json) in {out}", file=sys.stderr)
        return 1
    rates = sorted(runs)
    dirty = " (with uncommitted changes)" if s.get("HEAD_DIRTY", "0") not in ("", "0") else ""
    lines = [
        START, TITLE, "",
        f"`scripts/benchmark.sh complete` at {s.get('HEAD', '?')}{dirty}: the embedded default (`scripts/run.sh "
        "--detach`: in-memory store, 3 notification-service replicas and billing-service in namespace billing, each "
        "with its daprd; secure, traced) under `load/create-complete.js`, each iteration a `POST /tasks` and then a "
        "`PATCH /tasks/{id}` to completed. Completions/s count the completions answered 200; charges/s and "
        "notifications/s the completions whose answer says charged (`billing.status`) or delivered "
        "(`notification.status`) at once; the rest are pending (the outbox delivers them) or failed. "
        f"{s['RUNS']} run{'' if s['RUNS'] == '1' else 's'} of {s['DURATION']} at each rate, after {s['WARMUP']} of warm-up at "
        f"{s.get('WARMUP_RATE', rates[0])}/s; medians over the runs, with the range in brackets when the runs "
        f"differ. The thresholds: over 99% of the checks passed, p99 of all requests under {s['P99_MS']} ms, at "
        f"least {float(s['CHARGED_MIN']):.0%} charged and {float(s['NOTIFIED_MIN']):.0%} notified at once.",
        "",
        f"Machine: {s.get('NPROC', '?')} cores ({s.get('CPU_MODEL', '?')}), {s.get('MEM_GIB', '?')} GiB, Linux "
        f"{s.get('KERNEL', '?')}; {s.get('JAVA_VERSION', '?')}, daprd {s.get('DAPRD_VERSION', '?')}, "
        f"{s.get('K6_VERSION', '?')}. The figures are for this one machine with {s.get('NPROC', '?')} shared cores, "
        "where k6 and every process of the system compete for them; expect a few percent of noise between runs.",
        "",
        "| iterations/s offered | achieved | completions/s | charges/s at once | notifications/s at once | "
        "charges pending / failed | notifications pending / failed | POST p50 / p99 ms | PATCH p50 / p99 ms | "
        "thresholds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rate in rates:
        rs = sorted(runs[rate], key=lambda f: f["run"])
        col = lambda key, d=1: spread([f[key] for f in rs], d)  # noqa: E731

        def counts(kind):
            text = f"{col(kind + '_pending', 0)} / {col(kind + '_failed', 0)}"
            missing = sum(f[kind + "_missing"] for f in rs)
            return text + (f" (+{missing} without a status)" if missing else "")

        passed = sum(f["thresholds_ok"] for f in rs)
        held = "yes" if passed == len(rs) else "no" if passed == 0 else f"{passed} of {len(rs)} runs"
        if passed < len(rs):
            failed = sorted({t for f in rs for t in f["failed_thresholds"]})
            held += " (failed: " + "; ".join(f"`{t}`" for t in failed) + ")"
        lines.append(
            f"| {rate} | {col('iterations_per_s')} | {col('completions_per_s')} | {col('charges_per_s')} | "
            f"{col('notifications_per_s')} | {counts('charges')} | {counts('notifications')} | "
            f"{col('post_p50')} / {col('post_p99')} | {col('patch_p50')} / {col('patch_p99')} | {held} |")
    lines.append("")
    drains = [(f["rate"], f["drain"]) for rate in rates for f in sorted(runs[rate], key=lambda f: f["run"])
              if f["drain"]]
    if drains:
        lines.append("The outbox's backlog (events not yet read and acknowledged) when each run ended, and how long "
                     "until it was empty: " + "; ".join(
                         f"{rate}/s: {d.get('backlog', '?')} events, "
                         + (f"{int(d['drained_ms']) / 1000:.1f} s" if d.get("drained_ms")
                            else f"not empty after 120 s ({d.get('left', '?')} left)")
                         for rate, d in drains) + ".")
        lines.append("")
    names = sorted({n for rate in rates for f in runs[rate] for n in f["resources"]}, key=process_order)
    if names:
        lines += ["CPU (% of one core; the machine has "
                  f"{int(s.get('NPROC', '2')) * 100}) and max RSS (MB) of todo-api, billing-1 and every daprd "
                  "during the runs, from /proc once a second; medians over the runs:", "",
                  "| process | " + " | ".join(f"{rate}/s" for rate in rates) + " |",
                  "|---|" + "---|" * len(rates)]
        for name in names:
            cells = []
            for rate in rates:
                got = [f["resources"][name] for f in runs[rate] if name in f["resources"]]
                cpu = median([100 * c / w for c, w, _ in got if w > 0])
                rss = median([r for _, _, r in got])
                cells.append("-" if cpu is None else f"{cpu:.1f} %, {rss:.0f} MB")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(f"Command: `RATES={s['RATES']} DURATION={s['DURATION']} RUNS={s['RUNS']} WARMUP={s['WARMUP']} "
                 f"scripts/benchmark.sh complete`; raw results in `load/results/{out.name}/` (not committed).")
    lines.append(END)
    section = "\n".join(lines)
    print(section)
    (out / "summary.md").write_text(section + "\n")
    (out / "complete.json").write_text(json.dumps(
        {str(rate): sorted(runs[rate], key=lambda f: f["run"]) for rate in rates}, indent=2) + "\n")
    if docs:
        path = pathlib.Path(docs)
        path.write_text(replace_between(path.read_text(), START, END, section))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--docs")
    args = parser.parse_args()
    return report(pathlib.Path(args.out), args.docs)


if __name__ == "__main__":
    raise SystemExit(main())
