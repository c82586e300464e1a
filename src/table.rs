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

mod numeric_rows;
mod str_column;
pub use numeric_rows::NumericRows;
pub use str_column::StrColumn;

/// Numeric feature columns of `sql/04_member_history.sql`, in order.
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
    pub interaction_id: StrColumn,
    pub member_id: StrColumn,
    pub interaction_ts_us: Vec<i64>,
    pub label: Vec<u8>,
    pub split: Vec<Split>,
    pub sample_weight: Vec<f64>,
    /// Row `i`'s `NUMERIC_FEATURES[j]` is `numeric.get(i, j)`; null is NaN.
    pub numeric: NumericRows,
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

    /// Takes every row out and returns them, leaving the dictionaries: the training
    /// rows go once they are encoded (issue 17), and the test window appended later
    /// keeps the codes and the distinct counts one table of both would have.
    pub(crate) fn take_rows(&mut self) -> FeatureTable {
        let rows = std::mem::take(self);
        self.numeric = NumericRows::new(rows.numeric.width());
        self.descriptions.dictionary = rows.descriptions.dictionary.clone();
        self.categoricals = rows
            .categoricals
            .iter()
            .map(|c| Categorical {
                name: c.name.clone(),
                dictionary: c.dictionary.clone(),
                codes: Vec::new(),
            })
            .collect();
        rows
    }

    /// Appends `later`'s rows after this table's: the test window, pulled once the
    /// model is trained, after the training rows (so the client never holds the test
    /// window beside the training matrix). Its dictionary codes are mapped into this
    /// table's dictionaries, new values appended. Every row of `later` must sort
    /// after every row here (time, then interaction id), as [`FeatureTableBuilder`]
    /// sorts, so the result is the table one pull of both would have given.
    pub(crate) fn append(&mut self, later: FeatureTable) -> Result<()> {
        let names = |t: &FeatureTable| -> Vec<String> {
            t.categoricals.iter().map(|c| c.name.clone()).collect()
        };
        if names(self) != names(&later) {
            return Err(arrow_err(
                format!("the categoricals {:?} of the first pull", names(self)),
                format!("{:?} in the second", names(&later)),
            ));
        }
        if self.numeric.width() != later.numeric.width() {
            return Err(arrow_err(
                format!(
                    "{} numeric columns in the second pull",
                    self.numeric.width()
                ),
                later.numeric.width().to_string(),
            ));
        }
        fn key(t: &FeatureTable, i: usize) -> (i64, &str) {
            (t.interaction_ts_us[i], &t.interaction_id[i])
        }
        if let (Some(last), false) = (self.len().checked_sub(1), later.is_empty())
            && key(self, last) > key(&later, 0)
        {
            return Err(arrow_err(
                "the second pull's rows after the first's (time, then interaction id)",
                format!(
                    "interaction {:?} before {:?}",
                    &later.interaction_id[0], &self.interaction_id[last]
                ),
            ));
        }
        /// Codes of `later`'s dictionary in `base`'s, adding the values `base` lacks
        /// (interned as the builder interns: a new value takes the next code).
        fn remap(base: &mut Vec<String>, later: Vec<String>) -> Vec<u32> {
            let mut at: HashMap<String, u32> = base
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), i as u32))
                .collect();
            later
                .into_iter()
                .map(|v| {
                    let code = intern(&mut at, &v);
                    if code as usize == base.len() {
                        base.push(v);
                    }
                    code
                })
                .collect()
        }
        let FeatureTable {
            interaction_id,
            member_id,
            interaction_ts_us,
            label,
            split,
            sample_weight,
            numeric,
            descriptions,
            categoricals,
        } = later;
        // Into a table without rows (the training rows taken out), the later table's
        // columns move in whole: no second copy of the test window while appending.
        fn join<T>(mine: &mut Vec<T>, theirs: Vec<T>) {
            if mine.is_empty() {
                *mine = theirs;
            } else {
                mine.extend(theirs);
            }
        }
        if self.is_empty() {
            self.interaction_id = interaction_id;
            self.member_id = member_id;
        } else {
            self.interaction_id.extend(interaction_id.iter());
            self.member_id.extend(member_id.iter());
        }
        join(&mut self.interaction_ts_us, interaction_ts_us);
        join(&mut self.label, label);
        join(&mut self.split, split);
        join(&mut self.sample_weight, sample_weight);
        self.numeric.append(numeric);
        let codes = remap(&mut self.descriptions.dictionary, descriptions.dictionary);
        let base = self.descriptions.ids.len();
        let mut ids = descriptions.ids;
        ids.iter_mut().for_each(|id| *id = codes[*id as usize]);
        join(&mut self.descriptions.ids, ids);
        if self.descriptions.offsets.len() <= 1 && !descriptions.offsets.is_empty() {
            self.descriptions.offsets = descriptions.offsets;
        } else {
            self.descriptions
                .offsets
                .extend(descriptions.offsets.iter().skip(1).map(|&o| base + o));
        }
        for (mine, theirs) in self.categoricals.iter_mut().zip(categoricals) {
            let codes = remap(&mut mine.dictionary, theirs.dictionary);
            let mut theirs_codes = theirs.codes;
            theirs_codes
                .iter_mut()
                .for_each(|c| *c = codes[*c as usize]);
            join(&mut mine.codes, theirs_codes);
        }
        Ok(())
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
    let mut b = FeatureTableBuilder::new(categoricals);
    for batch in batches {
        b.push(batch);
    }
    b.finish()
}

