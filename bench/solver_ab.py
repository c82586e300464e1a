#!/usr/bin/env python3
"""Two rarecall binaries on the same generated data sets: do they reach the same model?

For each data set (`rarecall demo-data` with its own seed, base-rate shift, drift and
unmapped share), runs `rarecall run` with each binary (examples/demo.toml, the whole C
grid and both class weights) and compares what a user would see: the chosen C and
class weight, test AP, the operating threshold, outreach rows, and how far the test
scores and coefficients moved. Written for a change of the minimizer, which must reach
the same minimizer within its tolerance; the train-stage seconds are printed too.

    bench/solver_ab.py OLD_BIN NEW_BIN [--members 30000] [--out DIR]

Needs a Spark Connect server at sc://127.0.0.1:${RARECALL_SPARK_PORT:-15002}.
Standard library only.
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASETS = [  # (seed, base_shift, drift, unmapped)
    (1, 0.0, 0.0, 0.0),
    (2, -0.9, 0.0, 0.1),
    (3, 0.0, 0.6, 0.0),
    (4, 0.4, 0.3, 0.2),
]


def run(binary, data, out, remote):
    log = subprocess.run(
        [binary, "run", "--config", str(ROOT / "examples/demo.toml"), "--remote", remote,
         "--source", str(data), "--out", str(out)],
        capture_output=True, text=True, check=True, cwd=ROOT).stderr
    train = sum(float(m.group(1)) for m in re.finditer(
        r"^rarecall: (?:encode training rows|train \(.*\)) done in ([0-9.]+) s", log, re.M))
    s = json.load(open(out / "run_summary.json"))
    return s, train


def m(summary, *keys):
    """summary[k1][k2]...: a value of run_summary.json."""
    for k in keys:
        summary = summary[k]
    return summary


def column(path, name):
    with open(path) as f:
        return [float(r[name]) for r in csv.DictReader(f)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--members", type=int, default=30000)
    ap.add_argument("--out", default="/tmp/rarecall-solver-ab")
    a = ap.parse_args()
    remote = "sc://127.0.0.1:" + os.environ.get("RARECALL_SPARK_PORT", "15002")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    print("| data set (seed, base shift, drift, unmapped) | C old / new | class weight old / new "
          "| test AP old / new | cutoff old / new | outreach rows old / new "
          "| max abs test score diff | max coef diff / max abs coef | train s old / new |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed, shift, drift, unmapped in DATASETS:
        data = out / f"events-{a.members}-s{seed}.parquet"
        if not data.exists():
            subprocess.run([a.new, "demo-data", "--members", str(a.members), "--seed", str(seed),
                            "--base-shift", str(shift), "--drift", str(drift),
                            "--unmapped", str(unmapped), "--out", str(data)], check=True)
        res = {}
        for side, binary in (("old", a.old), ("new", a.new)):
            o = out / f"{side}-s{seed}"
            subprocess.run(["rm", "-rf", str(o)], check=True)
            res[side] = (o,) + run(binary, data, o, remote)
        (oo, so, to), (on, sn, tn) = res["old"], res["new"]
        ds = max(abs(x - y) for x, y in zip(column(oo / "test_scores.csv", "score"),
                                             column(on / "test_scores.csv", "score")))
        co, cn = column(oo / "coefficients.csv", "coefficient"), column(on / "coefficients.csv", "coefficient")
        dc = max(abs(x - y) for x, y in zip(co, cn)) / max(abs(x) for x in co)
        print(f"| {seed}, {shift}, {drift}, {unmapped} "
              f"| {m(so, 'model', 'best_c')} / {m(sn, 'model', 'best_c')} "
              f"| {m(so, 'model', 'class_weight')} / {m(sn, 'model', 'class_weight')} "
              f"| {m(so, 'test', 'average_precision'):.5f} / {m(sn, 'test', 'average_precision'):.5f} "
              f"| {m(so, 'test', 'effective_cutoff')} / {m(sn, 'test', 'effective_cutoff')} "
              f"| {m(so, 'test', 'outreach_rows')} / {m(sn, 'test', 'outreach_rows')} "
              f"| {ds:.1e} | {dc:.1e} | {to:.2f} / {tn:.2f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
