#!/usr/bin/env python3
"""One trial of scripts/benchmark-hog.sh: POST /tasks at a fixed rate against todo-api while a CPU hog (stress-ng, one
worker per core) runs for a few seconds in the middle, then what became of every request. Standard library only.

  hog_traffic.py traffic OUT.json --url URL --rate 20 --before 10 --hog 5 --after 15
      sends the creates (each on its schedule, whatever the answers before it), starts the hog BEFORE seconds in and
      records each answer and when the hog really began and ended; todo-api's /metrics breaker lines before it
  hog_traffic.py check OUT.json --url URL --logs RUN_DIR/logs --label NAME
      once the outbox has drained: every 201 task read back through todo-api (same title), every accepted task's
      notification looked for by its id in the replicas' logs (received exactly once, as e2e-tests' Receipts counts
      them), the breaker lines after; prints one line and adds the figures to OUT.json
  hog_traffic.py report RESULTS_DIR [--docs docs/BENCHMARKS.md]
      the trials' figures as a table, printed, and written to the cpu-hog section of the docs file
"""
import argparse
import http.client
import json
import os
import pathlib
import re
import subprocess
import threading
import time
import sys
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from report_sections import median, replace_between, settings  # noqa: E402

RECEIVED = re.compile(r"Notification received: .*notification_id=([^,)\s]+)")
BREAKER_METRIC = re.compile(r"^(todo_circuit_breaker_(?:transitions|failures)_total)\{([^}]*)\} ([0-9.eE+]+)$")
local = threading.local()


def connection(url):
    if getattr(local, "conn", None) is None:
        parts = urllib.parse.urlsplit(url)
        local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    return local.conn


def request(url, method, path, body=None):
    """(status, parsed JSON or None); status 0 when there was no answer. One keep-alive connection per thread."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    for attempt in (1, 2):
        conn = connection(url)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = conn.getresponse()
            raw = response.read()
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                local.conn = None
            try:
                return response.status, json.loads(raw) if raw else None
            except ValueError:
                return response.status, None
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            local.conn = None
            # A kept-alive connection the server had closed: once more on a new one. Anything else is no answer.
            if attempt == 2 or not isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError,
                                                  ConnectionResetError)):
                return 0, {"error": type(e).__name__, "message": str(e)}
    return 0, None


def labels(key):
    """The labels of a metric key 'name{a="x",b="y"}' as a dict."""
    return dict(re.findall(r'(\w+)="([^"]*)"', key))


def breaker_metrics(url):
    """todo-api's breaker counters from /metrics: {'name{labels}': value}."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    except (OSError, http.client.HTTPException) as e:
        return {"unavailable": str(e)}
    finally:
        conn.close()
    found = {}
    for line in text.splitlines():
        m = BREAKER_METRIC.match(line)
        if m:
            found[f"{m.group(1)}{{{m.group(2)}}}"] = float(m.group(3))
    return found


def traffic(args):
    total = int(args.rate * (args.before + args.hog + args.after))
    outcomes = [None] * total
    hog = {}
    start = time.monotonic()
    since = lambda: round(time.monotonic() - start, 3)  # noqa: E731

    def send(i):
        sent = since()
        title = f"hog {args.label} {i}"
        status, body = request(args.url, "POST", "/tasks", {"title": title})
        outcome = {"i": i, "sent": sent, "answered": since(), "status": status, "title": title}
        if isinstance(body, dict):
            if status == 201:
                notification = body.get("notification") or {}
                outcome.update(task_id=body.get("id"), notification=notification.get("status"),
                               notification_id=notification.get("notification_id"))
            else:
                outcome.update(error=body.get("error"), message=str(body.get("message"))[:300])
        outcomes[i] = outcome

    def run_hog():
        hog["began"] = since()
        subprocess.run(["stress-ng", "--cpu", str(args.workers or os.cpu_count() or 1), "--timeout", f"{args.hog}s",
                        "--quiet"],
                       check=False)
        hog["ended"] = since()

    metrics_before = breaker_metrics(args.url)
    hog_thread = threading.Thread(target=run_hog, daemon=True)
    with ThreadPoolExecutor(max_workers=200) as pool:
        for i in range(total):
            due = start + i / args.rate
            if args.hog > 0 and not hog_thread.is_alive() and "began" not in hog and due - start >= args.before:
                hog_thread.start()
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, i)
    if args.hog > 0:
        hog_thread.join()
    pathlib.Path(args.out).write_text(json.dumps({"rate": args.rate, "hog": hog, "hog_seconds": args.hog,
                                                  "hog_workers": args.workers or os.cpu_count(),
                                                  "metrics_before": metrics_before, "outcomes": outcomes}))


