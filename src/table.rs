//! Typed tables from Spark's Arrow batches. Pure.
//!
//! The feature table keeps one contiguous vector per column (f64 for numbers, NaN for
//! a null), descriptions as a compressed sparse row list of dictionary ids and
//! categoricals as dictionary codes, so that encoding reads memory in order and no
//! row owns an allocation.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, ListArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

/// Numeric feature columns of `sql/05_member_history.sql`, in order.
pub const NUMERIC_FEATURES: &[&str] = &[
    "n_events",
    "days_since_prev",
    "calls_prev_7d",
    "calls_prev_30d",
    "calls_prev_90d",
    "prior_escalations",
    "days_since_last_escalation",
    "tenure_days",
    "prior_interactions",
    "calls_decay_7d",
    "calls_decay_30d",
    "escalations_decay_30d",
    "escalations_decay_180d",
    "hour_of_day",
    "day_of_week",
];

/// Which window an interaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Descriptions per row as ids into `dictionary` (compressed sparse rows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DescriptionSets {
    pub dictionary: Vec<String>,
    pub offsets: Vec<usize>,
    pub ids: Vec<u32>,
}

impl DescriptionSets {
    pub fn row(&self, i: usize) -> impl Iterator<Item = &str> {
        self.ids[self.offsets[i]..self.offsets[i + 1]]
            .iter()
            .map(|&id| self.dictionary[id as usize].as_str())
    }
}

/// One categorical column as dictionary codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Categorical {
    pub name: String,
    pub dictionary: Vec<String>,
    pub codes: Vec<u32>,
}

impl Categorical {
    pub fn value(&self, i: usize) -> &str {
        &self.dictionary[self.codes[i] as usize]
    }
}

/// The value a null categorical becomes (a category of its own).
pub(crate) const MISSING_CATEGORY: &str = "(missing)";

/// Interaction-level features for the train sample and the test window.
#[derive(Debug, Clone, Default)]
pub struct FeatureTable {
    pub interaction_id: Vec<String>,
    pub member_id: Vec<String>,
    pub interaction_ts_us: Vec<i64>,
    pub label: Vec<u8>,
    pub split: Vec<Split>,
    pub sample_weight: Vec<f64>,
    /// `NUMERIC_FEATURES[j]` is `numeric[j]`; null is NaN.
    pub numeric: Vec<Vec<f64>>,
    pub descriptions: DescriptionSets,
    pub categoricals: Vec<Categorical>,
}

impl FeatureTable {
    pub fn len(&self) -> usize {
        self.interaction_id.len()
    }
    pub fn is_empty(&self) -> bool {
        self.interaction_id.is_empty()
    }
    pub fn rows_of(&self, s: Split) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.split[i] == s).collect()
    }
    pub(crate) fn positives_of(&self, s: Split) -> usize {
        (0..self.len())
            .filter(|&i| self.split[i] == s && self.label[i] == 1)
            .count()
    }
    pub fn row_index(&self, interaction_id: &str) -> Option<usize> {
        self.interaction_id.iter().position(|x| x == interaction_id)
    }
}

