//! Output tables as bytes: CSV and JSON renderings of what the run produced. Pure.

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

fn csv_err(e: impl std::fmt::Display) -> Error {
    Error::Output {
        location: "csv".into(),
        problem: e.to_string(),
        fix: "report this as a bug".into(),
    }
}

/// `pydescription_normalization_audit.csv`: every distinct raw value, its cleaned and
/// canonical value, the rule that fired and its event count. A null raw value is an
/// empty field with `raw_is_null = true` (an empty string has `false`).
pub fn audit_csv(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "description_raw",
        "raw_is_null",
        "description_clean",
        "description_canonical",
        "rule",
        "event_count",
    ])
    .map_err(csv_err)?;
    for b in batches {
        let text = |name: &str| -> Result<arrow::array::ArrayRef> {
            let col = b.column_by_name(name).ok_or_else(|| Error::Arrow {
                stage: "normalization audit".into(),
                expected: format!("column {name}"),
                found: "missing".into(),
            })?;
            cast(col, &DataType::Utf8).map_err(csv_err)
        };
        let raw = text("description_raw")?;
        let clean = text("description_clean")?;
        let canon = text("description_canonical")?;
        let rule = text("rule_name")?;
        let count = cast(
            b.column_by_name("event_count").ok_or_else(|| csv_err("event_count missing"))?,
            &DataType::Int64,
        )
        .map_err(csv_err)?;
        let (raw, clean, canon, rule) = (
            raw.as_string::<i32>(),
            clean.as_string::<i32>(),
            canon.as_string::<i32>(),
            rule.as_string::<i32>(),
        );
        let count = count.as_primitive::<Int64Type>();
        let s = |a: &arrow::array::StringArray, i: usize| {
            if a.is_null(i) { String::new() } else { a.value(i).to_string() }
        };
        for i in 0..b.num_rows() {
            w.write_record([
                s(raw, i),
                raw.is_null(i).to_string(),
                s(clean, i),
                s(canon, i),
                s(rule, i),
                count.value(i).to_string(),
            ])
            .map_err(csv_err)?;
        }
    }
    w.into_inner().map_err(csv_err)
}
