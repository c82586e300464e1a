#!/usr/bin/env python3
"""What one `rarecall run` asks of Spark: actions, plans and stage metrics.

Reads the Spark status REST API of a local Spark Connect server started with its UI on
(`RARECALL_SPARK_UI_PORT=4050 RARECALL_SPARK_PORT=15050 scripts/spark-local.sh start`),
runs rarecall once against it, and reports every SQL execution the run caused:

- actions: SQL executions whose plan reads data (one per `collect`, write, or
  `count` the client sends; plain view creation only analyzes and runs none);
- per action, from its final physical plan (the text `EXPLAIN FORMATTED` / the SQL tab
  show, after adaptive execution): scans of the source file (by its path), scans of
  anything else (scratch Parquet, local relations), shuffles (`Exchange`, broadcasts
  apart), sorts, window operators, aggregates;
- per action, summed over its stages: jobs, stages, tasks, executor CPU seconds, JVM
  GC seconds, rows and bytes shuffled, rows read.

Usage:
  bench/spark_profile.py run --bin BIN --data EVENTS --label NAME [--out DIR] [-- extra run args]
  bench/spark_profile.py table A.json B.json ...     # Markdown table, one column per run

The plans of each action are written to DIR/<label>/NN-<description>.plan.txt.
Standard library only.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request


def get(ui, path):
    with urllib.request.urlopen(f"{ui}/api/v1{path}", timeout=60) as r:
        return json.load(r)


def app_id(ui):
    return get(ui, "/applications")[0]["id"]


def executions(ui, app):
    out, offset = [], 0
    while True:
        page = get(ui, f"/applications/{app}/sql?details=true&planDescription=true&offset={offset}&length=200")
        out += page
        if len(page) < 200:
            return out
        offset += 200


def final_plan(text):
    """The final physical plan tree of an (adaptive) execution's description."""
    m = re.search(r"== Physical Plan ==\n(.*)", text, re.S)
    plan = m.group(1) if m else text
    tree = plan.split("\n\n(1)", 1)[0]
    # AdaptiveSparkPlan (isFinalPlan=true) prints "+- == Final Plan ==" then the initial one.
    if "== Final Plan ==" in tree:
        tree = tree.split("== Final Plan ==", 1)[1].split("== Initial Plan ==", 1)[0]
    return tree


def plan_counts(text, source):
    """Operator counts of the final plan tree; a scan reads the source when its node
    details (the numbered sections of the formatted plan) name the source's path."""
    details = dict(re.findall(r"\n\((\d+)\) [^\n]*\n(.*?)(?=\n\(\d+\) |\Z)", text, re.S))
    nodes = []
    for line in final_plan(text).splitlines():
        m = re.search(r"([A-Za-z][A-Za-z ]*?)\s*\((\d+)\)\s*$", line)
        if m:
            nodes.append((m.group(1).strip(), m.group(2)))
    def count(pred):
        return sum(1 for n, _ in nodes if pred(n))
    scans = [(n, i) for n, i in nodes if n.startswith("Scan") or n == "LocalTableScan"]
    src = sum(1 for _, i in scans if source and source in details.get(i, ""))
    return {
        "source_scans": src,
        "other_scans": len(scans) - src,
        "shuffles": count(lambda n: n == "Exchange"),
        "broadcasts": count(lambda n: n == "BroadcastExchange"),
        "sorts": count(lambda n: n == "Sort"),
        "windows": count(lambda n: n.startswith("Window")),
        "aggregates": count(lambda n: n.endswith("Aggregate")),
    }


def stage_metrics(ui, app, job_ids):
    m = {"jobs": len(job_ids), "stages": 0, "tasks": 0, "cpu_s": 0.0, "gc_s": 0.0,
         "run_s": 0.0, "shuffle_rows": 0, "shuffle_mb": 0.0, "input_rows": 0}
    for j in job_ids:
        job = get(ui, f"/applications/{app}/jobs/{j}")
        for s in job["stageIds"]:
            for att in get(ui, f"/applications/{app}/stages/{s}"):
                if att["status"] == "SKIPPED":
                    continue
                m["stages"] += 1
                m["tasks"] += att["numCompleteTasks"]
                m["cpu_s"] += att["executorCpuTime"] / 1e9
                m["gc_s"] += att.get("jvmGcTime", 0) / 1e3
                m["run_s"] += att["executorRunTime"] / 1e3
                m["shuffle_rows"] += att["shuffleWriteRecords"]
                m["shuffle_mb"] += att["shuffleWriteBytes"] / 1e6
                m["input_rows"] += att["inputRecords"]
    return m