fn arrow_err(expected: impl Into<String>, found: impl Into<String>) -> Error {
    Error::Arrow {
        stage: "features".into(),
        expected: expected.into(),
        found: found.into(),
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Arc<dyn Array>> {
    batch.column_by_name(name).ok_or_else(|| {
        arrow_err(
            format!("a column `{name}`"),
            format!(
                "columns {:?}",
                batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect::<Vec<_>>()
            ),
        )
    })
}

fn as_f64(batch: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    let a = cast(column(batch, name)?, &DataType::Float64)
        .map_err(|e| arrow_err(format!("`{name}` castable to double"), e.to_string()))?;
    let a = a.as_primitive::<Float64Type>();
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
        .collect())
}

fn strings(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let a = utf8(batch, name)?;
    Ok((0..a.len())
        .map(|i| text(&a, i).map(str::to_owned))
        .collect())
}

/// A column as a Utf8 array (cast when Spark sent another type); read values from it
/// with [`text`] without allocating.
fn utf8(batch: &RecordBatch, name: &str) -> Result<Arc<dyn Array>> {
    cast(column(batch, name)?, &DataType::Utf8)
        .map_err(|e| arrow_err(format!("`{name}` as text"), e.to_string()))
}

fn text(a: &Arc<dyn Array>, i: usize) -> Option<&str> {
    let a = a.as_string::<i32>();
    (!a.is_null(i)).then(|| a.value(i))
}

/// The dictionary code of `v`, adding it on first sight (allocates only then).
fn intern(map: &mut HashMap<String, u32>, v: &str) -> u32 {
    match map.get(v) {
        Some(&code) => code,
        None => {
            let code = map.len() as u32;
            map.insert(v.to_owned(), code);
            code
        }
    }
}

/// Builds the feature table from the batches of `select * from features where
/// in_sample`, sorted by (time, interaction id) so every later stage is deterministic
/// whatever order Spark returned the rows in.
pub fn feature_table(batches: &[RecordBatch], categoricals: &[String]) -> Result<FeatureTable> {
    let mut t = FeatureTable {
        numeric: vec![Vec::new(); NUMERIC_FEATURES.len()],
        categoricals: categoricals
            .iter()
            .map(|n| Categorical {
                name: n.clone(),
                dictionary: Vec::new(),
                codes: Vec::new(),
            })
            .collect(),
        ..Default::default()
    };
    let mut cat_maps: Vec<HashMap<String, u32>> = vec![HashMap::new(); categoricals.len()];
    let mut desc_map: HashMap<String, u32> = HashMap::new();
    // Descriptions in arrival order, as compressed sparse rows.
    let mut desc_rows = DescriptionSets {
        offsets: vec![0],
        ..Default::default()
    };
    for b in batches {
        let ids = utf8(b, "interaction_id")?;
        let members = utf8(b, "member_id")?;
        for i in 0..b.num_rows() {
            let (Some(id), Some(m)) = (text(&ids, i), text(&members, i)) else {
                return Err(arrow_err(
                    "non-null interaction and member ids",
                    format!("a null in row {i}"),
                ));
            };
            t.interaction_id.push(id.to_owned());
            t.member_id.push(m.to_owned());
        }
        let ts = cast(column(b, "interaction_ts")?, &DataType::Int64)
            .map_err(|e| arrow_err("interaction_ts as a timestamp", e.to_string()))?;
        let ts = ts.as_primitive::<Int64Type>();
        // Spark sends microsecond timestamps; cast to Int64 keeps the unit's count.
        let unit_to_us = match column(b, "interaction_ts")?.data_type() {
            DataType::Timestamp(arrow::datatypes::TimeUnit::Second, _) => 1_000_000,
            DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, _) => 1_000,
            DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, _) => 0,
            _ => 1,
        };
        for i in 0..ts.len() {
            let v = ts.value(i);
            t.interaction_ts_us.push(if unit_to_us == 0 {
                v / 1000
            } else {
                v * unit_to_us
            });
        }
        for v in as_f64(b, "label")? {
            t.label.push(u8::from(v == 1.0));
        }
        let split = utf8(b, "split")?;
        for i in 0..b.num_rows() {
            t.split.push(match text(&split, i) {
                Some("train") => Split::Train,
                Some("test") => Split::Test,
                other => return Err(arrow_err("split train or test", format!("{other:?}"))),
            });
        }
        t.sample_weight.extend(as_f64(b, "sample_weight")?);
        for (j, name) in NUMERIC_FEATURES.iter().enumerate() {
            t.numeric[j].extend(as_f64(b, name)?);
        }
        let list = cast(
            column(b, "descriptions")?,
            &DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        )
        .map_err(|e| arrow_err("descriptions as array<string>", e.to_string()))?;
        let list: &ListArray = list.as_list::<i32>();
        for i in 0..list.len() {
            if !list.is_null(i) {
                let values = list.value(i);
                let values = values.as_string::<i32>();
                for k in 0..values.len() {
                    if values.is_null(k) {
                        continue;
                    }
                    desc_rows.ids.push(intern(&mut desc_map, values.value(k)));
                }
            }
            desc_rows.offsets.push(desc_rows.ids.len());
        }
        for (c, name) in categoricals.iter().enumerate() {
            let values = utf8(b, name)?;
            for i in 0..b.num_rows() {
                let v = text(&values, i).unwrap_or(MISSING_CATEGORY);
                let code = intern(&mut cat_maps[c], v);
                t.categoricals[c].codes.push(code);
            }
        }
    }
    for (c, map) in cat_maps.into_iter().enumerate() {
        let mut dict = vec![String::new(); map.len()];
        for (k, v) in map {
            dict[v as usize] = k;
        }
        t.categoricals[c].dictionary = dict;
    }
    let mut dict = vec![String::new(); desc_map.len()];
    for (k, v) in desc_map {
        dict[v as usize] = k;
    }
    t.descriptions.dictionary = dict;

    // Deterministic order: by time, then interaction id.
    let mut order: Vec<usize> = (0..t.len()).collect();
    order.sort_by(|&a, &b| {
        t.interaction_ts_us[a]
            .cmp(&t.interaction_ts_us[b])
            .then_with(|| t.interaction_id[a].cmp(&t.interaction_id[b]))
    });
    Ok(permute(t, &order, desc_rows))
}

