"""The notebook rarecall replaces (/work/shared/ORIGINAL_NOTEBOOK.md), replicated in
pandas + scikit-learn, to be timed side by side with `rarecall run`
(bench/notebook_vs_rarecall.sh).

    python bench/notebook.py --source events.parquet --rules rules/pydescription_rules.csv \
        --out DIR [--split 2024-10-01 --ratio 10 --floor 0.40 --seed 42]

Prints one JSON line on stdout: stage wall seconds, rows, test AP, the threshold,
and the process peak RSS (resource.getrusage, MiB).

The notebook's steps, in its order (ORIGINAL_NOTEBOOK.md "How It Works"):
 1. load: pandas.read_parquet (pyarrow) of the whole event table.
 2. clean & normalize: trim, lower-case, collapse whitespace, strip edge punctuation,
    then the first matching rule of rules/pydescription_rules.csv gives the canonical
    value (as rarecall's sql/02_descriptions.sql). Chosen: the cleaning runs on the
    distinct raw values and is mapped back (the cheap pandas idiom), not row by row.
 3. aggregate & engineer: one row per interaction (member, first event time, event
    count, label = any event escalated, each categorical's most frequent value, ties
    to the smallest); the set of canonical descriptions is kept as (interaction,
    description) pairs for the multi-hot step. Exact duplicate events are dropped and
    events after an interaction's first escalating event are left out (as rarecall
    does, so both sides learn the same label). Recency and rolling counts per member,
    strictly before the interaction: days since the previous interaction, earlier
    interactions, earlier escalated interactions, days since the last one, tenure,
    calls in the previous 7/30/90 days (`groupby().rolling('ND', closed='left')`, the
    notebook idiom), hour of day, day of week.
    Chosen (the notebook has no such rules, rarecall does): no 365-day history cap,
    no 90-day burn-in, an earlier interaction counts as escalated from its start, no
    decayed counts, description words or crosses.
 4. encode & split: time split at SPLIT_BOUNDARY; member-level downsampling of the
    training window's negatives (every member with a positive training interaction,
    plus ceil(ratio x positive members) other members drawn with the seed, weighted
    by the inverse sampling rate); multi-hot flags for the 40 most frequent canonical
    descriptions with at least 20 training interactions; scikit-learn TargetEncoder
    (cross-fitted) for the categoricals; missing recency filled with 365 days;
    StandardScaler.
 5. train: LogisticRegression (L2, lbfgs, class_weight="balanced"), GridSearchCV
    over the C grid with GroupKFold(5) by member, scored by average precision, refit.
 6. threshold: highest recall with precision >= floor. Chosen: on the test window's
    scores, as the notebook reports it (rarecall chooses on a validation slice of the
    training window instead, which is the honest place; the cutoff does not enter the
    test AP).
 7. outputs: outreach_threshold_precision40_nocap.csv, pydescription_normalization_audit.csv,
    pr_curve_points.csv, outreach_topK_500.csv.
"""

import argparse
import json
import math
import re
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

STAGES = {}


@contextmanager
def stage(name):
    t0 = time.perf_counter()
    yield
    STAGES[name] = round(time.perf_counter() - t0, 3)
    print(f"notebook: {name} done in {STAGES[name]:.2f} s", file=sys.stderr)


def clean(s):
    s = s.str.strip().str.lower().str.replace(r"\s+", " ", regex=True)
    s = s.str.replace(r"^[\W_\s]+|[\W_\s]+$", "", regex=True).str.strip()
    return s.where(s.str.len() > 0)


