#!/usr/bin/env python3
"""A live view of the running system (scripts/run.sh), in the terminal, once a second.

It reads each process's own /metrics (Prometheus's text format, the same that Prometheus scrapes) and shows, per
process: calls per second, p99 over the last interval (from the histogram buckets), and for todo-api its two circuit
breakers and the notifications still pending; per notification-service replica, its deliveries per second.

    scripts/live.py                      the run of .run (RUN_DIR), every second until Ctrl-C
    scripts/live.py --once               one sample (two scrapes a second apart), then exit
    scripts/live.py --seconds 30         for 30 seconds

The process list and ports come from the run folder's `processes` file, as `scripts/run.sh status` shows it.
"""
import argparse
import os
import re
import sys
import time
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
BREAKER = {0: "closed", 1: "HALF-OPEN", 2: "OPEN"}


def scrape(url):
    """{(name, frozenset(labels)): value} of one /metrics, or None when the process does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    samples = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            labels = frozenset(LABEL.findall(m.group(2) or ""))
            try:
                samples[(m.group(1), labels)] = float(m.group(3))
            except ValueError:
                pass
    return samples


def total(samples, name, **want):
    """The sum of the samples of `name` whose labels include `want`."""
    return sum(v for (n, labels), v in samples.items()
               if n == name and all((k, w) in labels for k, w in want.items()))


def p99(before, after, route):
    """p99 in ms of the requests of `route` between two scrapes, from the histogram buckets' deltas."""
    buckets = {}
    for (n, labels), v in after.items():
        if n != "vertx_http_server_response_time_seconds_bucket" or ("route", route) not in labels:
            continue
        le = dict(labels)["le"]
        buckets[le] = buckets.get(le, 0) + v - before.get((n, labels), 0)
    if not buckets:
        return None
    bounds = sorted(buckets.items(), key=lambda kv: float("inf") if kv[0] == "+Inf" else float(kv[0]))
    count = bounds[-1][1]
    if count <= 0:
        return None
    for le, cumulative in bounds:
        if cumulative >= 0.99 * count:
            return None if le == "+Inf" else float(le) * 1000
    return None


def processes(run_dir):
    """[(name, app url)] of the run's apps: todo-api first, then the replicas."""
    apps = []
    with open(os.path.join(run_dir, "processes")) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and (parts[0] == "todo-api" or re.fullmatch(r"notification-\d+", parts[0])):
                apps.append((parts[0], parts[2]))
    return apps


def view(apps, before, after, seconds):
    lines = [time.strftime("%H:%M:%S") + f"  (last {seconds:.1f} s)",
             f"{'process':<16} {'calls/s':>8} {'p99 ms':>8}  details"]
    for name, _ in apps:
        a, b = after.get(name), before.get(name)
        if a is None or b is None:
            lines.append(f"{name:<16} {'-':>8} {'-':>8}  DOWN (no answer on /metrics)")
            continue
        if name == "todo-api":
            calls = total(a, "vertx_http_server_requests_total", route="/tasks", method="POST") \
                - total(b, "vertx_http_server_requests_total", route="/tasks", method="POST")
            latency = p99(b, a, "/tasks")
            breakers = ", ".join(
                f"{dict(labels)['breaker']}: {BREAKER.get(int(v), v)}"
                for (n, labels), v in sorted(a.items(), key=lambda kv: sorted(kv[0][1]))
                if n == "todo_circuit_breaker_state")
            left = total(a, "todo_notifications_total", outcome="left_to_outbox")
            settled = total(a, "todo_notifications_total", outcome="delivered_by_outbox") \
                + total(a, "todo_notifications_total", outcome="given_up")
            pending = max(0, left - settled) + total(a, "todo_notifications_in_flight")
            details = f"breakers [{breakers}]; notifications pending {pending:.0f}"
        else:
            calls = total(a, "notifications_delivered_total") - total(b, "notifications_delivered_total")
            latency = p99(b, a, "/notify")
            details = f"delivered {total(a, 'notifications_delivered_total'):.0f} in all"
        rate = calls / seconds if seconds > 0 else 0
        lines.append(f"{name:<16} {rate:>8.1f} {('-' if latency is None else f'{latency:.0f}'):>8}  {details}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="one sample, then exit")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this many seconds (0: until Ctrl-C)")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run_dir = os.environ.get("RUN_DIR", os.path.join(root, ".run"))
    if not os.path.exists(os.path.join(run_dir, "processes")):
        sys.exit(f"live: no running system in {run_dir} (start it with scripts/run.sh, or set RUN_DIR)")
    apps = processes(run_dir)
    started = time.monotonic()
    before, t0 = {name: scrape(url + "/metrics") for name, url in apps}, time.monotonic()
    tty = sys.stdout.isatty()
    try:
        while True:
            time.sleep(args.interval)
            after, t1 = {name: scrape(url + "/metrics") for name, url in apps}, time.monotonic()
            text = view(apps, before, after, t1 - t0)
            print(("\x1b[H\x1b[J" if tty and not args.once else "") + text, flush=True)
            before, t0 = after, t1
            if args.once or (args.seconds and t1 - started >= args.seconds):
                return
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
