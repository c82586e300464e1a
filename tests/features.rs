//! Feature SQL on hand-made events whose answers are worked out by hand.

use rarecall::table::{FeatureTable, NUMERIC_FEATURES, Split};

use crate::common::*;

fn feature(t: &FeatureTable, id: &str, name: &str) -> f64 {
    let row = t
        .row_index(id)
        .unwrap_or_else(|| panic!("no interaction {id}"));
    let j = NUMERIC_FEATURES.iter().position(|n| *n == name).unwrap();
    t.numeric[j][row]
}

/// Member A: i1 (3 events), i2 and i3 at the same instant, i4 exactly 30 days after
/// i1, i5 in the test window. Member B: one interaction. Member C: interactions on
/// both sides of the split boundary by one microsecond.
fn events() -> Vec<rarecall::demo::Event> {
    vec![
        ev(
            "A",
            "i1",
            "2024-01-01 10:00:00",
            Some("Claim Status"),
            0,
            "phone",
        ),
        ev(
            "A",
            "i1",
            "2024-01-01 10:05:00",
            Some("  claims  status - inbound "),
            0,
            "chat",
        ),
        ev("A", "i1", "2024-01-01 10:09:00", None, 0, "phone"),
        ev(
            "A",
            "i2",
            "2024-01-05 10:00:00",
            Some("PRIOR AUTH"),
            0,
            "phone",
        ),
        ev(
            "A",
            "i2",
            "2024-01-05 10:03:00",
            Some("complaint!!"),
            1,
            "phone",
        ),
        ev(
            "A",
            "i3",
            "2024-01-05 10:00:00",
            Some("web stuff"),
            0,
            "web",
        ),
        ev("A", "i3", "2024-01-05 10:01:00", Some(""), 0, "chat"),
        ev("A", "i4", "2024-01-31 10:00:00", Some("eob"), 0, "phone"),
        ev(
            "A",
            "i5",
            "2024-04-01 10:00:00",
            Some("Grievance"),
            1,
            "phone",
        ),
        ev("B", "j1", "2024-02-10 08:00:00", Some("id card"), 0, "ivr"),
        ev(
            "C",
            "k1",
            "2024-02-29 23:59:59.999999",
            Some("dental"),
            0,
            "web",
        ),
        ev("C", "k2", "2024-03-01 00:00:00", Some("vision"), 0, "web"),
    ]
}

fn table() -> FeatureTable {
    let dir = temp_dir("features");
    let path = dir.join("events.parquet");
    write_parquet(&path, &events(), None);
    // Ratio large enough to keep every negative member: this module checks features.
    let p = pipeline(
        &path,
        "[model]\nsplit_boundary = \"2024-03-01\"\ntarget_neg_pos_member_ratio = 100\n",
    );
    run(&p).unwrap().features
}

#[test]
fn one_row_per_interaction_with_label_any_event_and_first_event_time() {
    let t = table();
    let mut ids = t.interaction_id.clone();
    ids.sort();
    assert_eq!(ids, ["i1", "i2", "i3", "i4", "i5", "j1", "k1", "k2"]);
    let i1 = t.row_index("i1").unwrap();
    let i2 = t.row_index("i2").unwrap();
    assert_eq!(t.label[i1], 0);
    assert_eq!(
        t.label[i2], 1,
        "one escalated event makes the interaction positive"
    );
    assert_eq!(t.interaction_ts_us[i1], ts("2024-01-01 10:00:00"));
    assert_eq!(feature(&t, "i1", "n_events"), 3.0);
    assert_eq!(feature(&t, "i2", "n_events"), 2.0);
    let d: Vec<_> = t.descriptions.row(i1).collect();
    assert_eq!(
        d,
        ["claim status", "unknown"],
        "variants collapse, null is unknown"
    );
    let d: Vec<_> = t.descriptions.row(i2).collect();
    assert_eq!(d, ["complaint", "prior authorization"]);
    let i3 = t.row_index("i3").unwrap();
    let d: Vec<_> = t.descriptions.row(i3).collect();
    assert_eq!(
        d,
        ["unknown", "web stuff"],
        "unmatched text keeps its cleaned value"
    );
    // Channel is the most frequent value; a tie goes to the smallest value.
    let ch = &t.categoricals[0];
    assert_eq!(ch.name, "cat_channel");
    assert_eq!(ch.value(i1), "phone");
    assert_eq!(ch.value(i3), "chat");
}

