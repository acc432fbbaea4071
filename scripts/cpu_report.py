"""The report of scripts/benchmark-cpu.sh: from a results folder, the creates a second and CPU ms per create of every
process, for the floor and todo-api, the profile of todo-api's sidecar by area, and Redis's calls per create; printed,
written to OUT/cpu.json, and to the "Where a create's time goes" section of docs/BENCHMARKS.md."""
import json
import os
import re
import sys

from report_sections import median, replace_between, settings

START = "<!-- cpu-report:start (scripts/benchmark.sh cpu writes this section) -->"
END = "<!-- cpu-report:end -->"
PATHS = ("floor", "todo-api")
# Dapr's published figure for a sidecar on service invocation (mTLS on, tracing at 0.1): 0.48 vCPU per 1,000
# requests a second, https://docs.dapr.io/operations/performance-and-scalability/perf-service-invocation/
DAPR_PUBLISHED_VCPU = 0.48
GROUPS = (
    ("todo-api", lambda n: n == "todo-api"),
    ("todo-api's sidecar", lambda n: n == "todo-api-daprd"),
    ("replicas", lambda n: re.fullmatch(r"notification-\d+", n)),
    ("replicas' sidecars", lambda n: re.fullmatch(r"notification-\d+-daprd", n)),
    ("Redis", lambda n: n == "redis"),
    ("Zipkin", lambda n: n == "zipkin"),
    ("Prometheus", lambda n: n == "prometheus"),
    ("Sentry", lambda n: n == "sentry"),
)
# Areas of daprd's CPU profile, by the package of each sample's own function (pprof's flat time).
AREAS = (
    ("TLS and crypto (mTLS)", r"^(crypto/|vendor/golang.org/x/crypto|golang.org/x/crypto)"),
    ("gRPC and HTTP/2 (sidecar to sidecar)", r"^(google.golang.org/grpc|golang.org/x/net/http2|vendor/golang.org/x/net/http2)"),
    ("HTTP/1.1 server and client (app, API)", r"^(net/http|github.com/valyala/fasthttp|github.com/go-chi)"),
    ("protobuf and JSON", r"^(google.golang.org/protobuf|encoding/json|github.com/json-iterator|github.com/tidwall)"),
    ("tracing (OpenTelemetry, Zipkin)", r"^(go.opentelemetry.io|github.com/openzipkin)"),
    ("metrics (OpenCensus, Prometheus)", r"^(go.opencensus.io|github.com/prometheus)"),
    ("Redis client", r"^github.com/redis/"),
    ("Dapr's own code", r"^github.com/dapr/"),
    ("memory and GC", r"^runtime\.(mallocgc|gcBgMarkWorker|scanobject|greyobject|markBits|gcDrain|sweep|memclr|"
     r"memmove|heapBits|findObject|nextFreeFast|mspan|mcache|mcentral|mheap|wbBuf|bulkBarrier|typePointers|"
     r"(.*[Gg][Cc].*))"),
    ("scheduler, syscalls and network I/O", r"^(runtime\.|syscall\.|internal/poll|net\.|internal/runtime)"),
)
FLAT_LINE = re.compile(r"^\s*([\d.]+)(ms|s|us|µs)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+(?:ms|s|us|µs)\s+[\d.]+%\s+(.+)$")


