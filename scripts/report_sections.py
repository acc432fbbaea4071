"""What scripts/bench_report.py and scripts/peers_report.py share: the settings.env of a results folder, medians, and
the sections of docs/BENCHMARKS.md that each report owns between its two marker comments (standard library only: the
peers' smoke in the test command reads results without matplotlib)."""
import os
import statistics


def settings(out):
    """KEY=value lines of OUT/settings.env, quotes stripped."""
    result = {}
    with open(os.path.join(out, "settings.env")) as f:
        for line in f:
            key, _, val = line.strip().partition("=")
            result[key] = val.strip('"')
    return result


def median(values):
    """The median of the values that are not None, or None."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def kept_between(path, start, end):
    """The part of the file at `path` from `start` to `end`, markers included, or "" when it has none."""
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        text = f.read()
    if start not in text or end not in text:
        return ""
    return start + text.split(start, 1)[1].split(end, 1)[0] + end


def replace_between(text, start, end, section):
    """`text` with its part from `start` to `end` replaced by `section` (appended when it has none)."""
    if start in text and end in text:
        before, rest = text.split(start, 1)
        return before + section + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + section + "\n"
