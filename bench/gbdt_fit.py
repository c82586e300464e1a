#!/usr/bin/env python3
"""Fit time of the trees, side by side: forust (rarecall's challenger, through
`bench_tool gbdt`) against scikit-learn's HistGradientBoostingClassifier, on the same
training matrix and loss weights (D/x.npy, D/y.npy, D/w.npy from `bench_tool prepare`),
the same settings (log loss, learning rate 0.1, depth 5 = up to 32 leaves, 300 rounds,
no early stopping, 256 bins, L2 1.0 on the leaves (forust's default), unit minimum hessian
per leaf), in alternating pairs on the same CPUs; prints medians, ranges and the
ratio pair by pair.

Usage: bench/gbdt_fit.py --dir D [--reps 3] [--threads 1] [--rounds 300]
(run with the scikit-learn venv; bench/gbdt.sh does it all).
"""

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def rust_fit(tool, d, threads, rounds):
    cmd = [str(tool), "gbdt", "--dir", str(d), "--threads", str(threads), "--rounds", str(rounds)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def sklearn_fit(X, y, w, rounds):
    from sklearn.ensemble import HistGradientBoostingClassifier

    keep = w > 0
    X, y, w = X[keep], y[keep], w[keep]
    t0 = time.perf_counter()
    m = HistGradientBoostingClassifier(
        learning_rate=0.1, max_iter=rounds, max_depth=5, max_leaf_nodes=None,
        min_samples_leaf=1, l2_regularization=1.0, max_bins=255,
        early_stopping=False, random_state=42)
    m.fit(X, y, sample_weight=w)
    secs = time.perf_counter() - t0
    p = np.clip(m.predict_proba(X)[:, 1], 1e-15, 1 - 1e-15)
    loss = -np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))) / np.sum(w)
    return {"secs": secs, "rows": int(keep.sum()), "train_log_loss": float(loss),
            "trees": int(m.n_iter_)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--tool", default=str(ROOT / "target/release/examples/bench_tool"))
    a = ap.parse_args()
    # Both sides on the same number of threads (OpenMP for scikit-learn).
    from threadpoolctl import threadpool_limits

    d = Path(a.dir)
    X = np.load(d / "x.npy")
    y = np.load(d / "y.npy")
    w = np.load(d / "w.npy")
    sklearn_fit(X[:20000], y[:20000], w[:20000], 5)  # warm-up, untimed
    pairs = []
    for _ in range(a.reps):
        r = rust_fit(a.tool, d, a.threads, a.rounds)
        with threadpool_limits(limits=a.threads):
            s = sklearn_fit(X, y, w, a.rounds)
        pairs.append((r, s))
        print(json.dumps({"forust": r, "sklearn": s}), flush=True)
    rs = [r["secs"] for r, _ in pairs]
    ss = [s["secs"] for _, s in pairs]
    ratio = [r["secs"] / s["secs"] for r, s in pairs]
    med = statistics.median
    print(f"\n| {X.shape[0]} rows x {X.shape[1]} features, {a.rounds} rounds, depth 5, "
          f"{a.threads} thread(s), {a.reps} pairs | median s (range) |")
    print("|---|---|")
    print(f"| forust 0.8 (rarecall) | {med(rs):.2f} ({min(rs):.2f}-{max(rs):.2f}) |")
    print(f"| scikit-learn HistGradientBoosting | {med(ss):.2f} ({min(ss):.2f}-{max(ss):.2f}) |")
    print(f"| ratio forust / sklearn, pair by pair | {med(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f}) |")
    print(f"| weighted training log loss | forust {pairs[-1][0]['train_log_loss']:.5f}, "
          f"sklearn {pairs[-1][1]['train_log_loss']:.5f} |")


if __name__ == "__main__":
    main()