#[test]
fn recency_and_rolling_counts_use_strictly_earlier_interactions() {
    let t = table();
    let nan = |id: &str, f: &str| feature(&t, id, f).is_nan();
    // First interaction of a member: nothing earlier.
    for f in [
        "days_since_prev",
        "days_since_last_escalation",
        "tenure_days",
    ] {
        assert!(nan("i1", f), "i1 {f}");
        assert!(nan("j1", f), "single-interaction member j1 {f}");
    }
    for f in [
        "calls_prev_7d",
        "calls_prev_30d",
        "calls_prev_90d",
        "prior_escalations",
    ] {
        assert_eq!(feature(&t, "i1", f), 0.0, "i1 {f}");
        assert_eq!(feature(&t, "j1", f), 0.0, "j1 {f}");
    }
    // i2 and i3 share a timestamp: neither sees the other (i2's escalation included).
    for id in ["i2", "i3"] {
        assert_eq!(feature(&t, id, "days_since_prev"), 4.0, "{id}");
        assert_eq!(feature(&t, id, "calls_prev_7d"), 1.0, "{id}");
        assert_eq!(feature(&t, id, "prior_escalations"), 0.0, "{id}");
        assert!(nan(id, "days_since_last_escalation"), "{id}");
        assert_eq!(feature(&t, id, "tenure_days"), 4.0, "{id}");
    }
    // i4 is exactly 30 days after i1: the 30-day window [t-30d, t) includes it.
    assert_eq!(feature(&t, "i4", "days_since_prev"), 26.0);
    assert_eq!(feature(&t, "i4", "calls_prev_7d"), 0.0);
    assert_eq!(feature(&t, "i4", "calls_prev_30d"), 3.0);
    assert_eq!(feature(&t, "i4", "calls_prev_90d"), 3.0);
    assert_eq!(feature(&t, "i4", "prior_escalations"), 1.0);
    assert_eq!(feature(&t, "i4", "days_since_last_escalation"), 26.0);
    assert_eq!(feature(&t, "i4", "tenure_days"), 30.0);
    // i5 (test window) still sees the training history; i1 is 91 days back.
    assert_eq!(feature(&t, "i5", "days_since_prev"), 61.0);
    assert_eq!(feature(&t, "i5", "calls_prev_30d"), 0.0);
    assert_eq!(feature(&t, "i5", "calls_prev_90d"), 3.0);
    assert_eq!(feature(&t, "i5", "prior_escalations"), 1.0);
    assert_eq!(feature(&t, "i5", "days_since_last_escalation"), 87.0);
    assert_eq!(feature(&t, "i5", "tenure_days"), 91.0);
    // Later interactions never leak backwards: i1's features ignore i2..i5 (checked
    // above), and k1 one microsecond before k2 does not see k2.
    assert!(nan("k1", "days_since_prev"));
    assert!((feature(&t, "k2", "days_since_prev") - 1e-6 / 86400.0).abs() < 1e-15);
}

#[test]
fn split_boundary_is_before_versus_on_or_after() {
    let t = table();
    let split = |id: &str| t.split[t.row_index(id).unwrap()];
    assert_eq!(
        split("k1"),
        Split::Train,
        "one microsecond before the boundary"
    );
    assert_eq!(split("k2"), Split::Test, "exactly at the boundary");
    assert_eq!(split("i5"), Split::Test);
    assert_eq!(split("i4"), Split::Train);
}

#[test]
fn normalization_audit_counts_every_raw_value() {
    let dir = temp_dir("audit");
    let path = dir.join("events.parquet");
    write_parquet(&path, &events(), None);
    let p = pipeline(
        &path,
        "[model]\nsplit_boundary = \"2024-03-01\"\ntarget_neg_pos_member_ratio = 100\n",
    );
    let out = run(&p).unwrap();
    let csv = String::from_utf8(rarecall::report::audit_csv(&out.audit).unwrap()).unwrap();
    assert_golden("audit_small.csv", &csv);
    let total: i64 = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, events().len() as i64, "every event is counted once");
}
