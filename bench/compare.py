"""Side-by-side benchmarks: rarecall (Rust, through target/release/examples/bench_tool)
against the notebook stack (PySpark Connect, NumPy, scikit-learn) on the same data.

    python bench/compare.py fit|encode|threshold|pull|stream  --dir D [--reps N]
    python bench/compare.py e2e --runs R1.json,R2.json,...
    python bench/compare.py report --results DIR > tables.md

Every comparison runs both sides in the same invocation, alternating which goes first,
and quotes the median and min-max of each side and of the ratio computed pair by pair
(the Python time of repetition k divided by the Rust time of repetition k). Each
section writes DIR/results/<section>.json; `report` turns them into Markdown tables.

`fit`, `encode` and `threshold` need scikit-learn (the venv-sklearn virtualenv); `pull`
needs pyspark with the Connect client (the venv-pyspark virtualenv).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = Path(os.environ.get("RARECALL_BENCH_TOOL", ROOT / "target/release/examples/bench_tool"))


def rust(*args, cpus=None):
    cmd = [str(TOOL), *map(str, args)]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def stats(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(s, unit="s", digits=3):
    u = f" {unit}" if unit else ""
    return f"{s['median']:.{digits}g}{u} ({s['min']:.{digits}g}-{s['max']:.{digits}g})"


def save(d, section, payload):
    out = Path(d) / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{section}.json").write_text(json.dumps(payload, indent=1))
    print(json.dumps({k: v for k, v in payload.items() if k.endswith("stats") or k == "ratio"}, indent=1))


def pin(cpus):
    """Pins this process to `cpus` (a set), returns the previous set."""
    prev = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    return prev


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for i in threadpool_info()
        ]
    except Exception as e:  # noqa: BLE001
        return str(e)


def load(d, name):
    import numpy as np

    return np.load(Path(d) / name)


def meta(d):
    return json.loads((Path(d) / "meta.json").read_text())


# ---------------------------------------------------------------------------- fit --


def objective(X, y, w, C, coef, intercept):
    """sklearn's (and rarecall's) objective: C * sum w logloss + ||coef||^2 / 2."""
    import numpy as np

    z = X @ coef + intercept
    loss = np.where(y == 1, np.logaddexp(0, -z), np.logaddexp(0, z))
    return C * float(np.sum(w * loss)) + 0.5 * float(coef @ coef)


def sklearn_grid(X, y, w, ev, folds, m):
    """The notebook's grid: every C, every grouped fold (the same fold ids), scored by
    weighted average precision, then the refit on all rows with the best C."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    grid = sorted(set(m["c_grid"]))
    k = m["n_folds"]
    scores = []
    fits = {}
    for C in grid:
        aps = []
        for f in range(k):
            tr, te = folds != f, folds == f
            lr = LogisticRegression(C=C, tol=m["tol"], max_iter=m["max_iter"], solver="lbfgs")
            lr.fit(X[tr], y[tr], sample_weight=w[tr])
            p = lr.predict_proba(X[te])[:, 1]
            aps.append(average_precision_score(y[te], p, sample_weight=ev[te]))
            fits[(C, f)] = (lr.coef_[0].copy(), float(lr.intercept_[0]), int(lr.n_iter_[0]))
        scores.append((C, float(np.mean(aps)), aps))
    best = max(range(len(scores)), key=lambda i: (scores[i][1], -i))
    C = scores[best][0]
    lr = LogisticRegression(C=C, tol=m["tol"], max_iter=m["max_iter"], solver="lbfgs")
    lr.fit(X, y, sample_weight=w)
    return {"scores": scores, "best_c": C, "coef": lr.coef_[0], "intercept": float(lr.intercept_[0]),
            "n_iter": int(lr.n_iter_[0]), "fits": fits}


