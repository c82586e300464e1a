#!/usr/bin/env bash
# rarecall against the notebook it replaces, end to end, side by side (issue 17's targets).
#
#   bench/notebook_vs_rarecall.sh                 100,000 members, 2 pairs
#   MEMBERS=1000000 PAIRS=1 NB_TIMEOUT=3600 bench/notebook_vs_rarecall.sh
#
# Generates demo data (`rarecall demo-data --members $MEMBERS --seed $SEED`), warms the
# Spark Connect server's JIT with one untimed `rarecall run` on it (WARM=0 skips that,
# when the server was just warmed on the same data), then runs $PAIRS pairs, alternating
# which side goes first:
#   rarecall   `rarecall run` (release binary), examples/demo.toml pointed at the data,
#              with class_weight = "balanced" (the notebook's; the demo config searches
#              balanced and none, twice the fits); same floor 0.40, same C grid.
#   notebook   bench/notebook.py: the pandas + scikit-learn replica of the notebook.
# Both run under /usr/bin/time (wall, peak RSS). A notebook run longer than NB_TIMEOUT
# seconds is stopped and reported as such. Writes $OUT/results.jsonl and $OUT/table.md.
#
# NB_MEM_MIB caps the notebook's address space (`ulimit -v`): at a size where rarecall
# ran, the notebook given the memory rarecall used there (client peak + Spark driver
# heap). SIDES=notebook runs the notebook alone (no pairs, no table; one JSON line per
# run in results.jsonl), for sizes where rarecall's own run is already measured.
#
# Environment: MEMBERS (100000), SEED (7), PAIRS (2), WARM (1), NB_TIMEOUT (3600),
# NB_MEM_MIB (none), SIDES ("rarecall notebook"),
# FIRST (rarecall: the side that goes first in pair 1; notebook),
# RARECALL_BIN (target/release/rarecall), REMOTE (sc://127.0.0.1:15002),
# RARECALL_CACHE (~/.cache/rarecall), OUT ($RARECALL_CACHE/bench-data/notebook-$MEMBERS).
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE="${RARECALL_CACHE:-$HOME/.cache/rarecall}"
MEMBERS="${MEMBERS:-100000}"
SEED="${SEED:-7}"
PAIRS="${PAIRS:-2}"
WARM="${WARM:-1}"
NB_TIMEOUT="${NB_TIMEOUT:-3600}"
NB_MEM_MIB="${NB_MEM_MIB:-}"
SIDES="${SIDES:-rarecall notebook}"
FLIP=0; [ "${FIRST:-rarecall}" = notebook ] && FLIP=1
REMOTE="${REMOTE:-sc://127.0.0.1:15002}"
RARECALL="${RARECALL_BIN:-$PWD/target/release/rarecall}"
OUT="${OUT:-$CACHE/bench-data/notebook-$MEMBERS}"
SKVENV="$CACHE/venv-sklearn"
log() { echo "bench: $*" >&2; }

# the scikit-learn virtualenv of bench/run.sh, plus pandas and pyarrow for the notebook
. bench/sklearn-venv.sh # the script has cd-ed to the repository root
if [ ! -f "$SKVENV/.rarecall-notebook" ]; then
  log "installing pandas, pyarrow into $SKVENV"
  "$SKVENV/bin/pip" install -q --disable-pip-version-check "pandas>=2.2" "pyarrow>=15"
  touch "$SKVENV/.rarecall-notebook"
fi
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
[ -x "$RARECALL" ] || { log "no release binary at $RARECALL (cargo build --release --bin rarecall)"; exit 1; }
PY=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$SKVENV/bin/python")

mkdir -p "$OUT"
rm -f "$OUT/results.jsonl"
DATA="$CACHE/bench-data/events-$MEMBERS-s$SEED.parquet"
[ -f "$DATA" ] || "$RARECALL" demo-data --members "$MEMBERS" --seed "$SEED" --out "$DATA"
CONFIG="$OUT/config.toml"
sed -e "s|^remote = .*|remote = \"$REMOTE\"|" \
    -e "s|^# class_weight = \"balanced\".*|class_weight = \"balanced\"|" \
    -e "s|^rules = \"rules/|rules = \"$PWD/rules/|" examples/demo.toml > "$CONFIG"
grep -q '^class_weight = "balanced"' "$CONFIG" || { log "could not set class_weight in $CONFIG"; exit 1; }