def seconds(value, unit):
    return float(value) * {"s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}[unit]


def ticks(path):
    result = {}
    with open(path) as f:
        for line in f:
            name, value = line.split()
            result[name] = int(value)
    return result


def creates(out, store, path, run):
    with open(os.path.join(out, f"{store}-{path}-{run}.json")) as f:
        data = json.load(f)
    if path == "floor":
        return data.get("creates") or 0, data.get("rate") or 0
    figures = data["compare"]
    return figures["requests"] - figures["failed"] * figures["requests"], figures["throughput"]


def one_run(out, store, path, run, clk_tck):
    base = os.path.join(out, f"{store}-{path}-{run}")
    count, rate = creates(out, store, path, run)
    before, after = ticks(base + ".before"), ticks(base + ".after")
    ms = {}
    for group, matches in GROUPS:
        used = sum(after[n] - before.get(n, 0) for n in after if matches(n))
        ms[group] = 1000.0 * used / clk_tck / count if count else None
    return {"store": store, "path": path, "run": run, "creates": count, "rate": rate, "ms": ms,
            "total": sum(v for v in ms.values() if v is not None)}


def profile_areas(top_path):
    """Each area's share of the sampled CPU of the profile at top_path, and its top functions."""
    if not os.path.exists(top_path):
        return None
    flat = []
    with open(top_path) as f:
        for line in f:
            match = FLAT_LINE.match(line)
            if match:
                flat.append((seconds(match.group(1), match.group(2)), match.group(3).strip()))
    total = sum(s for s, _ in flat) or 1
    shares = {}
    for spent, function in flat:
        area = next((name for name, pattern in AREAS if re.search(pattern, function)), "other")
        shares[area] = shares.get(area, 0) + spent / total
    return {"shares": shares, "top": [(round(100 * s / total, 1), fn) for s, fn in flat[:12]]}


def redis_calls(path, count):
    calls = {}
    if not os.path.exists(path) or not count:
        return calls
    with open(path) as f:
        for line in f:
            match = re.match(r"cmdstat_(\w+):calls=(\d+)", line.strip())
            if match and match.group(1) not in ("config", "info", "xinfo"):
                calls[match.group(1)] = int(match.group(2)) / count
    return dict(sorted(calls.items(), key=lambda kv: -kv[1]))


def fmt(value, digits=2):
    return "—" if value is None else f"{value:.{digits}f}"


def store_section(out, store, runs, s):
    lines = [f"### {store} store", ""]
    by_path = {p: [r for r in runs if r["store"] == store and r["path"] == p] for p in PATHS}
    med = {p: {"rate": median([r["rate"] for r in rs]), "total": median([r["total"] for r in rs]),
               "ms": {g: median([r["ms"][g] for r in rs]) for g, _ in GROUPS}} for p, rs in by_path.items()}
    lines.append("| path | creates/s (each run) | CPU ms per create | " + " | ".join(g for g, _ in GROUPS) + " |")
    lines.append("|---|---|---|" + "---|" * len(GROUPS))
    for p in PATHS:
        rates = ", ".join(fmt(r["rate"], 0) for r in by_path[p])
        lines.append(f"| {p} | {rates} | {fmt(med[p]['total'])} | "
                     + " | ".join(fmt(med[p]["ms"][g]) for g, _ in GROUPS) + " |")
    ratio = (med["todo-api"]["rate"] / med["floor"]["rate"]) if med["floor"]["rate"] else None
    cpu = (med["todo-api"]["total"] / med["floor"]["total"]) if med["floor"]["total"] else None
    sidecar = med["todo-api"]["ms"]["todo-api's sidecar"]
    floor_sidecar = med["floor"]["ms"]["todo-api's sidecar"]
    lines += ["", f"- todo-api's closed-loop throughput is **{fmt(100 * ratio if ratio else None, 0)} %** of the "
              f"floor's (goal: 85 % or more); its CPU per create **{fmt(cpu)}×** the floor's (goal: 1.3× at most).",
              f"- todo-api's sidecar: **{fmt(sidecar)} vCPU per 1,000 creates a second** (its ms per create), "
              f"{fmt(sidecar / DAPR_PUBLISHED_VCPU if sidecar else None, 1)}× Dapr's published "
              f"{DAPR_PUBLISHED_VCPU} for one invocation (goal: 2× at most); on the floor "
              f"{fmt(floor_sidecar)}.", ""]
    lines.append("Where todo-api's sidecar spends its CPU (flat samples of its profile, "
                 f"{s.get('PROFILE_SECONDS', '?')} s in the first run of each path), in ms per create:")
    lines.append("")
    profiles = {p: profile_areas(os.path.join(out, f"{store}-{p}-1.top")) for p in PATHS}
    areas = [name for name, _ in AREAS] + ["other"]
    lines.append("| area | floor | todo-api |")
    lines.append("|---|---|---|")
    for area in areas:
        cells = []
        for p in PATHS:
            prof, ms = profiles[p], med[p]["ms"]["todo-api's sidecar"]
            cells.append(fmt(prof["shares"].get(area, 0) * ms if prof and ms else None))
        lines.append(f"| {area} | {cells[0]} | {cells[1]} |")
    if profiles["todo-api"]:
        lines += ["", "Its hottest functions under todo-api's load (flat %): "
                  + "; ".join(f"`{fn}` {share}" for share, fn in profiles["todo-api"]["top"][:8]) + "."]
    calls = {p: redis_calls(os.path.join(out, f"{store}-{p}-1.redis"),
                            by_path[p][0]["creates"] if by_path[p] else 0) for p in PATHS}
    if calls["todo-api"]:
        lines += ["", "Redis commands per create (first run): floor "
                  + (", ".join(f"{k} {v:.2f}" for k, v in calls["floor"].items() if v >= 0.05) or "none")
                  + "; todo-api " + ", ".join(f"{k} {v:.2f}" for k, v in calls["todo-api"].items() if v >= 0.05) + "."]
    return lines, {"median": med, "throughput_ratio": ratio, "cpu_ratio": cpu, "profiles": profiles,
                   "redis_calls": calls}


def main(out):
    s = settings(out)
    clk_tck = int(s.get("CLK_TCK", "100"))
    stores = s["STORES"].split()
    runs = []
    for store in stores:
        for run in range(1, int(s["RUNS"]) + 1):
            for p in PATHS:
                runs.append(one_run(out, store, p, run, clk_tck))
    lines = [START, "## Where a create's time goes", "",
             f"`scripts/benchmark.sh cpu` at {s.get('COMMIT', '?')}: scripts/run.sh's secure, traced default; "
             f"closed loop, {s['VUS']} users, {s['DURATION']} a run after {s['WARMUP']} of warm-up of each path, "
             f"{s['RUNS']} runs, alternating. The floor is k6 sending the plain save + invoke straight to todo-api's "
             "sidecar; todo-api is `POST /tasks` with its durable, exactly-once notification. CPU is every process's "
             "own (from /proc, k6 not counted), read once the outbox has drained, divided by the creates; medians of "
             "the runs. Raw results: `" + os.path.relpath(out, os.path.join(os.path.dirname(__file__), "..")) + "`.",
             ""]
    report = {"settings": s, "runs": runs, "stores": {}}
    for store in stores:
        section, figures = store_section(out, store, runs, s)
        lines += section + [""]
        report["stores"][store] = figures
    lines.append(END)
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(out, "cpu.json"), "w") as f:
        json.dump(report, f, indent=2, default=str)
    if os.environ.get("WRITE_DOCS", "1") != "0":
        doc = os.path.join(os.path.dirname(__file__), "..", "docs", "BENCHMARKS.md")
        with open(doc) as f:
            current = f.read()
        with open(doc, "w") as f:
            f.write(replace_between(current, START, END, text))


if __name__ == "__main__":
    main(sys.argv[1])
