#!/usr/bin/env bash
# Signal without hand-written rules: generated sets whose descriptions are spelled,
# half the time, in ways the shipped rules do not cover (`demo-data --unmapped`).
# Each seed is run twice on the same events: with the shipped rules, and with the
# complete rules file the generator writes (`--complete-rules`). Tabulates test AP
# of both, their ratio, and the share of distinct raw variants (and of events) the
# shipped rules left unmatched.
#
#   bench/unmapped.sh                       5 seeds, 100k members, half unmapped
#   SEEDS="1 2" MEMBERS=50000 UNMAPPED=0.5 BIN=/tmp/rarecall-before bench/unmapped.sh
#
# Environment: SEEDS, MEMBERS, UNMAPPED, BIN (default target/release/rarecall),
# WORK (default ~/.cache/rarecall/unmapped-<label>), LABEL (names the work folder).
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS="${SEEDS:-1 2 3 4 5}"
MEMBERS="${MEMBERS:-100000}"
UNMAPPED="${UNMAPPED:-0.5}"
BIN="${BIN:-target/release/rarecall}"
LABEL="${LABEL:-current}"
WORK="${WORK:-${RARECALL_CACHE:-$HOME/.cache/rarecall}/unmapped-$LABEL}"
mkdir -p "$WORK"
scripts/spark-local.sh start
[ -x "$BIN" ] || cargo build --release --bin rarecall
for seed in $SEEDS; do
  data="$WORK/events-$seed.parquet"
  complete="$WORK/rules-complete.csv"
  if [ ! -f "$WORK/shipped-$seed/run_summary.json" ] || [ ! -f "$WORK/complete-$seed/run_summary.json" ]; then
    target/release/rarecall demo-data --members "$MEMBERS" --seed "$seed" --unmapped "$UNMAPPED" \
      --complete-rules "$complete" --out "$data" >/dev/null
  fi
  for rules in shipped complete; do
    out="$WORK/$rules-$seed"
    [ -f "$out/run_summary.json" ] && continue
    cfg="$WORK/$rules.toml"
    if [ "$rules" = complete ]; then
      sed "s#^rules = .*#rules = \"$complete\"#" examples/demo.toml >"$cfg"
    else
      cp examples/demo.toml "$cfg"
    fi
    "$BIN" run --config "$cfg" --source "$data" --out "$out" 2>"$out.log" >/dev/null \
      || { echo "unmapped: $rules seed $seed failed, see $out.log" >&2; continue; }
  done
  rm -f "$data"
done
python3 - "$WORK" <<'PY'
import csv, json, os, sys, statistics
work = sys.argv[1]
rows = []
for d in sorted(os.listdir(work)):
    if not d.startswith("shipped-") or not os.path.isdir(os.path.join(work, d)):
        continue
    seed = d.split("-", 1)[1]
    try:
        s = json.load(open(os.path.join(work, d, "run_summary.json")))
        c = json.load(open(os.path.join(work, f"complete-{seed}", "run_summary.json")))
    except FileNotFoundError:
        continue
    audit = list(csv.DictReader(open(os.path.join(work, d, "pydescription_normalization_audit.csv"))))
    present = [r for r in audit if r["rule"] != "(missing)"]
    unmatched = [r for r in present if r["rule"] == "(unmatched)"]
    ev = sum(int(r["event_count"]) for r in present)
    ev_un = sum(int(r["event_count"]) for r in unmatched)
    a, b = s["test"]["average_precision"], c["test"]["average_precision"]
    rows.append((int(seed), len(unmatched) / len(present), ev_un / ev, a, b, a / b))
print("| seed | raw variants unmatched | events unmatched | test AP, shipped rules | test AP, complete rules | ratio |")
print("|---|---|---|---|---|---|")
for r in sorted(rows):
    print(f"| {r[0]} | {r[1]:.1%} | {r[2]:.1%} | {r[3]:.4f} | {r[4]:.4f} | {r[5]:.3f} |")
if rows:
    ratios = sorted(r[5] for r in rows)
    print(f"\nratio shipped/complete: median {statistics.median(ratios):.3f}, range [{ratios[0]:.3f}, {ratios[-1]:.3f}] over {len(rows)} seeds")
PY