def receipts(logs):
    counts = {}
    for log in pathlib.Path(logs).glob("notification-*.log"):
        if not re.fullmatch(r"notification-\d+\.log", log.name):
            continue
        for line in log.read_text(errors="replace").splitlines():
            m = RECEIVED.search(line)
            if m:
                counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def check(args):
    data = json.loads(pathlib.Path(args.out).read_text())
    outcomes, hog = data["outcomes"], data["hog"]
    accepted = [o for o in outcomes if o["status"] == 201]
    refused = [o for o in outcomes if o["status"] == 503]
    other = {}
    for o in outcomes:
        if o["status"] not in (201, 503):
            other[o["status"]] = other.get(o["status"], 0) + 1

    def read(o):
        status, body = request(args.url, "GET", f"/tasks/{o['task_id']}")
        return status == 200 and isinstance(body, dict) and body.get("title") == o["title"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        unreadable = [o["task_id"] for o, ok in zip(accepted, pool.map(read, accepted)) if not ok]
    counts = receipts(args.logs)
    lost = [o["notification_id"] for o in accepted if counts.get(o["notification_id"], 0) == 0]
    twice = [o["notification_id"] for o in accepted if counts.get(o["notification_id"], 0) > 1]
    after = breaker_metrics(args.url)
    before = data["metrics_before"]
    opened = {k: after[k] - before.get(k, 0) for k in after if "transitions" in k and 'state="open"' in k
              and after[k] - before.get(k, 0) > 0}
    failures = {k: after[k] - before.get(k, 0) for k in after if "failures" in k and after[k] - before.get(k, 0) > 0}
    began, ended = hog["began"], hog["ended"]
    last_refusal = max((o["answered"] for o in refused), default=None)
    figures = {
        "label": args.label, "requests": len(outcomes), "accepted": len(accepted), "refused_503": len(refused),
        "other_non_2xx": other, "pending": sum(1 for o in accepted if o.get("notification") != "delivered"),
        "hog_began_s": began, "hog_ended_s": ended,
        "first_refusal_after_hog_began_s": None if not refused else round(min(o["sent"] for o in refused) - began, 2),
        "last_refusal_after_hog_ended_s": None if last_refusal is None else round(last_refusal - ended, 2),
        "refused_sent_after_hog_ended": sum(1 for o in refused if o["sent"] >= ended),
        "slowest_201_ms": round(1000 * max((o["answered"] - o["sent"] for o in accepted), default=0)),
        "unreadable_tasks": len(unreadable), "lost_notifications": len(lost), "delivered_twice": len(twice),
        "breaker_opened": opened, "breaker_failures": failures,
    }
    data["figures"] = figures
    pathlib.Path(args.out).write_text(json.dumps(data))
    refusals = "no 503" if not refused else (
        f"{len(refused)} refused (503) from {figures['first_refusal_after_hog_began_s']:+.1f} s after the hog began, "
        f"the last answered {figures['last_refusal_after_hog_ended_s']:+.1f} s after it ended "
        f"({figures['refused_sent_after_hog_ended']} sent after it ended)")
    print(f"{args.label}: {len(outcomes)} creates, {len(accepted)} accepted ({figures['pending']} pending), {refusals}, "
          f"other non-2xx {other or 0}; hog {ended - began:.1f} s; slowest 201 {figures['slowest_201_ms']} ms; "
          f"{len(unreadable)} accepted tasks unreadable, {len(lost)} notifications lost, {len(twice)} twice; "
          f"breakers opened {opened or 'never'}; failures counted {failures or 'none'}")
    return 1 if unreadable or lost else 0


START = "<!-- cpu-hog: written by scripts/benchmark.sh hog -->"
END = "<!-- end of cpu-hog -->"


def report(args):
    out = pathlib.Path(args.out)
    s = settings(str(out))
    trials = []
    for path in sorted(out.glob("*-[0-9]*.json"), key=lambda p: (p.name.split("-")[0] != "before", p.name)):
        figures = json.loads(path.read_text()).get("figures")
        if figures:
            trials.append(figures)
    title = (f"## A CPU hog on every core for {s['HOG']} s under {s['RATE']} creates/s")
    lines = [START, title, "",
             f"`scripts/benchmark.sh hog` ({out.name}): the embedded default (`scripts/run.sh --detach`) at "
             f"{s['RATE']} POST /tasks a second from loopback; {s['BEFORE']} s in, `stress-ng --cpu <cores> --timeout "
             f"{s['HOG']}s` starves every process of the system; {s['AFTER']} s more of traffic. Refusals are 503 "
             "answers (an open breaker); \"last refusal\" is when the last one was answered, counted from the end of "
             "the hog. Lost: an accepted (201) task that does not read back, or whose notification no replica "
             "received, once the outbox drained. "
             + (f"Before: {s['BASELINE_REF']} ({s['BASELINE_SUBJECT']}); after: {s['HEAD']}."
                if s.get("BASELINE_REF") else f"Code: {s['HEAD']}."), "",
             "| run | creates | accepted (pending) | refused (503) | last refusal after the hog | other non-2xx | "
             "slowest 201 | lost tasks / notifications | twice | breakers opened | failures counted |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in trials:
        last = f["last_refusal_after_hog_ended_s"]
        opened = ", ".join(f"{labels(k).get('breaker')} {v:.0f}x" for k, v in f["breaker_opened"].items()) or "none"
        failed = ", ".join(f"{labels(k).get('breaker')}: {v:.0f} {labels(k).get('cause')}"
                           for k, v in f["breaker_failures"].items()) or "-"
        lines.append(f"| {f['label']} | {f['requests']} | {f['accepted']} ({f['pending']}) | {f['refused_503']} | "
                     f"{'-' if last is None else f'{last:+.1f} s'} | {f['other_non_2xx'] or 0} | "
                     f"{f['slowest_201_ms']} ms | {f['unreadable_tasks']} / {f['lost_notifications']} | "
                     f"{f['delivered_twice']} | {opened} | {failed} |")
    lines.append("")
    for variant in sorted({f["label"].rsplit("-", 1)[0] for f in trials}):
        mine = [f for f in trials if f["label"].rsplit("-", 1)[0] == variant]
        lines.append(f"- {variant}: median {median([f['refused_503'] for f in mine])} refused of "
                     f"{median([f['requests'] for f in mine])}; the last refusal at median "
                     f"{median([f['last_refusal_after_hog_ended_s'] or 0 for f in mine])} s after the hog ended; "
                     f"{sum(f['unreadable_tasks'] + f['lost_notifications'] for f in mine)} lost.")
    lines.append(END)
    section = "\n".join(lines)
    print(section)
    if args.docs:
        path = pathlib.Path(args.docs)
        path.write_text(replace_between(path.read_text(), START, END, section))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["traffic", "check", "report"])
    parser.add_argument("out")
    parser.add_argument("--url")
    parser.add_argument("--docs")
    parser.add_argument("--label", default="trial")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--before", type=float, default=10)
    parser.add_argument("--hog", type=float, default=5)
    parser.add_argument("--after", type=float, default=15)
    parser.add_argument("--logs")
    parser.add_argument("--workers", type=int, default=0, help="stress-ng --cpu workers (default: one per core)")
    args = parser.parse_args()
    if args.command == "traffic":
        traffic(args)
        return 0
    return check(args) if args.command == "check" else report(args)


if __name__ == "__main__":
    raise SystemExit(main())
