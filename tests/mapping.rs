//! Sources whose columns are named and typed differently, through the mapping alone.

use rarecall::config::settings_from_toml;
use rarecall::table::Split;

use crate::common::*;

const UPPER: [&str; 8] = [
    "MEMBER_ID",
    "INTERACTION_ID",
    "EVENT_TS",
    "PYDESCRIPTION",
    "ESCALATED",
    "CHANNEL",
    "REGION",
    "PLAN_TYPE",
];

const UPPER_MAPPING: &str = "[columns]\nmember_id = \"MEMBER_ID\"\ninteraction_id = \"INTERACTION_ID\"\nevent_ts = \"EVENT_TS\"\ndescription = \"PYDESCRIPTION\"\nlabel = \"ESCALATED\"\ncategoricals = [\"CHANNEL\", \"REGION\", \"PLAN_TYPE\"]\n[model]\nsplit_boundary = \"2024-03-01\"\ntarget_neg_pos_member_ratio = 100\n[features]\nburn_in_days = 0\n";

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
            "i2",
            "2024-01-03 10:00:00",
            Some("complaint"),
            1,
            "chat",
        ),
        ev("B", "j1", "2024-03-05 10:00:00", Some("eob"), 0, "web"),
    ]
}

#[test]
fn upper_case_export_with_three_categoricals() {
    let dir = temp_dir("mapping");
    let path = dir.join("events.parquet");
    write_parquet(&path, &events(), Some(UPPER));
    let t = run(&pipeline(&path, UPPER_MAPPING)).unwrap().features;
    assert_eq!(t.len(), 3);
    let names: Vec<_> = t.categoricals.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cat_channel", "cat_region", "cat_plan_type"]);
    let i2 = t.row_index("i2").unwrap();
    assert_eq!(t.label[i2], 1);
    assert_eq!(t.categoricals[1].value(i2), "west");
    assert_eq!(t.split[t.row_index("j1").unwrap()], Split::Test);
}

/// JSON: integer member ids, ISO-8601 string times, boolean labels.
#[test]
fn json_with_integer_ids_string_times_and_boolean_labels() {
    let dir = temp_dir("mapping-json");
    let path = dir.join("events.json");
    std::fs::write(
        &path,
        concat!(
            "{\"mid\": 17, \"iid\": 1, \"when\": \"2024-01-01T10:00:00Z\", \"what\": \"Claim Status\", \"hit\": false, \"via\": \"phone\"}\n",
            "{\"mid\": 17, \"iid\": 2, \"when\": \"2024-01-08T10:00:00Z\", \"what\": \"COMPLAINT\", \"hit\": true, \"via\": \"chat\"}\n",
            "{\"mid\": 18, \"iid\": 3, \"when\": \"2024-04-01T00:00:00Z\", \"what\": null, \"hit\": false, \"via\": \"web\"}\n",
        ),
    )
    .unwrap();
    let p = settings_from_toml(&format!(
        "[source]\npath = {:?}\nformat = \"json\"\n[columns]\nmember_id = \"mid\"\ninteraction_id = \"iid\"\nevent_ts = \"when\"\ndescription = \"what\"\nlabel = \"hit\"\ncategoricals = [\"via\"]\n[model]\nsplit_boundary = \"2024-03-01\"\ntarget_neg_pos_member_ratio = 100\n[features]\nburn_in_days = 0\n",
        path.display().to_string()
    ))
    .unwrap();
    let t = run(&p).unwrap().features;
    assert_eq!(t.len(), 3);
    let i2 = t.row_index("2").unwrap();
    assert_eq!(&t.member_id[i2], "17");
    assert_eq!(t.label[i2], 1);
    assert_eq!(t.interaction_ts_us[i2], ts("2024-01-08 10:00:00"));
    assert_eq!(t.categoricals[0].name, "cat_via");
}
