#!/usr/bin/env bash
# Do two rarecall binaries write the same outputs? Runs `run` and then `score` (with the
# model each run wrote) on one generated data set with both binaries, and compares every
# output file byte for byte, except the cells that name the run or measure it:
# run ids, `finished_at`, `peak_rss_bytes`, the stage timings and the per-run folders
# under `runs/` (which hold the same files as the well-known names).
#
# Usage: bench/compare_outputs.sh OLD_BINARY NEW_BINARY [MEMBERS] [SEED]
# Needs a Spark Connect server at sc://127.0.0.1:${RARECALL_SPARK_PORT:-15002}
# (scripts/spark-local.sh start). Exit 0 when every file matches.
set -euo pipefail
cd "$(dirname "$0")/.."

old="$(realpath "$1")"
new="$(realpath "$2")"
members="${3:-30000}"
seed="${4:-7}"
work="$(mktemp -d /tmp/rarecall-compare.XXXXXX)"
remote="sc://127.0.0.1:${RARECALL_SPARK_PORT:-15002}"
data="$work/events.parquet"

"$new" demo-data --members "$members" --seed "$seed" --out "$data" >/dev/null
for side in old new; do
  bin="${!side}"
  # A short C grid and a lower floor: the comparison needs a fitted model and a
  # non-empty list, not the best model.
  "$bin" run --config examples/demo.toml --remote "$remote" --source "$data" \
    --out "$work/$side/run" --c-grid 0.01,1 --target-precision 0.1 >"$work/$side.run.log" 2>&1
  "$bin" score --config examples/demo.toml --remote "$remote" --source "$data" \
    --model "$work/$side/run/model.json" --out "$work/$side/score" \
    --from 2024-11-01 --to 2024-11-08 --top 300 --all-scores >"$work/$side.score.log" 2>&1
done

status=0
python3 - "$work/old" "$work/new" <<'EOF' || status=$?
import csv, io, json, sys
from pathlib import Path

old, new = Path(sys.argv[1]), Path(sys.argv[2])
VARYING_KEYS = {"run_id", "model_run_id", "finished_at", "peak_rss_bytes", "timings", "output_dir"}

def normalized(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".json":
        def strip(v):
            if isinstance(v, dict):
                return {k: strip(x) for k, x in v.items() if k not in VARYING_KEYS}
            if isinstance(v, list):
                return [strip(x) for x in v]
            return v
        return json.dumps(strip(json.loads(data)), sort_keys=True).encode()
    if path.name.startswith("outreach_") and path.name.endswith("_log.csv"):
        rows = list(csv.reader(io.StringIO(data.decode())))
        keep = [i for i, h in enumerate(rows[0]) if h not in VARYING_KEYS]
        return "\n".join(",".join(r[i] for i in keep) for r in rows).encode()
    return data

def files(root: Path):
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and "runs" not in p.parts and not p.parent.name.endswith(".rows"))

bad = 0
names = files(old)
if names != files(new):
    print("different file sets:", set(map(str, names)) ^ set(map(str, files(new))))
    bad += 1
for rel in names:
    a, b = old / rel, new / rel
    if not b.exists():
        continue
    same = normalized(a) == normalized(b)
    print(f"{'same' if same else 'DIFFERENT':<9} {a.stat().st_size:>10} B  {rel}")
    bad += not same
print(f"{len(names) - bad} of {len(names)} files identical (run ids, finished_at, peak RSS and timings left out)")
sys.exit(1 if bad else 0)
EOF
rm -rf "$work"
exit "$status"