def cmd_fit(a):
    import numpy as np
    from threadpoolctl import threadpool_limits

    d = a.dir
    m = meta(d)
    X, y, w, ev = load(d, "x.npy"), load(d, "y.npy"), load(d, "w.npy"), load(d, "eval_w.npy")
    folds = load(d, "folds.npy")
    rs1, rs2, py = [], [], []
    sub = slice(0, 20000)  # warm-up: imports and first calls, untimed
    sklearn_grid(X[sub], y[sub], w[sub], ev[sub], folds[sub], {**m, "c_grid": [1.0]})
    r_last = s_last = verify = None
    for rep in range(a.reps):
        order = ["rust", "python"] if rep % 2 == 0 else ["python", "rust"]
        for side in order:
            if side == "rust":
                r_last = rust("fit", "--dir", d, "--verify" if rep == 0 else "--reps", *([] if rep == 0 else ["1"]), cpus="0")
                rs1.append(r_last["secs"][0])
                if rep == 0:
                    verify = r_last["verify"]
                rs2.append(rust("fit", "--dir", d)["secs"][0])
            else:
                prev = pin({0})
                with threadpool_limits(limits=1):
                    t0 = time.perf_counter()
                    s_last = sklearn_grid(X, y, w, ev, folds, m)
                    py.append(time.perf_counter() - t0)
                pin(prev)
        print(f"fit rep {rep}: rust 1 core {rs1[-1]:.2f} s, 2 cores {rs2[-1]:.2f} s, sklearn {py[-1]:.2f} s", file=sys.stderr)
    # Same objective: each side's solution evaluated by the same NumPy formula.
    C = s_last["best_c"]
    f_s = objective(X, y, w, C, s_last["coef"], s_last["intercept"])
    coef_r = np.array(r_last["refit"]["coef"])
    f_r = objective(X, y, w, r_last["best_c"], coef_r, r_last["refit"]["intercept"])
    fold_rel = []
    for v in verify:
        f = v["fold"]
        cs, bs, _ = s_last["fits"][(v["c"], f)]
        tr = folds != f
        fo = objective(X[tr], y[tr], w[tr], v["c"], cs, bs)
        fold_rel.append((fo - v["objective"]) / abs(v["objective"]))
    ap_r = [s["mean_ap"] for s in r_last["cv"]]
    ap_s = [s[1] for s in s_last["scores"]]
    fold_ap_diff = max(
        abs(a_ - b_) for rs, ss in zip(r_last["cv"], s_last["scores"]) for a_, b_ in zip(rs["fold_ap"], ss[2])
    )
    n_fits = len(ap_r) * m["n_folds"] + 1
    passes = sum(v["n_iter"] for v in verify)
    save(d, "fit", {
        "rows": len(y), "cols": X.shape[1], "fits": n_fits,
        "rust_1core": rs1, "rust_2core": rs2, "sklearn": py,
        "rust_1core_stats": stats(rs1), "rust_2core_stats": stats(rs2), "sklearn_stats": stats(py),
        "ratio_1core_stats": stats([p / r for p, r in zip(py, rs1)]),
        "ratio_2core_stats": stats([p / r for p, r in zip(py, rs2)]),
        "best_c": {"rust": r_last["best_c"], "sklearn": C},
        "refit_objective": {"rust": f_r, "sklearn": f_s, "rel_diff": (f_s - f_r) / abs(f_r)},
        "refit_n_iter": {"rust": r_last["refit"]["n_iter"], "sklearn": s_last["n_iter"]},
        "fold_objective_rel_diff_max": max(abs(v) for v in fold_rel),
        "fold_objective_rel_diff_min_signed": min(fold_rel),
        "mean_ap": {"rust": ap_r, "sklearn": ap_s},
        "fold_ap_max_abs_diff": fold_ap_diff,
        "rust_cold_fold_iterations": passes,
        "sklearn_fold_iterations": sum(v[2] for v in s_last["fits"].values()),
        "blas": blas_info(),
    })


# ------------------------------------------------------------------------- encode --


def sklearn_encode(num, cat, offsets, ids, folds, y, m):
    """The notebook's encoding in NumPy + scikit-learn, to the same columns."""
    import numpy as np
    from sklearn.model_selection import PredefinedSplit
    from sklearn.preprocessing import StandardScaler, TargetEncoder

    feats = m["numeric_features"]
    cols = []
    for src, tr in m["numeric_sources"]:
        v = num[:, feats.index(src)]
        nan = np.isnan(v)
        if tr == "Log1pCount":
            cols.append(np.log1p(np.clip(np.where(nan, 0.0, v), 0.0, None)))
        elif tr.startswith("Log1pDays"):
            md = float(tr.split("missing_days:")[1].strip(" }"))
            cols.append(np.log1p(np.clip(np.where(nan, md, v), 0.0, None)))
        else:
            cols.append(nan.astype(float))
    # Multi-hot: count rows per description, keep the top_n with min_support (ties by
    # name), everything else into `other`.
    dictionary = m["desc_dictionary"]
    blank = np.array([s.strip() == "" for s in dictionary] + [True])
    counts = np.bincount(ids, minlength=len(dictionary))
    order = sorted(range(len(dictionary)), key=lambda i: (-counts[i], dictionary[i]))
    kept = [i for i in order if counts[i] >= m["min_support"] and not blank[i]][: m["top_n"]]
    col_of = np.full(len(dictionary), len(kept))
    col_of[kept] = np.arange(len(kept))
    n = len(y)
    mh = np.zeros((n, len(kept) + 1))
    rows = np.repeat(np.arange(n), np.diff(offsets))
    ok = ~blank[ids]
    mh[rows[ok], col_of[ids[ok]]] = 1.0
    te = TargetEncoder(target_type="binary", smooth="auto", cv=PredefinedSplit(folds))
    te_cols = te.fit_transform(cat, y)
    X = np.column_stack(cols + [mh, te_cols])
    return StandardScaler().fit_transform(X)


