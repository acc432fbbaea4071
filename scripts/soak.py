#!/usr/bin/env python3
"""The soak test: the embedded system under a steady low rate for hours, not part of CI.

    scripts/soak.sh                 (DURATION=2h10m RATE=20 STORE=redis SAMPLE_S=30 PROGRESS_S=600 PORT_OFFSET=500)

It starts the system with scripts/run.sh (in its own run folder and ports), sends POST /tasks at RATE a second for
DURATION from 127.0.0.1, SIGKILLs notification-2 halfway and starts it again 10 s later with the same command line, and
samples every process (RSS, alive or not) and Redis (used memory, keys, stream lengths) every SAMPLE_S seconds. At the
end it checks, at the receiving end, that every accepted task's notification was delivered exactly once (the replicas'
logs, by notification id) and that a sample of the tasks reads back through the sidecar. It writes, under
load/results/soak-<time>/: samples.csv, minutes.csv (per-minute requests, errors, latency), summary.txt and soak.png,
and copies the last two to docs/SOAK.md and docs/soak.png. Exit code 0 only when nothing failed, no process exited
unexpectedly, nothing was lost or delivered twice, and every process but Redis kept a flat RSS: the median of the
last third of its samples within SOAK_RSS_GROWTH_PCT (default 15 %) of the middle third's. Redis holds the data
(tasks, streams, delivery records), so it grows with it; its figures are reported.
"""
import collections
import concurrent.futures
import datetime
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def seconds(text):
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not m or not text:
        sys.exit(f"soak: cannot read the duration '{text}' (write it like 2h10m, 90m or 300s)")
    h, mi, s = (int(g or 0) for g in m.groups())
    return h * 3600 + mi * 60 + s


DURATION_S = seconds(os.environ.get("DURATION", "2h10m"))
RATE = float(os.environ.get("RATE", "20"))
STORE = os.environ.get("STORE", "redis")
SAMPLE_S = int(os.environ.get("SAMPLE_S", "30"))
PROGRESS_S = int(os.environ.get("PROGRESS_S", "600"))  # a progress line this often
OFFSET = int(os.environ.get("PORT_OFFSET", "500"))
RSS_GROWTH_PCT = float(os.environ.get("SOAK_RSS_GROWTH_PCT", "15"))
STAMP = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
OUT = os.environ.get("SOAK_OUT", os.path.join(ROOT, "load", "results", f"soak-{STAMP}"))
RUN_DIR = os.path.join(OUT, "run")
TODO_PORT = 8000 + OFFSET
SIDECAR_PORT = 3500 + OFFSET
REDIS_PORT = 6390 + OFFSET
KILLED = "notification-2"