fn permute(mut t: FeatureTable, order: &[usize], desc_rows: DescriptionSets) -> FeatureTable {
    fn pick<T: Copy>(v: &[T], order: &[usize]) -> Vec<T> {
        order.iter().map(|&i| v[i]).collect()
    }
    /// Moves the strings into their new order (no copy of the text).
    fn take(v: &mut [String], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| std::mem::take(&mut v[i])).collect()
    }
    let mut offsets = Vec::with_capacity(order.len() + 1);
    let mut ids = Vec::with_capacity(desc_rows.ids.len());
    offsets.push(0);
    for &i in order {
        ids.extend_from_slice(&desc_rows.ids[desc_rows.offsets[i]..desc_rows.offsets[i + 1]]);
        offsets.push(ids.len());
    }
    FeatureTable {
        interaction_id: take(&mut t.interaction_id, order),
        member_id: take(&mut t.member_id, order),
        interaction_ts_us: pick(&t.interaction_ts_us, order),
        label: pick(&t.label, order),
        split: pick(&t.split, order),
        sample_weight: pick(&t.sample_weight, order),
        numeric: t.numeric.iter().map(|c| pick(c, order)).collect(),
        descriptions: DescriptionSets {
            dictionary: t.descriptions.dictionary,
            offsets,
            ids,
        },
        categoricals: t
            .categoricals
            .into_iter()
            .map(|c| Categorical {
                codes: pick(&c.codes, order),
                ..c
            })
            .collect(),
    }
}

/// One row scored in Spark: ids, time, label, standardized features and score.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScoredRow {
    pub(crate) interaction_id: String,
    pub(crate) member_id: String,
    pub(crate) interaction_ts_us: i64,
    pub(crate) label: u8,
    pub(crate) z: Vec<f64>,
    pub(crate) score: f64,
}

/// Reads the rows of `sql/score/in_spark_scores.sql`, in the order Spark sent them
/// (the query orders them by score).
pub(crate) fn scored_rows(batches: &[RecordBatch]) -> Result<Vec<ScoredRow>> {
    let mut out = Vec::new();
    for b in batches {
        let ids = strings(b, "interaction_id")?;
        let members = strings(b, "member_id")?;
        let ts = cast(column(b, "interaction_ts")?, &DataType::Int64)
            .map_err(|e| arrow_err("interaction_ts as a timestamp", e.to_string()))?;
        let ts = ts.as_primitive::<Int64Type>();
        let labels = as_f64(b, "label")?;
        let scores = as_f64(b, "score")?;
        let z = cast(
            column(b, "z")?,
            &DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
        )
        .map_err(|e| arrow_err("z as array<double>", e.to_string()))?;
        let z = z.as_list::<i32>();
        for i in 0..b.num_rows() {
            let zi = z.value(i);
            let zi = zi.as_primitive::<Float64Type>();
            out.push(ScoredRow {
                interaction_id: ids[i].clone().unwrap_or_default(),
                member_id: members[i].clone().unwrap_or_default(),
                interaction_ts_us: ts.value(i),
                label: u8::from(labels[i] == 1.0),
                z: (0..zi.len()).map(|k| zi.value(k)).collect(),
                score: scores[i],
            });
        }
    }
    Ok(out)
}

/// Counts that decide whether the events can be used (from `sql/checks/event_checks.sql`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventChecks {
    pub n_events: i64,
    pub(crate) null_member: i64,
    pub(crate) null_interaction: i64,
    pub(crate) null_ts: i64,
    pub(crate) bad_label: i64,
    pub(crate) future_ts: i64,
    /// Events identical in every standardized column to another event.
    pub(crate) duplicate_events: i64,
    pub(crate) n_interactions: i64,
    pub(crate) n_interaction_members: i64,
    pub(crate) n_members: i64,
    pub(crate) min_ts_us: Option<i64>,
    pub(crate) max_ts_us: Option<i64>,
}

/// Reads the one-row result of the event checks.
pub(crate) fn event_checks(batches: &[RecordBatch]) -> Result<EventChecks> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Err(arrow_err("one row of event checks", "no rows"));
    };
    let int = |name: &str| -> Result<Option<i64>> {
        let a = cast(column(b, name)?, &DataType::Int64)
            .map_err(|e| arrow_err(format!("`{name}` as bigint"), e.to_string()))?;
        let a = a.as_primitive::<Int64Type>();
        Ok((!a.is_null(0)).then(|| a.value(0)))
    };
    Ok(EventChecks {
        n_events: int("n_events")?.unwrap_or(0),
        null_member: int("null_member")?.unwrap_or(0),
        null_interaction: int("null_interaction")?.unwrap_or(0),
        null_ts: int("null_ts")?.unwrap_or(0),
        bad_label: int("bad_label")?.unwrap_or(0),
        future_ts: int("future_ts")?.unwrap_or(0),
        duplicate_events: int("duplicate_events")?.unwrap_or(0),
        n_interactions: int("n_interactions")?.unwrap_or(0),
        n_interaction_members: int("n_interaction_members")?.unwrap_or(0),
        n_members: int("n_members")?.unwrap_or(0),
        min_ts_us: int("min_ts_us")?,
        max_ts_us: int("max_ts_us")?,
    })
}
