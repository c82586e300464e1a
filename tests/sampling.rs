//! Member-level negative downsampling of the training window.

use std::collections::BTreeSet;

use rarecall::table::{FeatureTable, Split};

use crate::common::*;

/// 10 positive members, 200 negative members, each with two training interactions
/// and one test interaction.
fn events() -> Vec<rarecall::demo::Event> {
    let mut v = Vec::new();
    for m in 0..210 {
        let member = format!("m{m:03}");
        let positive = m < 10;
        v.push(ev(
            &member,
            &format!("{member}-a"),
            "2024-01-10 09:00:00",
            Some("billing q"),
            0,
            "phone",
        ));
        v.push(ev(
            &member,
            &format!("{member}-b"),
            "2024-02-10 09:00:00",
            Some("complaint"),
            i32::from(positive),
            "phone",
        ));
        v.push(ev(
            &member,
            &format!("{member}-t"),
            "2024-05-10 09:00:00",
            Some("complaint"),
            0,
            "phone",
        ));
    }
    v
}

fn sampled(seed: i64, ratio: f64) -> FeatureTable {
    let dir = temp_dir("sampling");
    let path = dir.join("events.parquet");
    write_parquet(&path, &events(), None);
    let p = pipeline(
        &path,
        &format!(
            "[model]\nsplit_boundary = \"2024-03-01\"\ntarget_neg_pos_member_ratio = {ratio}\nseed = {seed}\nvalidation_days = 10\n"
        ),
    );
    run(&p).unwrap().features
}

fn train_members(t: &FeatureTable, positive: bool) -> BTreeSet<String> {
    let pos: BTreeSet<_> = (0..t.len())
        .filter(|&i| t.split[i] == Split::Train && t.label[i] == 1)
        .map(|i| t.member_id[i].to_string())
        .collect();
    (0..t.len())
        .filter(|&i| t.split[i] == Split::Train)
        .map(|i| t.member_id[i].to_string())
        .filter(|m| pos.contains(m) == positive)
        .collect()
}

#[test]
fn keeps_all_positive_members_and_ratio_times_as_many_negatives() {
    let t = sampled(42, 3.0);
    let pos = train_members(&t, true);
    let neg = train_members(&t, false);
    assert_eq!(pos.len(), 10);
    assert_eq!(neg.len(), 30, "ratio 3 x 10 positive members");
    // Every kept member keeps all its training interactions.
    assert_eq!(t.rows_of(Split::Train).len(), 2 * 40);
    // Negatives carry the inverse sampling rate, positives 1.
    for i in t.rows_of(Split::Train) {
        let want = if pos.contains(&t.member_id[i]) {
            1.0
        } else {
            200.0 / 30.0
        };
        assert!((t.sample_weight[i] - want).abs() < 1e-12);
    }
    // The test window is never sampled.
    assert_eq!(t.rows_of(Split::Test).len(), 210);
    assert!(
        t.rows_of(Split::Test)
            .iter()
            .all(|&i| t.sample_weight[i] == 1.0)
    );
}

#[test]
fn same_seed_same_members_other_seed_other_members() {
    let a = train_members(&sampled(7, 3.0), false);
    let b = train_members(&sampled(7, 3.0), false);
    let c = train_members(&sampled(8, 3.0), false);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn ratio_above_available_keeps_every_member_with_weight_one() {
    let t = sampled(42, 50.0);
    assert_eq!(train_members(&t, false).len(), 200);
    assert!(
        t.rows_of(Split::Train)
            .iter()
            .all(|&i| t.sample_weight[i] == 1.0)
    );
}

#[test]
fn the_validation_slice_is_never_sampled() {
    // With a 25-day slice before 2024-03-01 (from February 5), the February 10 rows are
    // in it: every member's row is there, with weight 1; the January rows (before
    // the slice) are sampled as usual.
    let dir = temp_dir("sampling-validation");
    let path = dir.join("events.parquet");
    write_parquet(&path, &events(), None);
    let p = pipeline(
        &path,
        "[model]\nsplit_boundary = \"2024-03-01\"\ntarget_neg_pos_member_ratio = 2\nvalidation_days = 25\n",
    );
    let t = run(&p).unwrap().features;
    let rows = |suffix: &str| -> Vec<usize> {
        (0..t.len())
            .filter(|&i| t.interaction_id[i].ends_with(suffix))
            .collect()
    };
    let feb = rows("-b");
    assert_eq!(feb.len(), 210, "every member's February row");
    assert!(feb.iter().all(|&i| t.sample_weight[i] == 1.0));
    let jan = rows("-a");
    assert_eq!(
        jan.len(),
        10 + 20,
        "10 positive members and 2 x 10 negative ones"
    );
}