def log(message):
    print(f"[soak {datetime.datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_sh(*args):
    env = dict(os.environ, RUN_DIR=RUN_DIR, PORT_OFFSET=str(OFFSET))
    with open(os.path.join(OUT, "run.sh.log"), "a") as out:
        return subprocess.run(["bash", os.path.join(ROOT, "scripts", "run.sh"), *args], env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=900).returncode


def processes():
    """name -> pid, the last line of a name winning (a restart appends one)."""
    result = {}
    with open(os.path.join(RUN_DIR, "processes")) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                result[parts[0]] = int(parts[1])
    return result


def alive(pid):
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return None


def redis_figures():
    def cli(*args):
        try:
            return subprocess.run(["redis-cli", "-p", str(REDIS_PORT), *args], capture_output=True, text=True,
                                  timeout=10).stdout
        except subprocess.TimeoutExpired:
            return ""
    info = cli("info", "memory")
    used = re.search(r"used_memory:(\d+)", info)
    streams = {s: cli("xlen", s).strip() for s in ("notifications", "notifications-retry")}
    return {"redis_used_kb": int(used.group(1)) // 1024 if used else None,
            "redis_keys": cli("dbsize").strip(),
            "stream_notifications": streams["notifications"],
            "stream_retry": streams["notifications-retry"]}


class Traffic:
    """POST /tasks at a fixed rate from a pool of connections; per-minute counts and latencies."""

    def __init__(self, rate, duration_s):
        self.rate = rate
        self.duration_s = duration_s
        self.lock = threading.Lock()
        self.minutes = collections.defaultdict(lambda: {"sent": 0, "created": 0, "non2xx": 0, "errors": 0,
                                                        "pending": 0, "latencies": []})
        self.accepted = []  # (task id, notification id)
        self.failures = collections.Counter()
        self.local = threading.local()
        self.start = None

    def connection(self):
        if getattr(self.local, "conn", None) is None:
            self.local.conn = http.client.HTTPConnection("127.0.0.1", TODO_PORT, timeout=15)
        return self.local.conn

    def one(self, n):
        minute = int((time.monotonic() - self.start) // 60)
        body = json.dumps({"title": f"soak {STAMP} #{n}"})
        started = time.monotonic()
        try:
            conn = self.connection()
            conn.request("POST", "/tasks", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as e:
            self.local.conn = None
            with self.lock:
                self.minutes[minute]["sent"] += 1
                self.minutes[minute]["errors"] += 1
                self.failures[type(e).__name__ + ": " + str(e)[:80]] += 1
            return
        latency = (time.monotonic() - started) * 1000
        with self.lock:
            m = self.minutes[minute]
            m["sent"] += 1
            m["latencies"].append(latency)
            if status == 201:
                m["created"] += 1
                task = json.loads(payload)
                self.accepted.append((task["id"], task["notification"]["notification_id"]))
                if task["notification"]["status"] != "delivered":
                    m["pending"] += 1
            else:
                m["non2xx"] += 1
                self.failures[f"HTTP {status}: {payload[:120]!r}"] += 1

    def run(self, stop):
        self.start = time.monotonic()
        interval = 1.0 / self.rate
        n = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            while not stop.is_set():
                due = self.start + n * interval
                now = time.monotonic()
                if due - self.start >= self.duration_s:
                    break
                if due > now:
                    time.sleep(due - now)
                pool.submit(self.one, n)
                n += 1
        return n


def delivered_ids():
    """notification id -> how many times a replica logged it as received, from every replica's log."""
    counts = collections.Counter()
    pattern = re.compile(r"Notification received: .*notification_id=([^,)]+)")
    logs = os.path.join(RUN_DIR, "logs")
    for name in os.listdir(logs):
        if re.fullmatch(r"notification-\d+\.log", name):
            with open(os.path.join(logs, name), errors="replace") as f:
                for line in f:
                    m = pattern.search(line)
                    if m:
                        counts[m.group(1)] += 1
    return counts


def restart(name, pid):
    """SIGKILL name and start it again with its own command line, environment and folder."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        command = [p.decode() for p in f.read().split(b"\0") if p]
    with open(f"/proc/{pid}/environ", "rb") as f:
        environment = dict(p.decode().split("=", 1) for p in f.read().split(b"\0") if b"=" in p)
    cwd = os.readlink(f"/proc/{pid}/cwd")
    os.kill(pid, signal.SIGKILL)
    log(f"SIGKILLed {name} (pid {pid}); starting it again in 10 s")
    time.sleep(10)
    out = open(os.path.join(RUN_DIR, "logs", f"{name}.log"), "a")
    process = subprocess.Popen(command, env=environment, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    with open(os.path.join(RUN_DIR, "processes"), "a") as f:
        f.write(f"{name} {process.pid} restarted\n")
    log(f"{name} started again (pid {process.pid})")
    return process.pid


def main():
    os.makedirs(OUT, exist_ok=True)
    log(f"results in {OUT}; {DURATION_S} s at {RATE}/s, store {STORE}, ports +{OFFSET}")
    run_sh("stop")
    if run_sh("--detach", f"--{STORE}") != 0:
        sys.exit(f"soak: the system did not start; see {OUT}/run.sh.log")
    stop = threading.Event()
    traffic = Traffic(RATE, DURATION_S)
    samples = []
    exits = []
    started = time.monotonic()
    expected = {}  # name -> pid we expect to be alive

    def sampler():
        restarted = False
        nonlocal expected
        expected = processes()
        while not stop.is_set():
            t = round(time.monotonic() - started)
            if not restarted and t >= DURATION_S / 2:
                restarted = True
                expected[KILLED] = restart(KILLED, expected[KILLED])
            row = {"t_s": t}
            for name, pid in expected.items():
                if alive(pid):
                    row[name] = rss_kb(pid)
                else:
                    row[name] = None
                    if name not in {e[1] for e in exits}:
                        exits.append((t, name, pid))
                        log(f"!!! {name} (pid {pid}) is not running")
            row.update(redis_figures())
            samples.append(row)
            if len(samples) % max(1, PROGRESS_S // SAMPLE_S) == 0:
                with traffic.lock:
                    totals = {k: sum(m[k] for m in traffic.minutes.values()) for k in ("sent", "created", "non2xx")}
                rss = ", ".join(f"{n} {v / 1024:.0f}" for n, v in row.items()
                                if n in ("todo-api", "todo-api-daprd", "notification-1") and v)
                log(f"{t // 60} min of {DURATION_S // 60}: {totals['sent']} sent, {totals['created']} created, "
                    f"{totals['non2xx']} not 2xx, {len(exits)} process exits; RSS MB {rss}")
            stop.wait(SAMPLE_S)

    sampling = threading.Thread(target=sampler, daemon=True)
    sampling.start()
    time.sleep(1)
    sent = traffic.run(stop)
    log(f"traffic done: {sent} requests; waiting 60 s for the outbox to deliver what is pending")
    time.sleep(60)
    stop.set()
    sampling.join(timeout=SAMPLE_S + 30)

    delivered = delivered_ids()
    accepted = traffic.accepted
    lost = [nid for _, nid in accepted if delivered[nid] == 0]
    twice = [nid for _, nid in accepted if delivered[nid] > 1]
    readback_failures = 0
    sample_ids = accepted[:: max(1, len(accepted) // 200)]
    conn = http.client.HTTPConnection("127.0.0.1", SIDECAR_PORT, timeout=10)
    # The sidecar's API wants its token (DAPR_API_TOKEN), which run.sh keeps in the run folder (none with --insecure).
    token_file = os.path.join(RUN_DIR, "secrets", "todo-api.dapr-api-token")
    headers = {}
    if os.path.exists(token_file):
        with open(token_file) as f:
            headers["dapr-api-token"] = f.read().strip()
    for task_id, _ in sample_ids:
        conn.request("GET", f"/v1.0/state/statestore/task-{task_id}", headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or json.loads(body).get("id") != task_id:
            readback_failures += 1
    run_sh("stop")
    write_results(traffic, samples, exits, accepted, lost, twice, readback_failures, len(sample_ids))


def write_results(traffic, samples, exits, accepted, lost, twice, readback_failures, readback_checked):
    all_names = []
    for row in samples:
        for k in row:
            if k not in all_names and k != "t_s":
                all_names.append(k)
    with open(os.path.join(OUT, "samples.csv"), "w") as f:
        f.write("t_s," + ",".join(all_names) + "\n")
        for row in samples:
            f.write(f"{row['t_s']}," + ",".join("" if row.get(n) is None else str(row.get(n)) for n in all_names) + "\n")
    minute_rows = []
    with open(os.path.join(OUT, "minutes.csv"), "w") as f:
        f.write("minute,sent,created,non2xx,errors,first_attempt_pending,p50_ms,p99_ms\n")
        for minute in sorted(traffic.minutes):
            m = traffic.minutes[minute]
            lat = sorted(m["latencies"])
            p50 = lat[len(lat) // 2] if lat else 0
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0
            minute_rows.append((minute, m, p50, p99))
            f.write(f"{minute},{m['sent']},{m['created']},{m['non2xx']},{m['errors']},{m['pending']},"
                    f"{p50:.1f},{p99:.1f}\n")

    process_names = [n for n in all_names if not n.startswith(("redis_", "stream_"))]
    rss_verdicts = []
    flat = True
    for name in process_names:
        series = [(row["t_s"], row.get(name)) for row in samples if row.get(name)]
        if len(series) < 6:
            continue
        if name == KILLED:
            # Judge the restarted replica on its second life only.
            series = [s for s in series if s[0] > DURATION_S / 2 + 30] or series
        cut = len(series) // 3
        early = statistics.median(v for _, v in series[cut:2 * cut]) / 1024
        late = statistics.median(v for _, v in series[2 * cut:]) / 1024
        growth = (late - early) / early * 100
        ok = growth <= RSS_GROWTH_PCT or name == "redis"
        flat &= ok
        rss_verdicts.append((name, series[0][1] / 1024, early, late, max(v for _, v in series) / 1024, growth, ok))

    sent = sum(m["sent"] for _, m, _, _ in minute_rows)
    created = sum(m["created"] for _, m, _, _ in minute_rows)
    non2xx = sum(m["non2xx"] for _, m, _, _ in minute_rows)
    errors = sum(m["errors"] for _, m, _, _ in minute_rows)
    pending = sum(m["pending"] for _, m, _, _ in minute_rows)
    unexpected_exits = [e for e in exits]
    passed = not non2xx and not errors and not lost and not twice and not readback_failures and not unexpected_exits \
        and flat
    first, last = samples[0], samples[-1]
    lines = [
        "# Soak test",
        "",
        f"`scripts/soak.sh`, {STAMP}: the embedded system (`scripts/run.sh --{STORE}`, 3 replicas) under {RATE:g} "
        f"`POST /tasks` a second for {DURATION_S / 3600:.2f} h from 127.0.0.1; `{KILLED}` SIGKILLed at "
        f"{DURATION_S / 2 / 60:.0f} min and started again 10 s later. Samples every {SAMPLE_S} s. "
        f"Verdict: **{'PASSED' if passed else 'FAILED'}**.",
        "",
        "| | |",
        "|---|---|",
        f"| requests sent | {sent} |",
        f"| answered 201 | {created} |",
        f"| non-2xx answers | {non2xx} |",
        f"| connection errors | {errors} |",
        f"| first attempt not delivered (left to the outbox) | {pending} |",
        f"| accepted tasks whose notification no replica logged | {len(lost)} |",
        f"| notifications logged more than once | {len(twice)} |",
        f"| tasks read back through the sidecar | {readback_checked - readback_failures} of {readback_checked} |",
        f"| processes that exited (other than the one killed on purpose) | {len(unexpected_exits)} "
        f"{' '.join(f'{n}@{t}s' for t, n, _ in unexpected_exits)} |",
        f"| Redis used memory, start → end | {first.get('redis_used_kb', 0) / 1024:.1f} → "
        f"{last.get('redis_used_kb', 0) / 1024:.1f} MB ({first.get('redis_keys')} → {last.get('redis_keys')} keys; "
        f"stream notifications {last.get('stream_notifications')} entries, notifications-retry "
        f"{last.get('stream_retry')}) |",
        "",
        "RSS per process (MB): first sample, median of the middle third, median of the last third, max, growth from "
        f"the middle to the last third (flat: at most {RSS_GROWTH_PCT:g} %; Redis holds the data, so it grows with it).",
        "",
        "| process | first | middle | last | max | growth | flat |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, start, early, late, peak, growth, ok in rss_verdicts:
        lines.append(f"| {name} | {start:.1f} | {early:.1f} | {late:.1f} | {peak:.1f} | {growth:+.1f} % | "
                     f"{'yes' if ok else 'NO'} |")
    worst = max((p99 for _, _, _, p99 in minute_rows), default=0)
    lines += ["", f"Latency per minute: p50 {statistics.median(p50 for _, _, p50, _ in minute_rows):.1f} ms "
                  f"(median of minutes), worst minute's p99 {worst:.1f} ms.", ""]
    if traffic.failures:
        lines += ["Failures:", ""] + [f"- {count} × {what}" for what, count in traffic.failures.most_common(10)] + [""]
    if lost:
        lines += ["Lost (first 10): " + ", ".join(lost[:10]), ""]
    if twice:
        lines += ["Delivered twice (first 10): " + ", ".join(twice[:10]), ""]
    lines += ["Raw figures: `samples.csv` (RSS in kB and Redis, every sample), `minutes.csv` (per minute)."]
    summary = "\n".join(lines) + "\n"
    with open(os.path.join(OUT, "summary.txt"), "w") as f:
        f.write(summary)
    chart(samples, process_names, minute_rows)
    docs = os.path.join(ROOT, "docs")
    if os.environ.get("SOAK_DOCS", "1") == "1":
        with open(os.path.join(docs, "SOAK.md"), "w") as f:
            f.write(summary.replace("Raw figures: `", f"Raw figures in `{os.path.relpath(OUT, ROOT)}/`: `"))
        if os.path.exists(os.path.join(OUT, "soak.png")):
            import shutil
            shutil.copy(os.path.join(OUT, "soak.png"), os.path.join(docs, "soak.png"))
    print(summary)
    sys.exit(0 if passed else 1)


def chart(samples, process_names, minute_rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no soak.png (apt-get install python3-matplotlib)")
        return
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    for name in process_names:
        xs = [row["t_s"] / 60 for row in samples if row.get(name)]
        ys = [row[name] / 1024 for row in samples if row.get(name)]
        top.plot(xs, ys, label=name, linewidth=1)
    xs = [row["t_s"] / 60 for row in samples if row.get("redis_used_kb")]
    top.plot(xs, [row["redis_used_kb"] / 1024 for row in samples if row.get("redis_used_kb")], "k--",
             label="redis used_memory", linewidth=1)
    top.axvline(DURATION_S / 2 / 60, color="grey", linestyle=":", label=f"{KILLED} killed")
    top.set_ylabel("RSS (MB)")
    top.set_title(f"Soak: {RATE:g} POST /tasks a second, store {STORE}")
    top.legend(fontsize=7, ncol=3)
    minutes = [m for m, _, _, _ in minute_rows]
    bottom.plot(minutes, [p99 for _, _, _, p99 in minute_rows], label="p99 ms")
    bottom.plot(minutes, [p50 for _, _, p50, _ in minute_rows], label="p50 ms")
    bottom.bar(minutes, [m["non2xx"] + m["errors"] for _, m, _, _ in minute_rows], color="red",
               label="failed requests")
    bottom.set_xlabel("minutes")
    bottom.set_ylabel("per minute")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "soak.png"), dpi=90)


if __name__ == "__main__":
    main()
