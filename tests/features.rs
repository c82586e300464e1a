//! Feature SQL on hand-made events whose answers are worked out by hand.

use rarecall::table::{FeatureTable, NUMERIC_FEATURES, Split};

use rarecall::pipeline::{Scratch, Timings, run_spark};

use crate::common::*;

fn feature(t: &FeatureTable, id: &str, name: &str) -> f64 {
    let row = t
        .row_index(id)
        .unwrap_or_else(|| panic!("no interaction {id}"));
    let j = NUMERIC_FEATURES.iter().position(|n| *n == name).unwrap();
    t.numeric.get(row, j)
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

/// The hand-made events in a fresh folder, and the settings that read them.
fn job(name: &str) -> (std::path::PathBuf, rarecall::config::Settings) {
    let dir = temp_dir(name);
    let path = dir.join("events.parquet");
    write_parquet(&path, &events(), None);
    // Ratio large enough to keep every negative member: this module checks features.
    let p = pipeline(
        &path,
        "[model]\nsplit_boundary = \"2024-03-01\"\ntarget_neg_pos_member_ratio = 100\n",
    );
    (dir, p)
}

fn table() -> FeatureTable {
    run(&job("features").1).unwrap().features
}

/// The feature pull in parts of members (`spark.pull_part_rows`: no result may reach
/// the driver's `spark.driver.maxResultSize`) gives the table of a pull in one part,
/// with the rows written once to the scratch folder and without one (each part then
/// recomputes the query).
#[test]
fn a_pull_in_parts_of_members_is_the_pull_in_one() {
    let whole = table();
    assert!(whole.len() >= 6, "enough rows for several parts");
    let (dir, p) = job("features-parts");
    let scratch = Scratch::local(dir.join("scratch").to_str().unwrap()).unwrap();
    for with_scratch in [true, false] {
        let spark = spark().with_pull_part_rows(2);
        let got = run_spark(
            &spark,
            &p,
            with_scratch.then_some(&scratch),
            &mut Timings::default(),
        )
        .unwrap()
        .features;
        assert_eq!(
            format!("{got:?}"),
            format!("{whole:?}"),
            "pulled in parts (scratch: {with_scratch})"
        );
    }
}

#[test]
fn one_row_per_interaction_with_label_any_event_and_first_event_time() {
    let t = table();
    let mut ids: Vec<&str> = t.interaction_id.iter().collect();
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
    // i2 escalated at its second event, 10:03: escalations are dated when they happen.
    let three_min = 3.0 / 1440.0;
    assert!((feature(&t, "i4", "days_since_last_escalation") - (26.0 - three_min)).abs() < 1e-9);
    assert_eq!(feature(&t, "i4", "tenure_days"), 30.0);
    // i5 (test window) still sees the training history; i1 is 91 days back.
    assert_eq!(feature(&t, "i5", "days_since_prev"), 61.0);
    assert_eq!(feature(&t, "i5", "calls_prev_30d"), 0.0);
    assert_eq!(feature(&t, "i5", "calls_prev_90d"), 3.0);
    assert_eq!(feature(&t, "i5", "prior_escalations"), 1.0);
    assert!((feature(&t, "i5", "days_since_last_escalation") - (87.0 - three_min)).abs() < 1e-9);
    assert_eq!(feature(&t, "i5", "tenure_days"), 91.0);
    // Later interactions never leak backwards: i1's features ignore i2..i5 (checked
    // above), and k1 one microsecond before k2 does not see k2.
    assert!(nan("k1", "days_since_prev"));
    assert!((feature(&t, "k2", "days_since_prev") - 1e-6 / 86400.0).abs() < 1e-15);
}

#[test]
fn decayed_counts_rates_and_clock_features_have_known_answers() {
    let t = table();
    let f = |id: &str, name: &str| feature(&t, id, name);
    let close = |a: f64, b: f64, what: &str| assert!((a - b).abs() < 1e-12, "{what}: {a} vs {b}");
    // i4 (day 30) sees i1 (age 30 days) and i2, i3 (age 26 days); i2 escalated at
    // 10:03 on day 4, so its escalation is 26 days less 3 minutes old.
    let three_min = 3.0 / 1440.0;
    let d = |age: f64, h: f64| 2f64.powf(-age / h);
    close(
        f("i4", "calls_decay_7d"),
        d(30.0, 7.0) + 2.0 * d(26.0, 7.0),
        "i4 calls 7d",
    );
    close(
        f("i4", "calls_decay_30d"),
        d(30.0, 30.0) + 2.0 * d(26.0, 30.0),
        "i4 calls 30d",
    );
    close(
        f("i4", "escalations_decay_30d"),
        d(26.0 - three_min, 30.0),
        "i4 esc 30d",
    );
    close(
        f("i4", "escalations_decay_180d"),
        d(26.0 - three_min, 180.0),
        "i4 esc 180d",
    );
    assert_eq!(f("i4", "prior_interactions"), 3.0);
    // A first interaction has nothing to decay; i2 and i3 do not see each other.
    for id in ["i1", "j1", "k1"] {
        for name in [
            "calls_decay_7d",
            "escalations_decay_180d",
            "prior_interactions",
        ] {
            assert_eq!(f(id, name), 0.0, "{id} {name}");
        }
    }
    close(f("i3", "calls_decay_7d"), d(4.0, 7.0), "i3 calls 7d");
    assert_eq!(f("i3", "escalations_decay_30d"), 0.0);
    // i5 (day 91) sees all four earlier interactions of member A.
    close(
        f("i5", "calls_decay_30d"),
        d(91.0, 30.0) + 2.0 * d(87.0, 30.0) + d(61.0, 30.0),
        "i5 calls 30d",
    );
    assert_eq!(f("i5", "prior_interactions"), 4.0);
    // Clock features in UTC: 2024-01-31 was a Wednesday, 2024-04-01 a Monday and
    // 2024-02-29 a Thursday (Monday = 0).
    assert_eq!(
        (f("i4", "hour_of_day"), f("i4", "day_of_week")),
        (10.0, 2.0)
    );
    assert_eq!(
        (f("i5", "hour_of_day"), f("i5", "day_of_week")),
        (10.0, 0.0)
    );
    assert_eq!(
        (f("k1", "hour_of_day"), f("k1", "day_of_week")),
        (23.0, 3.0)
    );
    assert_eq!((f("k2", "hour_of_day"), f("k2", "day_of_week")), (0.0, 4.0));
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
    let csv = String::from_utf8(rarecall::tables::audit_csv(&out.audit).unwrap()).unwrap();
    assert_golden("audit_small.csv", &csv);
    let total: i64 = csv
        .lines()
        .skip(1)
        // event_count is the one before the last column (high_volume_unmatched).
        .map(|l| l.rsplit(',').nth(1).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, events().len() as i64, "every event is counted once");
}

/// Member L: a1 starts at 10:00 and escalates at 12:00, then logs one more event at
/// 12:30; a2 starts at 11:00, while a1 is open and before it escalates; a3 starts the
/// next day at 12:00. Member T only gives the test window a row.
fn look_ahead_events() -> Vec<rarecall::demo::Event> {
    vec![
        ev(
            "L",
            "a1",
            "2024-01-10 10:00:00",
            Some("billing q"),
            0,
            "phone",
        ),
        ev(
            "L",
            "a1",
            "2024-01-10 12:00:00",
            Some("complaint"),
            1,
            "phone",
        ),
        ev(
            "L",
            "a1",
            "2024-01-10 12:30:00",
            Some("address change"),
            0,
            "chat",
        ),
        ev(
            "L",
            "a1",
            "2024-01-10 12:31:00",
            Some("grievance"),
            0,
            "chat",
        ),
        ev("L", "a2", "2024-01-10 11:00:00", Some("id card"), 0, "web"),
        ev("L", "a3", "2024-01-11 12:00:00", Some("eob"), 0, "phone"),
        ev("T", "t1", "2024-04-01 09:00:00", Some("dental"), 0, "web"),
    ]
}

#[test]
fn escalations_count_from_when_they_happened_and_later_events_are_dropped() {
    let dir = temp_dir("look_ahead");
    let path = dir.join("events.parquet");
    write_parquet(&path, &look_ahead_events(), None);
    let p = pipeline(
        &path,
        "[model]\nsplit_boundary = \"2024-03-01\"\ntarget_neg_pos_member_ratio = 100\n",
    );
    let t = run(&p).unwrap().features;
    // a2 started before a1 escalated: that escalation had not happened yet.
    assert_eq!(feature(&t, "a2", "prior_escalations"), 0.0);
    assert!(feature(&t, "a2", "days_since_last_escalation").is_nan());
    // a2 still sees a1 as an earlier interaction (it started an hour before).
    assert!((feature(&t, "a2", "days_since_prev") - 1.0 / 24.0).abs() < 1e-12);
    // a3 starts exactly one day after a1's escalating event.
    assert_eq!(feature(&t, "a3", "prior_escalations"), 1.0);
    assert!((feature(&t, "a3", "days_since_last_escalation") - 1.0).abs() < 1e-12);
    // a1's content stops at its escalating event: the two events after it (what the
    // escalation caused) are neither counted nor described; the label stays 1.
    let a1 = t.row_index("a1").unwrap();
    assert_eq!(t.label[a1], 1);
    assert_eq!(feature(&t, "a1", "n_events"), 2.0);
    let d: Vec<_> = t.descriptions.row(a1).collect();
    assert_eq!(d, ["billing question", "complaint"]);
    assert_eq!(t.categoricals[0].value(a1), "phone");
    assert_eq!(t.interaction_ts_us[a1], ts("2024-01-10 10:00:00"));
}

#[test]
fn burn_in_rows_are_history_but_not_training_rows() {
    let dir = temp_dir("burn_in");
    let path = dir.join("events.parquet");
    write_parquet(&path, &events(), None);
    // Data start 2024-01-01 10:00; a 3-day burn-in leaves i1 out of training while
    // the history of i2 and i4 still counts it.
    let p = pipeline(
        &path,
        "[model]\nsplit_boundary = \"2024-03-01\"\ntarget_neg_pos_member_ratio = 100\n[features]\nburn_in_days = 3\n",
    );
    let t = run(&p).unwrap().features;
    assert!(t.row_index("i1").is_none(), "i1 is in the burn-in");
    assert_eq!(feature(&t, "i2", "calls_prev_7d"), 1.0);
    assert_eq!(feature(&t, "i4", "calls_prev_30d"), 3.0);
    assert!(t.row_index("j1").is_some() && t.row_index("i5").is_some());
}