run_rarecall() { # $1 = pair, $2 = position
  local o="$OUT/rc-$1" t0 t1
  rm -rf "$o"
  t0=$(date +%s.%N)
  /usr/bin/time -f "MAXRSS_KB %M" "$RARECALL" run --config "$CONFIG" --source "$DATA" --out "$o" \
    > "$OUT/rc-$1.stdout" 2> "$OUT/rc-$1.stderr"
  t1=$(date +%s.%N)
  "${PY[@]}" - "$o" "$OUT/rc-$1.stderr" "$(echo "$t1 - $t0" | bc)" "$1" "$2" >> "$OUT/results.jsonl" <<'EOF'
import json, re, sys
out, err, wall, pair, pos = sys.argv[1:]
e = open(err).read()
s = json.load(open(f"{out}/run_summary.json"))
stages = {m.group(1): float(m.group(2)) for m in re.finditer(r"^rarecall: (.+?) done in ([0-9.]+) s(?: \(peak memory so far [0-9.]+ MiB\))?$", e, re.M)}
names = list(stages)
# Training: "encode training rows" and "train (C grid, refit)" (one "train (encode,
# C grid, refit)" stage before the training rows' table went between them).
train_names = ("encode training rows", "train (C grid, refit)", "train (encode, C grid, refit)")
first_train = min(names.index(k) for k in train_names if k in stages)
# The Spark stages before training, and the test window's pull after it.
spark = sum(stages[k] for k in names[:first_train]) + stages.get("pull test window", 0.0)
print(json.dumps({"side": "rarecall", "pair": int(pair), "position": int(pos), "status": "ok",
    "wall_s": float(wall), "feature_s": spark, "train_s": sum(stages.get(k, 0.0) for k in train_names),
    "stages": stages, "test_ap": s["test"]["average_precision"],
    "peak_rss_mib": int(re.search(r"MAXRSS_KB (\d+)", e).group(1)) / 1024,
    "events": s["data"]["events"], "train_rows": s["rows"]["train_sampled"], "test_rows": s["rows"]["test"],
    "features": s["rows"]["features"], "best_c": s["model"]["best_c"]}))
EOF
  log "pair $1: rarecall done ($(tail -1 "$OUT/results.jsonl" | cut -c1-160))"
}

run_notebook() { # $1 = pair, $2 = position
  local o="$OUT/nb-$1" t0 t1 rc=0
  rm -rf "$o"
  t0=$(date +%s.%N)
  (
    [ -z "$NB_MEM_MIB" ] || ulimit -v $((NB_MEM_MIB * 1024))
    exec timeout "$NB_TIMEOUT" /usr/bin/time -f "MAXRSS_KB %M" "${PY[@]}" bench/notebook.py --source "$DATA" \
      --rules rules/pydescription_rules.csv --out "$o"
  ) > "$OUT/nb-$1.stdout" 2> "$OUT/nb-$1.stderr" || rc=$?
  t1=$(date +%s.%N)
  "${PY[@]}" - "$OUT/nb-$1.stdout" "$OUT/nb-$1.stderr" "$(echo "$t1 - $t0" | bc)" "$1" "$2" "$rc" \
    "$NB_TIMEOUT" >> "$OUT/results.jsonl" <<'EOF'
import json, re, sys
so, err, wall, pair, pos, rc, limit = sys.argv[1:]
e = open(err).read()
stages = {m.group(1): float(m.group(2)) for m in re.finditer(r"^notebook: (.+?) done in ([0-9.]+) s$", e, re.M)}
rss = re.search(r"MAXRSS_KB (\d+)", e)
r = {"side": "notebook", "pair": int(pair), "position": int(pos), "wall_s": float(wall), "stages": stages,
     "peak_rss_mib": int(rss.group(1)) / 1024 if rss else None}
if rc == "0":
    j = json.loads(open(so).read().strip().splitlines()[-1])
    r.update(status="ok", feature_s=j["feature_s"],
             train_s=j["stages"]["encode"] + j["stages"]["train (C grid, refit)"],
             test_ap=j["test_ap"], train_rows=j["train_rows"], test_rows=j["test_rows"],
             features=j["features"], best_c=j["best_c"], events=j["events"])
else:
    # The exception's own line (MemoryError: ...), not /usr/bin/time's report after it.
    err_lines = [l for l in e.strip().splitlines() if re.match(r"^[A-Za-z_.]*(Error|Exception)\b|^Killed|^Command terminated", l)]
    r["status"] = f"stopped at the {limit} s timeout" if rc == "124" else f"failed (exit {rc}): {err_lines[-1:] or e.strip().splitlines()[-1:]}"
print(json.dumps(r))
EOF
  log "pair $1: notebook done ($(tail -1 "$OUT/results.jsonl" | cut -c1-160))"
}

if [ "$SIDES" = notebook ]; then
  for p in $(seq 1 "$PAIRS"); do run_notebook "$p" 1; done
  cat "$OUT/results.jsonl"
  exit 0
fi
if [ "$WARM" = 1 ]; then
  log "warming the Spark server's JIT: one untimed rarecall run on $DATA"
  "$RARECALL" run --config "$CONFIG" --source "$DATA" --out "$OUT/warm" -q > /dev/null
fi
for p in $(seq 1 "$PAIRS"); do
  if [ $(((p + FLIP) % 2)) = 1 ]; then run_rarecall "$p" 1; run_notebook "$p" 2
  else run_notebook "$p" 1; run_rarecall "$p" 2; fi
done

"${PY[@]}" bench/notebook_table.py "$OUT/results.jsonl" "$MEMBERS" | tee "$OUT/table.md"
