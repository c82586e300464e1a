"""Markdown table of bench/notebook_vs_rarecall.sh's results (one JSON line per run).

    python bench/notebook_table.py results.jsonl MEMBERS

Medians with (min-max) over the pairs; each ratio is computed pair by pair
(notebook's figure of pair k / rarecall's figure of pair k).
"""

import json
import statistics
import sys


def st(xs, digits=3):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    m = statistics.median(xs)
    return f"{m:.{digits}g} ({min(xs):.{digits}g}-{max(xs):.{digits}g})" if len(xs) > 1 else f"{m:.{digits}g}"


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    members = int(sys.argv[2])
    rc = {r["pair"]: r for r in rows if r["side"] == "rarecall"}
    nb = {r["pair"]: r for r in rows if r["side"] == "notebook"}
    for r in nb.values():  # rarecall's "train" stage includes encoding: count the notebook's too
        if r["status"] == "ok":
            r["train_s"] = r["stages"]["encode"] + r["stages"]["train (C grid, refit)"]
    pairs = sorted(set(rc) & set(nb))
    ok = [p for p in pairs if nb[p]["status"] == "ok"]
    r0 = rc[pairs[0]]
    print(f"{members:,} members, {r0['events']:,} events; {len(pairs)} pairs, alternating which side "
          f"goes first; median (min-max) over the pairs.\n")
    print("| | rarecall run | notebook (pandas + scikit-learn) | notebook / rarecall, pair by pair |")
    print("|---|---|---|---|")

    def line(name, key, digits=3, ratio=True):
        a = [rc[p].get(key) for p in pairs]
        b = [nb[p].get(key) for p in ok]
        rt = st([nb[p][key] / rc[p][key] for p in ok]) + " x" if ratio and ok else ""
        print(f"| {name} | {st(a, digits)} | {st(b, digits) if ok else '-'} | {rt} |")

    line("end to end wall, s", "wall_s")
    line("features, s (rarecall: Spark stages, the test window's pull included; notebook: pandas load..downsample)", "feature_s")
    line("training (encode, C grid, refit), s", "train_s")
    line("peak RSS, MiB", "peak_rss_mib")
    line("test AP", "test_ap", 4, ratio=False)
    print(f"| training rows x features | {r0['train_rows']:,} x {r0['features']} | "
          + (f"{nb[ok[0]]['train_rows']:,} x {nb[ok[0]]['features']}" if ok else "-") + " | |")
    print(f"| best C | {st([rc[p]['best_c'] for p in pairs])} | "
          + (st([nb[p]['best_c'] for p in ok]) if ok else "-") + " | |")
    for p in pairs:
        if nb[p]["status"] != "ok":
            print(f"\nPair {p}: the notebook {nb[p]['status']} after {nb[p]['wall_s']:.0f} s "
                  f"(stages finished: {nb[p]['stages']}); rarecall took {rc[p]['wall_s']:.0f} s.")
    print("\nStage wall seconds, per pair (order: " +
          ", ".join(f"pair {p}: {'rarecall' if rc[p]['position'] == 1 else 'notebook'} first" for p in pairs) + "):\n")
    print("| side | stage | " + " | ".join(f"pair {p}" for p in pairs) + " |")
    print("|---|---|" + "---|" * len(pairs))
    for side, d in (("rarecall", rc), ("notebook", nb)):
        names = list(dict.fromkeys(k for p in pairs for k in d[p]["stages"]))
        for k in names:
            print(f"| {side} | {k} | " + " | ".join(f"{d[p]['stages'].get(k, float('nan')):.2f}" for p in pairs) + " |")
    if ok:
        spark = [rc[p]["feature_s"] / nb[p]["feature_s"] for p in ok]
        e2e = [nb[p]["wall_s"] / rc[p]["wall_s"] for p in ok]
        dap = [rc[p]["test_ap"] - nb[p]["test_ap"] for p in ok]
        print("\nTargets (issue 17):\n")
        print(f"- Spark stages <= 2x the pandas feature time: rarecall / pandas = {st(spark)} x -> "
              f"{'met' if max(spark) <= 2 else 'not met'}.")
        print(f"- end to end >= 2x faster than the notebook at equal AP: notebook / rarecall wall = "
              f"{st(e2e)} x -> {'met' if min(e2e) >= 2 else 'not met'}; test AP rarecall - notebook = "
              f"{st(dap, 3)}.")


if __name__ == "__main__":
    main()