def cmd_encode(a):
    import numpy as np
    from threadpoolctl import threadpool_limits

    d = a.dir
    m = meta(d)
    num, cat = load(d, "numeric.npy"), load(d, "cat_codes.npy")
    offsets, ids = load(d, "desc_offsets.npy"), load(d, "desc_ids.npy")
    folds, y = load(d, "folds.npy"), load(d, "y.npy")
    ref = load(d, "x.npy")
    rs, py = [], []
    sklearn_encode(num, cat, offsets, ids, folds, y, m)  # warm-up: imports, first-touch
    Xs = None
    for rep in range(a.reps):
        order = ["rust", "python"] if rep % 2 == 0 else ["python", "rust"]
        for side in order:
            if side == "rust":
                r = rust("encode", "--config", a.config, "--dir", d, "--reps", "1", cpus="0")
                rs.append(r["secs"][0])
            else:
                prev = pin({0})
                with threadpool_limits(limits=1):
                    t0 = time.perf_counter()
                    Xs = sklearn_encode(num, cat, offsets, ids, folds, y, m)
                    py.append(time.perf_counter() - t0)
                pin(prev)
        print(f"encode rep {rep}: rust {rs[-1]:.3f} s, sklearn {py[-1]:.3f} s", file=sys.stderr)
    save(d, "encode", {
        "rows": len(y), "cols": ref.shape[1],
        "rust": rs, "sklearn": py, "rust_stats": stats(rs), "sklearn_stats": stats(py),
        "ratio_stats": stats([p / r for p, r in zip(py, rs)]),
        "max_abs_diff": float(np.max(np.abs(Xs - ref))),
        "matrix_mb": ref.nbytes / 1e6,
    })


# ---------------------------------------------------------------------- threshold --


def numpy_threshold(y, s, w, floor):
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    p, r, t = precision_recall_curve(y, s, sample_weight=w, drop_intermediate=False)
    p, r = p[:-1], r[:-1]
    ok = p >= floor
    # Highest recall, then precision, then threshold: lexsort's last key is primary.
    i = np.flatnonzero(ok)[np.lexsort((t[ok], p[ok], r[ok]))[-1]]
    return float(t[i]), float(p[i]), float(r[i])


def cmd_threshold(a):
    d = a.dir
    y, w, s = load(d, "y.npy"), load(d, "eval_w.npy"), load(d, "oof.npy")
    rs, py = [], []
    got = numpy_threshold(y, s, w, 0.4)  # warm-up: imports, untimed
    for rep in range(a.reps):
        order = ["rust", "python"] if rep % 2 == 0 else ["python", "rust"]
        for side in order:
            if side == "rust":
                r = rust("threshold", "--dir", d, "--reps", "1", cpus="0")
                rs.append(r["secs"][0])
            else:
                prev = pin({0})
                t0 = time.perf_counter()
                got = numpy_threshold(y, s, w, 0.4)
                py.append(time.perf_counter() - t0)
                pin(prev)
    c = r["choice"]
    save(d, "threshold", {
        "rows": len(y), "points": r["points"],
        "rust": rs, "sklearn": py, "rust_stats": stats(rs), "sklearn_stats": stats(py),
        "ratio_stats": stats([p / q for p, q in zip(py, rs)]),
        "same_choice": [c["threshold"], c["precision"], c["recall"]] == list(got),
        "rust_choice": c, "numpy_choice": got,
    })


# --------------------------------------------------------------------------- pull --


