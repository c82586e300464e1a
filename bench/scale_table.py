"""The table of bench/scale.sh: one column per size, the exponents between sizes and
a projection to 10M members.

    python3 bench/scale_table.py row MEMBERS EXIT_CODE HEAP_ERRORS STDERR RUN_DIR >> results.jsonl
    python3 bench/scale_table.py table results.jsonl

`row` reads one run: its stderr (the stage lines "<stage> done in X s (peak memory
so far Y MiB)" and /usr/bin/time -v's report) and its run_summary.json.

Exponent b between sizes n1 < n2 for a quantity q: b = ln(q2 / q1) / ln(n2 / n1), so
q ~ members^b there (1 = linear). The projection to 10M members extends the last
pair's exponent from the largest size measured: q(10M) = q(n2) * (10M / n2)^b. It is
a projection, not a run; it holds only as long as nothing changes regime (memory
spills, the driver's result limit, a machine's RAM).
"""

import json
import math
import re
import sys

TARGET = 10_000_000
# "pull test window" runs after training (the test window is pulled once the training
# matrix is dropped) but is Spark work all the same.
SPARK_STAGES = ("read source", "create views", "check events", "normalization audit",
                "pull features", "pull test window")
# Training: "encode training rows" then "train (C grid, refit)" since the training
# rows' table goes between them; one "train (encode, C grid, refit)" stage before.
TRAIN_STAGES = ("encode training rows", "train (C grid, refit)", "train (encode, C grid, refit)")


def train_seconds(row):
    got = [s["seconds"] for s in row["stages"] if s["stage"] in TRAIN_STAGES]
    return sum(got) if got else None


def spark_seconds(row):
    return sum(s["seconds"] for s in row["stages"] if s["stage"] in SPARK_STAGES)


def stage(row, name):
    return next((s["seconds"] for s in row["stages"] if s["stage"] == name), None)


def matrix_mib(row):
    if "train_rows" not in row:
        return None
    return row["train_rows"] * row["features"] * 8 / 2**20


def row(n, rc, heap, stderr, run):
    text = open(stderr).read()
    stages = [
        {"stage": m[0], "seconds": float(m[1]), "peak_mib": float(m[2])}
        for m in re.findall(
            r"rarecall: (.+?) done in ([0-9.]+) s \(peak memory so far ([0-9.]+) MiB\)", text)
    ]
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    secs = 0.0
    if wall:
        for part in wall.group(1).split(":"):
            secs = secs * 60 + float(part)
    out = {"members": int(n), "rc": int(rc), "heap_errors": int(heap), "wall_s": secs,
           "peak_rss_mib": int(rss.group(1)) / 1024 if rss else None, "stages": stages,
           "error": next((l for l in text.splitlines() if l.startswith("error:")), None)}
    try:
        s = json.load(open(f"{run}/run_summary.json"))
        out["train_rows"] = s["rows"]["train_sampled"]
        out["test_rows"] = s["rows"]["test"]
        out["features"] = s["rows"]["features"]
        out["events"] = s["data"]["events"]
        out["test_ap"] = s["test"].get("average_precision")
    except (OSError, KeyError, ValueError):
        pass
    print(json.dumps(out))


def table(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    # The last run of each size.
    by_size = {}
    for r in rows:
        by_size[r["members"]] = r
    rows = [by_size[k] for k in sorted(by_size)]
    ok = [r for r in rows if r["rc"] == 0]
    quantities = [
        ("whole run, s", lambda r: r["wall_s"]),
        ("Spark stages (read .. pull, pull test window), s", spark_seconds),
        ("create views, s", lambda r: stage(r, "create views")),
        ("pull features, s", lambda r: stage(r, "pull features")),
        ("pull test window, s", lambda r: stage(r, "pull test window")),
        ("train (encode, C grid, refit), s", train_seconds),
        ("client peak RSS, MiB", lambda r: r["peak_rss_mib"]),
        ("training matrix (rows x features x 8 B), MiB", matrix_mib),
    ]
    head = ["", *[f"{r['members']:,} members" for r in rows]]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def line(label, cells):
        out.append("| " + " | ".join([label, *cells]) + " |")

    line("exit code", [str(r["rc"]) for r in rows])
    line("error", [(r.get("error") or "-")[:160] for r in rows])
    line("heap errors in the server log", [str(r["heap_errors"]) for r in rows])
    line("events", [f"{r['events']:,}" if "events" in r else "-" for r in rows])
    line("training rows x features",
         [f"{r['train_rows']:,} x {r['features']}" if "train_rows" in r else "-" for r in rows])
    line("test rows", [f"{r['test_rows']:,}" if "test_rows" in r else "-" for r in rows])
    for label, q in quantities:
        line(label, [f"{q(r):,.1f}" if q(r) is not None else "-" for r in rows])
    line("peak RSS / training matrix",
         [f"{r['peak_rss_mib'] / matrix_mib(r):.2f} x" if matrix_mib(r) else "-" for r in rows])
    line("test AP", [f"{r['test_ap']:.4f}" if r.get("test_ap") is not None else "-" for r in rows])
    print("\n".join(out))
    if len(ok) < 2:
        return
    print()
    print(f"Exponents between {ok[-2]['members']:,} and {ok[-1]['members']:,} members "
          f"(q ~ members^b) and the projection to {TARGET:,} members:")
    print()
    print("| quantity | b | projected at 10M |")
    print("|---|---|---|")
    a, b = ok[-2], ok[-1]
    for label, q in quantities:
        qa, qb = q(a), q(b)
        if not qa or not qb:
            continue
        e = math.log(qb / qa) / math.log(b["members"] / a["members"])
        proj = qb * (TARGET / b["members"]) ** e
        print(f"| {label} | {e:.2f} | {proj:,.0f} |")


if __name__ == "__main__":
    if sys.argv[1] == "row":
        row(*sys.argv[2:7])
    else:
        table(sys.argv[2])