/// The feature table built one Arrow batch at a time, as the batches arrive from
/// Spark (`Spark::query_into`): each batch is converted and dropped, so the whole
/// result is never held twice, as Arrow and as the table (issue 17). The first bad
/// batch's error is kept and the later batches are ignored; [`Self::finish`]
/// returns it.
#[derive(Debug)]
pub struct FeatureTableBuilder {
    t: FeatureTable,
    categoricals: Vec<String>,
    cat_maps: Vec<HashMap<String, u32>>,
    desc_map: HashMap<String, u32>,
    /// Descriptions in arrival order, as compressed sparse rows.
    desc_rows: DescriptionSets,
    error: Option<Error>,
}

impl FeatureTableBuilder {
    pub fn new(categoricals: &[String]) -> FeatureTableBuilder {
        FeatureTableBuilder {
            t: FeatureTable {
                numeric: NumericRows::new(NUMERIC_FEATURES.len()),
                categoricals: categoricals
                    .iter()
                    .map(|n| Categorical {
                        name: n.clone(),
                        dictionary: Vec::new(),
                        codes: Vec::new(),
                    })
                    .collect(),
                ..Default::default()
            },
            categoricals: categoricals.to_vec(),
            cat_maps: vec![HashMap::new(); categoricals.len()],
            desc_map: HashMap::new(),
            desc_rows: DescriptionSets {
                offsets: vec![0],
                ..Default::default()
            },
            error: None,
        }
    }