def cmd_pull(a):
    from pyspark.sql import SparkSession

    d = Path(a.dir).resolve()
    path = str(d / "features.parquet")
    q = f"select * from parquet.`{path}`"
    rs, rt, py = [], [], []
    rows = nbytes = None
    for rep in range(a.reps):
        order = ["rust", "python"] if rep % 2 == 0 else ["python", "rust"]
        for side in order:
            if side == "rust":
                r = rust("pull", "--remote", a.remote, "--path", path, "--config", a.config)
                rs.append(r["secs"])
                rt.append(r["table_secs"])
                rows = r["rows"]
            else:
                spark = SparkSession.builder.remote(a.remote).getOrCreate()
                spark.sql("select 1").collect()  # connected, like the Rust side
                t0 = time.perf_counter()
                tbl = spark.sql(q).toArrow()
                py.append(time.perf_counter() - t0)
                nbytes = tbl.nbytes
                assert tbl.num_rows == rows or rows is None
                spark.stop()
        print(f"pull rep {rep}: rust {rs[-1]:.2f} s, pyspark {py[-1]:.2f} s", file=sys.stderr)
    save(d, "pull", {
        "rows": rows, "arrow_bytes": nbytes,
        "rust": rs, "rust_table": rt, "pyspark": py,
        "rust_stats": stats(rs), "rust_table_stats": stats(rt), "pyspark_stats": stats(py),
        "ratio_stats": stats([p / r for p, r in zip(py, rs)]),
    })


def cmd_stream(a):
    res = [rust("stream", "--mib", 1024) for _ in range(3)]
    best = {k: max(r[k] for r in res) for k in res[0] if k.endswith(("_1", "_all"))}
    save(a.dir, "stream", {"runs": res, "best": best})


# ---------------------------------------------------------------------------- e2e --


def cmd_e2e_run(a):
    """Runs `rarecall run` on demo data of each size (rounds over the sizes, so noise
    spreads evenly) and records stage wall times and the client's peak RSS."""
    import re
    import tempfile

    rarecall = Path(os.environ.get("RARECALL_BIN", ROOT / "target/release/rarecall"))
    runs_file = Path(a.dir) / "results" / "e2e_runs.json"
    runs_file.parent.mkdir(parents=True, exist_ok=True)
    runs = []
    sizes = [int(m) for m in a.members.split(",")]
    for rep in range(a.reps):
        for mbr in sizes:
            src = Path(a.data) / f"events-{mbr}.parquet"
            with tempfile.TemporaryDirectory() as out:
                t0 = time.perf_counter()
                p = subprocess.run(
                    ["/usr/bin/time", "-f", "MAXRSS_KB %M", str(rarecall), "run", "--config", a.config,
                     "--source", str(src), "--out", out],
                    capture_output=True, text=True, cwd=ROOT)
                wall = time.perf_counter() - t0
                if p.returncode != 0:
                    sys.exit(f"rarecall run failed on {src}:\n{p.stderr[-3000:]}")
                summary = json.loads((Path(out) / "run_summary.json").read_text())
            stages = {m.group(1): float(m.group(2))
                      for m in re.finditer(r"^rarecall: (.+?) done in ([0-9.]+) s(?: \(peak memory so far [0-9.]+ MiB\))?$", p.stderr, re.M)}
            rss_kb = int(re.search(r"MAXRSS_KB (\d+)", p.stderr).group(1))
            rows = summary["rows"]
            runs.append({"members": mbr, "events": summary["data"]["events"],
                         "rows": rows["train_sampled"] + rows["test"], "train_rows": rows["train_sampled"],
                         "cols": rows["features"], "wall": wall, "peak_rss_mib": rss_kb / 1024,
                         "stages": stages})
            print(f"e2e rep {rep} members {mbr}: {wall:.1f} s, {rss_kb / 1024:.0f} MiB", file=sys.stderr)
            runs_file.write_text(json.dumps(runs, indent=1))
    a.runs = str(runs_file)
    cmd_e2e(a)


