#!/usr/bin/env bash
# Does the operating point hold on the next window? Generates data sets with
# different seeds, base rates and drift, runs `rarecall run` on each (local Spark,
# started if needed), and tabulates, per data set: the floor, the threshold's lower
# bound on the validation slice, the realized test precision and recall with their
# member-bootstrap intervals, test AP and calibration error.
#
#   bench/operating_point.sh                    3 generators x 10 seeds
#   SEEDS="1 2 3" GENERATORS="demo" bench/operating_point.sh
#
# Generators (name:members:base_shift:drift):
#   demo:200000:0:0          the demo (about 1.3 % positives, no drift)
#   rare_drift:50000:-0.9:0.6      about 0.6 % positives, base rate and chat rising
#   common_drift:50000:0.8:-0.6  about 2.8 % positives, base rate falling
# Environment: SEEDS, GENERATORS (names), BIN (default target/release/rarecall),
# WORK (default ~/.cache/rarecall/operating-point), EXTRA (more `run` flags).
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS="${SEEDS:-1 2 3 4 5 6 7 8 9 10}"
WORK="${WORK:-${RARECALL_CACHE:-$HOME/.cache/rarecall}/operating-point}"
BIN="${BIN:-target/release/rarecall}"
ALL="demo:200000:0:0 rare_drift:50000:-0.9:0.6 common_drift:50000:0.8:-0.6"
GENERATORS="${GENERATORS:-demo rare_drift common_drift}"
mkdir -p "$WORK"
scripts/spark-local.sh start
[ -x "$BIN" ] || cargo build --release --bin rarecall
for spec in $ALL; do
  IFS=: read -r name members shift drift <<<"$spec"
  case " $GENERATORS " in *" $name "*) ;; *) continue ;; esac
  for seed in $SEEDS; do
    out="$WORK/$name-$seed"
    if [ -f "$out/run_summary.json" ]; then continue; fi
    data="$WORK/$name-$seed.parquet"
    "$BIN" demo-data --members "$members" --seed "$seed" --base-shift "$shift" --drift "$drift" --out "$data" >/dev/null
    # shellcheck disable=SC2086
    "$BIN" run --config examples/demo.toml --source "$data" --out "$out" ${EXTRA:-} 2>"$out.log" >/dev/null \
      || { echo "operating_point: $name seed $seed failed, see $out.log" >&2; continue; }
    rm -f "$data"
  done
done
python3 - "$WORK" <<'PY'
import json, os, sys, glob
work = sys.argv[1]
rows = []
for f in sorted(glob.glob(os.path.join(work, "*", "run_summary.json"))):
    s = json.load(open(f))
    name = os.path.basename(os.path.dirname(f))
    gen, seed = name.rsplit("-", 1)
    t, th = s["test"], s["threshold"]
    pi, ri = t.get("precision_interval"), t.get("recall_interval")
    fmt = lambda i: "-" if not i else f"{i['estimate']:.3f} [{i['lower']:.3f}, {i['upper']:.3f}]"
    rows.append((gen, int(seed), t["floor"], th.get("precision_lower"), fmt(pi), fmt(ri),
                 t["average_precision"], t["calibration_error"], t["base_rate"], t["mean_calibrated_score"],
                 pi["estimate"] if pi else None))
print("| data | seed | floor | validation lower bound | test precision [90 % CI] | test recall [90 % CI] | test AP | ECE | base rate | mean score |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in sorted(rows):
    lb = "-" if r[3] is None else f"{r[3]:.3f}"
    print(f"| {r[0]} | {r[1]} | {r[2]:.2f} | {lb} | {r[4]} | {r[5]} | {r[6]:.4f} | {r[7]:.4f} | {r[8]:.4f} | {r[9]:.4f} |")
print()
for gen in sorted({r[0] for r in rows}):
    rs = [r for r in rows if r[0] == gen]
    listed = [r for r in rs if r[10] is not None]
    ok = sum(1 for r in listed if r[10] >= r[2] - 0.02)
    held = sum(1 for r in listed if r[10] >= r[2])
    aps = sorted(r[6] for r in rs)
    print(f"{gen}: {len(rs) - len(listed)}/{len(rs)} with no feasible cutoff (empty list); of the "
          f"{len(listed)} lists, precision >= floor - 0.02 in {ok}, >= floor in {held}; "
          f"test AP median {aps[len(aps)//2]:.4f} (min {aps[0]:.4f}, max {aps[-1]:.4f})")
PY