    /// Rows received so far.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Back to the first `n` rows (a retried part of the pull); the dictionaries
    /// keep what they have seen, which only adds codes no row uses.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.t.len() {
            return;
        }
        let t = &mut self.t;
        t.interaction_id.truncate(n);
        t.member_id.truncate(n);
        t.interaction_ts_us.truncate(n);
        t.label.truncate(n);
        t.split.truncate(n);
        t.sample_weight.truncate(n);
        t.numeric.truncate(n);
        for c in &mut t.categoricals {
            c.codes.truncate(n);
        }
        self.desc_rows.ids.truncate(self.desc_rows.offsets[n]);
        self.desc_rows.offsets.truncate(n + 1);
    }

    /// Adds one batch's rows (nothing after an error).
    pub fn push(&mut self, b: &RecordBatch) {
        if self.error.is_none()
            && let Err(e) = self.add(b)
        {
            self.error = Some(e);
        }
    }

    fn add(&mut self, b: &RecordBatch) -> Result<()> {
        let t = &mut self.t;
        // Every column is read before any is appended: a bad batch adds no row, so
        // the columns never disagree in length.
        let ids = utf8(b, "interaction_id")?;
        let members = utf8(b, "member_id")?;
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
        let label = as_f64(b, "label")?;
        let split_col = utf8(b, "split")?;
        let mut split = Vec::with_capacity(b.num_rows());
        for i in 0..b.num_rows() {
            split.push(match text(&split_col, i) {
                Some("train") => Split::Train,
                Some("test") => Split::Test,
                other => return Err(arrow_err("split train or test", format!("{other:?}"))),
            });
        }
        let weight = as_f64(b, "sample_weight")?;
        let numeric: Vec<Vec<f64>> = NUMERIC_FEATURES
            .iter()
            .map(|name| as_f64(b, name))
            .collect::<Result<_>>()?;
        let list = cast(
            column(b, "descriptions")?,
            &DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        )
        .map_err(|e| arrow_err("descriptions as array<string>", e.to_string()))?;
        let list: &ListArray = list.as_list::<i32>();
        let cats: Vec<Arc<dyn Array>> = self
            .categoricals
            .iter()
            .map(|name| utf8(b, name))
            .collect::<Result<_>>()?;
        for i in 0..b.num_rows() {
            if text(&ids, i).is_none() || text(&members, i).is_none() {
                return Err(arrow_err(
                    "non-null interaction and member ids",
                    format!("a null in row {}", t.len() + i),
                ));
            }
        }
        for i in 0..b.num_rows() {
            t.interaction_id.push(text(&ids, i).unwrap_or_default());
            t.member_id.push(text(&members, i).unwrap_or_default());
        }
        for i in 0..ts.len() {
            let v = ts.value(i);
            t.interaction_ts_us.push(if unit_to_us == 0 {
                v / 1000
            } else {
                v * unit_to_us
            });
        }
        t.label.extend(label.iter().map(|&v| u8::from(v == 1.0)));
        t.split.extend(split);
        t.sample_weight.extend(weight);
        for i in 0..b.num_rows() {
            t.numeric.push_row(numeric.iter().map(|c| c[i]));
        }
        let desc_rows = &mut self.desc_rows;
        for i in 0..list.len() {
            if !list.is_null(i) {
                let values = list.value(i);
                let values = values.as_string::<i32>();
                for k in 0..values.len() {
                    if values.is_null(k) {
                        continue;
                    }
                    desc_rows
                        .ids
                        .push(intern(&mut self.desc_map, values.value(k)));
                }
            }
            desc_rows.offsets.push(desc_rows.ids.len());
        }
        for (c, values) in cats.iter().enumerate() {
            for i in 0..b.num_rows() {
                let v = text(values, i).unwrap_or(MISSING_CATEGORY);
                let code = intern(&mut self.cat_maps[c], v);
                t.categoricals[c].codes.push(code);
            }
        }
        Ok(())
    }

    /// The table, in its deterministic order, or the first batch's error.
    pub fn finish(self) -> Result<FeatureTable> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut t = self.t;
        for (c, map) in self.cat_maps.into_iter().enumerate() {
            let mut dict = vec![String::new(); map.len()];
            for (k, v) in map {
                dict[v as usize] = k;
            }
            t.categoricals[c].dictionary = dict;
        }
        let mut dict = vec![String::new(); self.desc_map.len()];
        for (k, v) in self.desc_map {
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
        Ok(permute(t, &order, self.desc_rows))
    }
}