def canonical(cleaned, rules):
    compiled = [(r.rule, r.match, r.pattern if r.match != "regex" else re.compile(r.pattern), r.canonical)
                for r in rules.itertuples()]

    def one(v):
        if not isinstance(v, str):
            return "unknown", "(missing)"
        for name, kind, pat, canon in compiled:
            if (kind == "regex" and pat.search(v)) or (kind != "regex" and v == pat):
                return canon, name
        return v, "(unmatched)"

    out = [one(v) for v in cleaned]
    return [o[0] for o in out], [o[1] for o in out]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--split", default="2024-10-01")
    ap.add_argument("--ratio", type=float, default=10.0)
    ap.add_argument("--floor", type=float, default=0.40)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--c-grid", default="0.0001,0.001,0.01,0.1,1,10,100,1000")
    ap.add_argument("--top-n", type=int, default=40)
    ap.add_argument("--min-support", type=int, default=20)
    ap.add_argument("--top-k", type=int, default=500)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    cats = ["channel", "region", "plan_type"]

    # 1. load
    with stage("load"):
        ev = pd.read_parquet(a.source)
    n_events = len(ev)

    # 2. clean & normalize
    with stage("normalize"):
        rules = pd.read_csv(a.rules)
        counts = ev["pydescription"].value_counts(dropna=False)
        audit = pd.DataFrame({"description_raw": counts.index, "event_count": counts.values})
        audit["description_clean"] = clean(audit["description_raw"].astype("string")).astype(object)
        audit["description_canonical"], audit["rule_name"] = canonical(audit["description_clean"], rules)
        mapping = dict(zip(audit["description_raw"], audit["description_canonical"]))
        ev["desc"] = ev["pydescription"].map(mapping).fillna("unknown")

    # 3. aggregate & engineer
    with stage("interactions"):
        ev = ev.drop_duplicates(subset=["member_id", "interaction_id", "event_ts", "pydescription",
                                        "escalated", *cats])
        esc = ev.loc[ev["escalated"] == 1].groupby("interaction_id")["event_ts"].min().rename("esc_ts")
        ev = ev.join(esc, on="interaction_id")
        ev = ev.loc[ev["esc_ts"].isna() | (ev["event_ts"] <= ev["esc_ts"])]
        g = ev.groupby("interaction_id", sort=False)
        inter = g.agg(member_id=("member_id", "min"), interaction_ts=("event_ts", "min"),
                      n_events=("event_ts", "size"), label=("escalated", "max"))
        for c in cats:
            m = (ev.groupby(["interaction_id", c]).size().rename("n").reset_index()
                 .sort_values(["interaction_id", "n", c], ascending=[True, False, True])
                 .drop_duplicates("interaction_id").set_index("interaction_id")[c])
            inter[c] = m
        pairs = ev[["interaction_id", "desc"]].drop_duplicates()
        del ev, g

    with stage("recency and rolling counts"):
        inter = inter.reset_index().sort_values(["member_id", "interaction_ts", "interaction_id"],
                                                ignore_index=True)
        gm = inter.groupby("member_id", sort=False)
        day = pd.Timedelta(days=1)
        ts = inter["interaction_ts"]
        inter["days_since_prev"] = (ts - gm["interaction_ts"].shift()) / day
        inter["prior_interactions"] = gm.cumcount()
        inter["prior_escalations"] = gm["label"].cumsum() - inter["label"]
        last_esc = ts.where(inter["label"] == 1)
        inter["last_esc"] = last_esc
        inter["last_esc"] = inter.groupby("member_id", sort=False)["last_esc"].shift()
        inter["last_esc"] = inter.groupby("member_id", sort=False)["last_esc"].ffill()
        inter["days_since_last_escalation"] = (ts - inter["last_esc"]) / day
        inter["tenure_days"] = (ts - gm["interaction_ts"].transform("min")) / day
        inter["one"] = 1.0
        for n in (7, 30, 90):
            r = (inter.groupby("member_id", sort=False)
                 .rolling(f"{n}D", on="interaction_ts", closed="left")["one"].count())
            inter[f"calls_prev_{n}d"] = r.to_numpy()
        inter["hour_of_day"] = ts.dt.hour
        inter["day_of_week"] = ts.dt.day_of_week
        inter = inter.drop(columns=["last_esc", "one"])

    # 4. split, downsample, encode
    with stage("split and downsample"):
        boundary = pd.Timestamp(a.split, tz="UTC")
        train = inter.loc[inter["interaction_ts"] < boundary]
        test = inter.loc[inter["interaction_ts"] >= boundary].reset_index(drop=True)
        pos_members = train.loc[train["label"] == 1, "member_id"].unique()
        neg_members = np.setdiff1d(train["member_id"].unique(), pos_members)
        n_keep = min(len(neg_members), math.ceil(a.ratio * len(pos_members)))
        rng = np.random.default_rng(a.seed)
        kept_neg = rng.choice(np.sort(neg_members), size=n_keep, replace=False)
        keep = np.concatenate([pos_members, kept_neg])
        train = train.loc[train["member_id"].isin(keep)].reset_index(drop=True)
        neg_weight = len(neg_members) / max(n_keep, 1)
        w = np.where(train["member_id"].isin(pos_members), 1.0, neg_weight)

    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler, TargetEncoder

    with stage("encode"):
        support = pairs.loc[pairs["interaction_id"].isin(train["interaction_id"]), "desc"].value_counts()
        top = support[support >= a.min_support].index[: a.top_n]
        flags = pairs.loc[pairs["desc"].isin(top)]
        flags = pd.crosstab(flags["interaction_id"], flags["desc"]).clip(upper=1)
        num = ["n_events", "days_since_prev", "prior_interactions", "prior_escalations",
               "days_since_last_escalation", "tenure_days", "calls_prev_7d", "calls_prev_30d",
               "calls_prev_90d", "hour_of_day", "day_of_week"]

        def frame(df):
            x = df[num].astype(float).fillna(365.0)
            f = flags.reindex(df["interaction_id"]).fillna(0).to_numpy(dtype=float)
            return np.hstack([x.to_numpy(), f])

        te = TargetEncoder(target_type="binary", cv=KFold(5, shuffle=True, random_state=a.seed))
        xtr = np.hstack([frame(train), te.fit_transform(train[cats].fillna("(null)"), train["label"])])
        xte = np.hstack([frame(test), te.transform(test[cats].fillna("(null)"))])
        sc = StandardScaler()
        xtr = sc.fit_transform(xtr)
        xte = sc.transform(xte)
        ytr = train["label"].to_numpy()
        yte = test["label"].to_numpy()

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, precision_recall_curve
    from sklearn.model_selection import GridSearchCV, GroupKFold

    with stage("train (C grid, refit)"):
        grid = GridSearchCV(
            LogisticRegression(class_weight="balanced", max_iter=1000),
            {"C": [float(c) for c in a.c_grid.split(",")]},
            scoring="average_precision", cv=GroupKFold(n_splits=5), n_jobs=1, refit=True)
        grid.fit(xtr, ytr, groups=train["member_id"].to_numpy(), sample_weight=w)

    with stage("score and threshold"):
        s = grid.predict_proba(xte)[:, 1]
        test_ap = float(average_precision_score(yte, s))
        prec, rec, thr = precision_recall_curve(yte, s)
        ok = np.flatnonzero(prec[:-1] >= a.floor)
        if len(ok):
            best = ok[np.argmax(rec[:-1][ok])]
            threshold, t_prec, t_rec = float(thr[best]), float(prec[best]), float(rec[best])
        else:
            threshold, t_prec, t_rec = float("inf"), float("nan"), 0.0

    with stage("write outputs"):
        res = test[["interaction_id", "member_id", "interaction_ts"]].assign(score=s, label=yte)
        res.loc[res["score"] >= threshold].sort_values("score", ascending=False).to_csv(
            out / "outreach_threshold_precision40_nocap.csv", index=False)
        res.nlargest(a.top_k, "score").to_csv(out / f"outreach_topK_{a.top_k}.csv", index=False)
        pd.DataFrame({"threshold": np.append(thr, np.nan), "precision": prec, "recall": rec}).to_csv(
            out / "pr_curve_points.csv", index=False)
        audit.to_csv(out / "pydescription_normalization_audit.csv", index=False)

    feature = sum(v for k, v in STAGES.items()
                  if k in ("load", "normalize", "interactions", "recency and rolling counts",
                           "split and downsample"))
    print(json.dumps({
        "events": n_events, "interactions": len(inter), "train_rows": len(train), "test_rows": len(test),
        "features": xtr.shape[1], "best_c": grid.best_params_["C"], "test_ap": test_ap,
        "threshold": threshold, "threshold_precision": t_prec, "threshold_recall": t_rec,
        "outreach": int((s >= threshold).sum()), "stages": STAGES, "feature_s": round(feature, 3),
        "wall_s": round(time.perf_counter() - t_all, 3),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
