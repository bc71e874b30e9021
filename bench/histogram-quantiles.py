#!/usr/bin/env python3
"""Quantiles of a Prometheus histogram between two /metrics snapshots (linear within buckets).

Usage: histogram-quantiles.py NAME METRIC BEFORE AFTER [LABEL=VALUE ...] [--within SECONDS]
Prints: NAME: COUNT samples, p50 X ms, p99 Y ms[, within Z ms W%]
BEFORE may be an empty file (counts from the process start)."""
import re
import sys


def buckets(path, metric, labels):
    found = {}
    pattern = re.compile(r'^' + re.escape(metric) + r'_bucket\{(.*)\} ([0-9.e+]+)$', re.M)
    for match in pattern.finditer(open(path).read()):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if fields.get("le") in (None, "+Inf") or any(fields.get(k) != v for k, v in labels.items()):
            continue
        found[float(fields["le"])] = float(match.group(2))
    return found


arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
within = float(sys.argv[sys.argv.index("--within") + 1]) if "--within" in sys.argv else None
if within is not None:
    arguments.remove(sys.argv[sys.argv.index("--within") + 1])
name, metric, before_path, after_path = arguments[:4]
labels = dict(pair.split("=", 1) for pair in arguments[4:])
before, after = buckets(before_path, metric, labels), buckets(after_path, metric, labels)
counts = sorted((bound, after[bound] - before.get(bound, 0)) for bound in after)
total = counts[-1][1] if counts else 0


def quantile(q):
    rank, lower, below = q * total, 0.0, 0.0
    for bound, count in counts:
        if count >= rank:
            return lower + (bound - lower) * (rank - below) / max(count - below, 1)
        lower, below = bound, count
    return float("inf")


line = f"{name}: {int(total)} samples, p50 {quantile(0.5) * 1000:.2f} ms, p99 {quantile(0.99) * 1000:.2f} ms"
if within is not None:
    inside = next((count for bound, count in counts if abs(bound - within) < 1e-9), 0)
    line += f", within {within * 1000:g} ms {100 * inside / max(total, 1):.2f}%"
print(line)