def cmd_e2e(a):
    """Summarises `rarecall run` results: a JSON list of {members, events, rows,
    cols, wall, peak_rss_mib, stages} per run, several runs per size."""
    import math

    runs = json.loads(Path(a.runs).read_text())
    by = {}
    for r in runs:
        by.setdefault(r["members"], []).append(r)
    sizes = sorted(by)
    table = []
    for mbr in sizes:
        rs = by[mbr]
        table.append({
            "members": mbr, "events": rs[0]["events"], "rows": rs[0]["rows"], "cols": rs[0]["cols"],
            "matrix_mib": rs[0]["rows"] * rs[0]["cols"] * 8 / 2**20,
            "wall": stats([r["wall"] for r in rs]),
            "rss": stats([r["peak_rss_mib"] for r in rs]),
            "stages": {k: stats([r["stages"][k] for r in rs]) for k in rs[0]["stages"]},
        })
    def slope(key):
        if len(table) < 2:
            return float("nan")
        xs = [math.log(t["events"]) for t in table]
        ys = [math.log(key(t)) for t in table]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        return sum((x - mx) * (yv - my) for x, yv in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    out = {"sizes": table,
           "exponent_wall": slope(lambda t: t["wall"]["median"]),
           "exponent_rss": slope(lambda t: t["rss"]["median"])}
    for k in table[0]["stages"]:
        if all(t["stages"][k]["median"] > 0.05 for t in table):
            out[f"exponent_{k}"] = slope(lambda t, k=k: t["stages"][k]["median"])
    save(a.dir, "e2e", out)


# ------------------------------------------------------------------------- report --


def cmd_report(a):
    res = Path(a.dir) / "results"
    r = {p.stem: json.loads(p.read_text()) for p in res.glob("*.json")}
    L = []
    st = r.get("stream", {}).get("best", {})
    bw1 = st.get("read_gbs_1")
    bw2 = st.get("read_gbs_all")
    if st:
        L += ["### Memory bandwidth (this machine)", "",
              "| | 1 thread | 2 threads |", "|---|---|---|",
              f"| read (sum) | {st['read_gbs_1']:.1f} GB/s | {st['read_gbs_all']:.1f} GB/s |",
              f"| triad a = b + s c | {st['triad_gbs_1']:.1f} GB/s | {st['triad_gbs_all']:.1f} GB/s |", ""]
    if "pull" in r:
        p = r["pull"]
        mb = p["arrow_bytes"] / 1e6
        L += ["### Arrow pull", "",
              f"{p['rows']:,} rows, {mb:.0f} MB of Arrow buffers (pyarrow `nbytes`), "
              "`select *` of the materialized feature table from the local Spark Connect server.", "",
              "| client | seconds, median (min-max) | rows/s | MB/s |", "|---|---|---|---|"]
        for name, key in [("rarecall (`Spark::query`)", "rust_stats"), ("PySpark `toArrow()`", "pyspark_stats")]:
            s = p[key]
            L.append(f"| {name} | {fmt(s)} | {p['rows'] / s['median']:,.0f} | {mb / s['median']:.0f} |")
        L += [f"| rarecall Arrow -> typed feature table (extra) | {fmt(p['rust_table_stats'])} | "
              f"{p['rows'] / p['rust_table_stats']['median']:,.0f} | |",
              "", f"PySpark / rarecall time ratio, pair by pair: {fmt(p['ratio_stats'], 'x')}.", ""]
    if "encode" in r:
        e = r["encode"]
        L += ["### Encoding (fit on the training rows, out-of-fold target encoding, scaling)", "",
              f"{e['rows']:,} rows -> {e['cols']} columns ({e['matrix_mb']:.0f} MB f64); one core each; "
              f"largest difference between the two matrices {e['max_abs_diff']:.1e}.", "",
              "| side | seconds, median (min-max) |", "|---|---|",
              f"| rarecall encoders | {fmt(e['rust_stats'])} |",
              f"| NumPy multi-hot + sklearn TargetEncoder + StandardScaler | {fmt(e['sklearn_stats'])} |",
              "", f"Ratio (sklearn / rarecall), pair by pair: {fmt(e['ratio_stats'], 'x')}.", ""]
    if "fit" in r:
        f = r["fit"]
        mb = f["rows"] * f["cols"] * 8 / 1e6
        L += ["### Fit: the whole C grid with grouped CV, then the refit", "",
              f"{f['rows']:,} rows x {f['cols']} columns ({mb:.0f} MB), {f['fits']} fits; "
              "scikit-learn `LogisticRegression(solver=\"lbfgs\")`, same folds, weights, tol and max_iter, "
              "one BLAS thread, pinned to one core.", "",
              "| side | seconds, median (min-max) | sklearn / rarecall, pair by pair |", "|---|---|---|",
              f"| scikit-learn, 1 core | {fmt(f['sklearn_stats'])} | |",
              f"| rarecall, 1 core | {fmt(f['rust_1core_stats'])} | {fmt(f['ratio_1core_stats'], 'x')} |",
              f"| rarecall, 2 cores | {fmt(f['rust_2core_stats'])} | {fmt(f['ratio_2core_stats'], 'x')} |", "",
              f"Same answer: best C {f['best_c']['rust']} vs {f['best_c']['sklearn']}; refit objective "
              f"{f['refit_objective']['rust']:.10g} vs {f['refit_objective']['sklearn']:.10g} "
              f"(relative difference {f['refit_objective']['rel_diff']:.1e}); over all {f['fits'] - 1} fold fits the "
              f"largest relative objective difference is {f['fold_objective_rel_diff_max']:.1e}; "
              f"fold APs agree to {f['fold_ap_max_abs_diff']:.1e}. L-BFGS iterations over the fold fits: "
              f"scikit-learn {f['sklearn_fold_iterations']}, rarecall cold-started {f['rust_cold_fold_iterations']} "
              "(the timed rarecall grid warm-starts each fold from the previous C).", ""]
        if bw1:
            L += [f"Physical limit: one objective+gradient evaluation must read X once ({mb:.0f} MB): "
                  f"{mb / 1e3 / bw1 * 1e3:.1f} ms at {bw1:.1f} GB/s (1 thread), {mb / 1e3 / bw2 * 1e3:.1f} ms at "
                  f"{bw2:.1f} GB/s (2 threads); scikit-learn reads it twice (X w, then X^T r) plus a copy of "
                  "X[train] per fit.", ""]
    if "threshold" in r:
        t = r["threshold"]
        L += ["### Threshold: PR curve + precision-floor rule (out-of-fold scores, sampling weights)", "",
              f"{t['rows']:,} rows, {t['points']:,} distinct thresholds; same cutoff chosen: {t['same_choice']}.", "",
              "| side | seconds, median (min-max) |", "|---|---|",
              f"| rarecall | {fmt(t['rust_stats'])} |",
              f"| sklearn `precision_recall_curve` + NumPy rule | {fmt(t['sklearn_stats'])} |", "",
              f"Ratio (NumPy / rarecall), pair by pair: {fmt(t['ratio_stats'], 'x')}.", ""]
    if "e2e" in r:
        e = r["e2e"]
        stages = list(e["sizes"][0]["stages"])
        L += ["### End to end: `rarecall run` on demo data", "",
              "| members | events | training+test rows x cols | feature matrix | wall | peak RSS | RSS / matrix |",
              "|---|---|---|---|---|---|---|"]
        for s in e["sizes"]:
            L.append(f"| {s['members']:,} | {s['events']:,} | {s['rows']:,} x {s['cols']} | {s['matrix_mib']:.0f} MiB | "
                     f"{fmt(s['wall'])} | {s['rss']['median']:.0f} MiB | {s['rss']['median'] / s['matrix_mib']:.2f} |")
        L += ["", "Stage wall times, median (min-max), seconds:", "",
              "| stage | " + " | ".join(f"{s['members']:,}" for s in e["sizes"]) + " | exponent vs events |",
              "|---|" + "---|" * (len(e["sizes"]) + 1)]
        for k in stages:
            ex = e.get(f"exponent_{k}")
            L.append(f"| {k} | " + " | ".join(fmt(s['stages'][k], '') for s in e["sizes"]) +
                     f" | {'' if ex is None else f'{ex:.2f}'} |")
        L += ["", f"Growth with events (log-log slope over the sizes): wall time {e['exponent_wall']:.2f}, "
              f"peak RSS {e['exponent_rss']:.2f}.", ""]
    print("\n".join(L))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("section")
    ap.add_argument("--dir", default=".")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--config", default="examples/demo.toml")
    ap.add_argument("--remote", default="sc://127.0.0.1:15002")
    ap.add_argument("--runs")
    ap.add_argument("--members", default="50000,200000,1000000")
    ap.add_argument("--data", default=str(Path.home() / ".cache/rarecall/bench-data"))
    a = ap.parse_args()
    {"fit": cmd_fit, "encode": cmd_encode, "threshold": cmd_threshold, "pull": cmd_pull,
     "stream": cmd_stream, "e2e": cmd_e2e, "e2e-run": cmd_e2e_run, "report": cmd_report}[a.section](a)


if __name__ == "__main__":
    main()