def run(args):
    ui, app = args.ui, app_id(args.ui)
    before = {e["id"] for e in executions(ui, app)}
    out_dir = os.path.join(args.out, args.label)
    os.makedirs(out_dir, exist_ok=True)
    cmd = [args.bin, "run", "--config", args.config, "--remote", args.remote,
           "--source", args.data, "--out", os.path.join(out_dir, "out"), "-v"] + args.extra
    t0 = time.time()
    with open(os.path.join(out_dir, "run.log"), "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    wall = time.time() - t0
    if rc != 0:
        sys.exit(f"rarecall exited {rc}; see {out_dir}/run.log")
    time.sleep(2)  # the listener bus posts the last metrics asynchronously
    source = os.path.realpath(args.data)
    rows, total = [], {}
    for e in sorted(executions(ui, app), key=lambda e: e["id"]):
        if e["id"] in before:
            continue
        jobs = e.get("successJobIds", []) + e.get("failedJobIds", []) + e.get("runningJobIds", [])
        desc = e.get("description", "")[:80].replace("\n", " ")
        name = f"{len(rows):02d}-{re.sub(r'[^a-z0-9]+', '-', desc.lower())[:40]}"
        with open(os.path.join(out_dir, name + ".plan.txt"), "w") as f:
            f.write(e.get("planDescription", ""))
        row = {"id": e["id"], "description": desc, "duration_s": e.get("duration", 0) / 1e3}
        row.update(plan_counts(e.get("planDescription", ""), source))
        row.update(stage_metrics(ui, app, jobs))
        rows.append(row)
    actions = [r for r in rows if r["jobs"] > 0]
    for r in actions:
        for k, v in r.items():
            if isinstance(v, (int, float)) and k != "id":
                total[k] = total.get(k, 0) + v
    stages = {}
    for line in open(os.path.join(out_dir, "run.log")):
        m = re.search(r"rarecall: (.+) done in ([0-9.]+) s", line)
        if m:
            stages[m.group(1)] = float(m.group(2))
    report = {"label": args.label, "wall_s": wall, "actions": len(actions),
              "executions": len(rows), "total": total, "per_action": actions,
              "rarecall_stages": stages}
    with open(os.path.join(args.out, args.label + ".json"), "w") as f:
        json.dump(report, f, indent=1)
    print(f"{args.label}: {len(actions)} actions, wall {wall:.1f} s")
    for r in actions:
        print(f"  {r['duration_s']:7.2f} s  scans {r['source_scans']}+{r['other_scans']}  "
              f"exch {r['shuffles']}  sort {r['sorts']}  win {r['windows']}  jobs {r['jobs']}  "
              f"cpu {r['cpu_s']:.1f} s  shuffled {r['shuffle_rows']} rows  {r['description']}")


ROWS = [
    ("actions (SQL executions with jobs)", lambda r: r["actions"]),
    ("source scans", lambda r: r["total"].get("source_scans", 0)),
    ("other scans (scratch Parquet, local rows)", lambda r: r["total"].get("other_scans", 0)),
    ("shuffles (Exchange)", lambda r: r["total"].get("shuffles", 0)),
    ("sorts", lambda r: r["total"].get("sorts", 0)),
    ("window operators", lambda r: r["total"].get("windows", 0)),
    ("jobs", lambda r: r["total"].get("jobs", 0)),
    ("stages run", lambda r: r["total"].get("stages", 0)),
    ("rows shuffled (M)", lambda r: round(r["total"].get("shuffle_rows", 0) / 1e6, 2)),
    ("MB shuffled", lambda r: round(r["total"].get("shuffle_mb", 0), 1)),
    ("executor CPU s", lambda r: round(r["total"].get("cpu_s", 0), 1)),
    ("executor GC s", lambda r: round(r["total"].get("gc_s", 0), 1)),
    ("SQL execution time s (sum)", lambda r: round(r["total"].get("duration_s", 0), 1)),
]


def table(args):
    reps = [json.load(open(p)) for p in args.files]
    print("| | " + " | ".join(r["label"] for r in reps) + " |")
    print("|---|" + "---|" * len(reps))
    for name, f in ROWS:
        print(f"| {name} | " + " | ".join(str(f(r)) for r in reps) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--bin", required=True)
    r.add_argument("--data", required=True)
    r.add_argument("--label", required=True)
    r.add_argument("--out", default="/tmp/rarecall-spark-profile")
    r.add_argument("--config", default="examples/demo.toml")
    r.add_argument("--remote", default="sc://127.0.0.1:" + os.environ.get("RARECALL_SPARK_PORT", "15050"))
    r.add_argument("--ui", default="http://127.0.0.1:" + os.environ.get("RARECALL_SPARK_UI_PORT", "4050"))
    r.add_argument("extra", nargs="*")
    t = sub.add_parser("table")
    t.add_argument("files", nargs="+")
    a = ap.parse_args()
    run(a) if a.cmd == "run" else table(a)


if __name__ == "__main__":
    main()