fn permute(t: FeatureTable, order: &[usize], desc_rows: DescriptionSets) -> FeatureTable {
    /// Each column is consumed as it is reordered, so at most one column is held
    /// twice (the table is the client's largest object after the pull).
    fn pick<T: Copy>(v: Vec<T>, order: &[usize]) -> Vec<T> {
        order.iter().map(|&i| v[i]).collect()
    }
    /// The strings in their new order (one column's text is held twice, briefly).
    fn take(v: StrColumn, order: &[usize]) -> StrColumn {
        order.iter().map(|&i| &v[i]).collect()
    }
    let mut offsets = Vec::with_capacity(order.len() + 1);
    let mut ids = Vec::with_capacity(desc_rows.ids.len());
    offsets.push(0);
    for &i in order {
        ids.extend_from_slice(&desc_rows.ids[desc_rows.offsets[i]..desc_rows.offsets[i + 1]]);
        offsets.push(ids.len());
    }
    drop(desc_rows);
    FeatureTable {
        interaction_id: take(t.interaction_id, order),
        member_id: take(t.member_id, order),
        interaction_ts_us: pick(t.interaction_ts_us, order),
        label: pick(t.label, order),
        split: pick(t.split, order),
        sample_weight: pick(t.sample_weight, order),
        numeric: {
            let mut numeric = t.numeric;
            numeric.permute(order);
            numeric
        },
        descriptions: DescriptionSets {
            dictionary: t.descriptions.dictionary,
            offsets,
            ids,
        },
        categoricals: t
            .categoricals
            .into_iter()
            .map(|c| Categorical {
                codes: pick(c.codes, order),
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, Float64Array, Int32Array, ListBuilder, StringArray, StringBuilder,
        TimestampMicrosecondArray,
    };
    use arrow::datatypes::Schema;

    /// A features batch of rows `from..to`: interaction `i<k>` of member `m<k % 3>`
    /// at k seconds (so arrival order is not time order when batches come reversed).
    fn batch(from: usize, to: usize, null_member_at: Option<usize>) -> RecordBatch {
        let ks: Vec<usize> = (from..to).collect();
        let mut cols: Vec<(String, ArrayRef)> = vec![
            (
                "interaction_id".into(),
                Arc::new(StringArray::from_iter_values(
                    ks.iter().map(|k| format!("i{k:03}")),
                )),
            ),
            (
                "member_id".into(),
                Arc::new(StringArray::from(
                    ks.iter()
                        .map(|&k| (Some(k) != null_member_at).then(|| format!("m{}", k % 3)))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "interaction_ts".into(),
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    ks.iter().map(|&k| k as i64 * 1_000_000),
                )),
            ),
            (
                "label".into(),
                Arc::new(Int32Array::from_iter_values(
                    ks.iter().map(|&k| i32::from(k % 4 == 0)),
                )),
            ),
            (
                "split".into(),
                Arc::new(StringArray::from_iter_values(
                    ks.iter().map(|&k| if k < 6 { "train" } else { "test" }),
                )),
            ),
            (
                "sample_weight".into(),
                Arc::new(Float64Array::from_iter_values(ks.iter().map(|_| 1.5))),
            ),
        ];
        for (j, name) in NUMERIC_FEATURES.iter().enumerate() {
            let v: Vec<Option<f64>> = ks
                .iter()
                .map(|&k| (k % 5 != 0).then_some((k * j) as f64))
                .collect();
            cols.push((name.to_string(), Arc::new(Float64Array::from(v))));
        }
        let mut list = ListBuilder::new(StringBuilder::new());
        for &k in &ks {
            for d in ["billing", "claim", "dental"].iter().take(k % 4) {
                list.values().append_value(d);
            }
            list.append(k % 7 != 3);
        }
        cols.push(("descriptions".into(), Arc::new(list.finish())));
        cols.push((
            "cat_channel".into(),
            Arc::new(StringArray::from(
                ks.iter()
                    .map(|&k| (k % 6 != 1).then_some(["phone", "chat"][k % 2]))
                    .collect::<Vec<_>>(),
            )),
        ));
        let schema = Schema::new(
            cols.iter()
                .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|c| c.1).collect()).unwrap()
    }

    fn snapshot(t: &FeatureTable) -> String {
        let mut s = String::new();
        for i in 0..t.len() {
            let descs: Vec<&str> = t.descriptions.row(i).collect();
            let c = &t.categoricals[0];
            s += &format!(
                "{} {} {} {} {:?} {} {:?} {:?} {}\n",
                &t.interaction_id[i],
                &t.member_id[i],
                t.interaction_ts_us[i],
                t.label[i],
                t.split[i],
                t.sample_weight[i],
                t.numeric.row(i).to_vec(),
                descs,
                c.dictionary[c.codes[i] as usize],
            );
        }
        s
    }

    #[test]
    fn a_table_built_batch_by_batch_is_the_table_of_one_batch() {
        let cats = vec!["cat_channel".to_string()];
        let whole = feature_table(&[batch(0, 12, None)], &cats).unwrap();
        assert_eq!(whole.len(), 12);
        // The batches arrive in another order and sizes: the table is the same.
        let mut b = FeatureTableBuilder::new(&cats);
        for (from, to) in [(9, 12), (0, 1), (5, 9), (1, 5)] {
            b.push(&batch(from, to, None));
        }
        assert_eq!(b.len(), 12);
        let parts = b.finish().unwrap();
        assert_eq!(snapshot(&parts), snapshot(&whole));
        // A part received twice after a rollback (a retried query) counts once.
        let mut b = FeatureTableBuilder::new(&cats);
        b.push(&batch(0, 5, None));
        b.push(&batch(5, 9, None));
        b.truncate(5);
        assert_eq!(b.len(), 5);
        b.push(&batch(5, 9, None));
        b.truncate(99);
        b.push(&batch(9, 12, None));
        assert_eq!(snapshot(&b.finish().unwrap()), snapshot(&whole));
        assert_eq!(&whole.interaction_id[0], "i000");
        assert_eq!(whole.interaction_ts_us[11], 11_000_000);
        assert!(whole.numeric.get(5, 1).is_nan(), "a null number is NaN");
        assert_eq!(
            whole.descriptions.row(3).count(),
            0,
            "a null list is no description"
        );
        let missing = &whole.categoricals[0].dictionary[whole.categoricals[0].codes[1] as usize];
        assert_eq!(missing, MISSING_CATEGORY);
    }

    #[test]
    fn a_later_pull_appended_is_the_table_of_one_pull() {
        let cats = vec!["cat_channel".to_string()];
        let whole = feature_table(&[batch(0, 12, None)], &cats).unwrap();
        // The first pull has no "dental" and sees "phone" first; the second sees
        // "chat" first: codes are remapped, new values added.
        let mut first = feature_table(&[batch(0, 3, None)], &cats).unwrap();
        let second = feature_table(&[batch(11, 12, None), batch(3, 11, None)], &cats).unwrap();
        assert!(!first.descriptions.dictionary.contains(&"dental".into()));
        assert_eq!(second.categoricals[0].value(8), "chat");
        first.append(second).unwrap();
        assert_eq!(snapshot(&first), snapshot(&whole));
        // Onto an empty table.
        let mut empty = feature_table(&[], &cats).unwrap();
        empty.append(whole.clone()).unwrap();
        assert_eq!(snapshot(&empty), snapshot(&whole));
        // Onto a table whose rows were taken out (the training rows, once encoded):
        // the later rows, coded in the first pull's dictionaries.
        let mut taken = feature_table(&[batch(0, 3, None)], &cats).unwrap();
        let dictionary = taken.categoricals[0].dictionary.clone();
        assert_eq!(taken.take_rows().len(), 3);
        assert!(taken.is_empty());
        let later = feature_table(&[batch(3, 12, None)], &cats).unwrap();
        taken.append(later.clone()).unwrap();
        assert_eq!(snapshot(&taken), snapshot(&later));
        assert_eq!(
            taken.categoricals[0].dictionary[..dictionary.len()],
            dictionary[..]
        );
        // Rows that would not sort after the first pull's are refused.
        let mut late = feature_table(&[batch(6, 12, None)], &cats).unwrap();
        let early = feature_table(&[batch(0, 6, None)], &cats).unwrap();
        let e = late.append(early).unwrap_err().to_string();
        assert!(e.contains("after the first's"), "{e}");
        let mut other = feature_table(&[batch(0, 6, None)], &[]).unwrap();
        let e = other.append(whole).unwrap_err().to_string();
        assert!(e.contains("categoricals"), "{e}");
    }

    #[test]
    fn a_bad_batch_is_the_error_and_adds_no_row() {
        let cats = vec!["cat_channel".to_string()];
        let mut b = FeatureTableBuilder::new(&cats);
        b.push(&batch(0, 4, None));
        b.push(&batch(4, 8, Some(6)));
        assert_eq!(b.len(), 4, "the bad batch added nothing");
        b.push(&batch(8, 12, None));
        assert_eq!(b.len(), 4, "nothing after the error");
        let e = b.finish().unwrap_err().to_string();
        assert!(e.contains("non-null interaction and member ids"), "{e}");
        assert!(e.contains("row 6"), "{e}");
        let mut b = FeatureTableBuilder::new(&cats);
        b.push(&batch(0, 4, None).project(&[0, 1, 2]).unwrap());
        let e = b.finish().unwrap_err().to_string();
        assert!(e.contains("label"), "a missing column is named: {e}");
    }
}
