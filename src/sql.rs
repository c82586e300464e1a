//! Loads the Spark SQL views of `sql/` (embedded in the binary, in run order) and binds
//! validated values into them. Pure: nothing here talks to Spark.
//!
//! Two kinds of holes, both declared in each file's header comment:
//! - `{{ name }}` fragments: identifiers from config, validated and back-quoted
//!   ([`Ident`]), or SQL built here from such identifiers. Nothing from data enters.
//! - `:name` parameters: values (dates, numbers) sent to Spark as typed literals
//!   through the Spark Connect `named_args`, never pasted into the text.
//!
//! The declared set and the bound set must match exactly, so a file that gains a hole
//! without the code binding it fails in unit tests, not on a cluster.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{DuplicatePolicy, Settings};
use crate::error::{Error, Result};
// In `ident` (a leaf, so that `config` need not import `sql`); re-exported here.
pub use crate::ident::Ident;

/// The view files in run order: (file stem, text). File stem = `NN_<view name>`.
const VIEW_FILES: &[(&str, &str)] = &[
    (
        "01_source_events",
        include_str!("../sql/01_source_events.sql"),
    ),
    (
        "02_descriptions",
        include_str!("../sql/02_descriptions.sql"),
    ),
    (
        "03_interactions",
        include_str!("../sql/03_interactions.sql"),
    ),
    (
        "04_member_history",
        include_str!("../sql/04_member_history.sql"),
    ),
    ("05_features", include_str!("../sql/05_features.sql")),
];

/// The event checks query (`sql/checks/event_checks.sql`): not a view, one row.
const EVENT_CHECKS: &str = include_str!("../sql/checks/event_checks.sql");

/// `sql/checks/normalization_audit.sql`: the descriptions with their counts taken
/// again without exact duplicate events.
const NORMALIZATION_AUDIT: &str = include_str!("../sql/checks/normalization_audit.sql");

/// The query of the normalization audit: the `descriptions` view, whose event counts
/// include every source row; with `recount_without_duplicates` (the drop policy, and
/// exact duplicates found), each raw value's events counted again after dropping the
/// duplicates (`select distinct *`, a shuffle of every event: only when it changes a
/// count).
pub(crate) fn render_normalization_audit(recount_without_duplicates: bool) -> Result<RenderedView> {
    if !recount_without_duplicates {
        return Ok(RenderedView {
            name: "normalization_audit".into(),
            sql: "select description_raw, description_clean, description_canonical, rule_name, event_count \
                  from descriptions order by event_count desc, description_raw asc nulls first"
                .into(),
            params: BTreeMap::new(),
        });
    }
    bind(
        "normalization_audit",
        "normalization_audit",
        NORMALIZATION_AUDIT,
        BTreeMap::new(),
        BTreeMap::new(),
    )
}

/// Renders the event checks (sums over the `descriptions` view's `checks` and counts
/// over `member_history`).
pub(crate) fn render_event_checks() -> Result<RenderedView> {
    bind(
        "event_checks",
        "event_checks",
        EVENT_CHECKS,
        BTreeMap::new(),
        BTreeMap::new(),
    )
}

/// A typed value bound to a `:name` parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    /// A null of timestamp type (an open bound).
    NullTimestamp,
    Double(f64),
    Long(i64),
}

impl std::fmt::Display for SqlValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlValue::Timestamp(us) => {
                let t = chrono::DateTime::from_timestamp_micros(*us).unwrap_or_default();
                write!(f, "timestamp'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
            }
            SqlValue::NullTimestamp => write!(f, "cast(null as timestamp)"),
            SqlValue::Double(v) => write!(f, "{v:?}d"),
            SqlValue::Long(v) => write!(f, "{v}L"),
        }
    }
}

/// One view ready to run: name, SQL text with fragments filled, parameter values.
#[derive(Debug, Clone)]
pub(crate) struct RenderedView {
    pub(crate) name: String,
    pub(crate) sql: String,
    pub(crate) params: BTreeMap<String, SqlValue>,
}

/// How the source's time and label columns are typed, which decides the expression
/// that standardizes them (from the schema check; the contract types by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SourceTypes {
    pub(crate) event_ts_is_string: bool,
}

/// Header declarations of a view file: the `{{ }}` fragments and `:params` it names.
fn declared(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let header: String = text
        .lines()
        .take_while(|l| l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    let frag_re = regex::Regex::new(r"\{\{\s*([a-z_]+)\s*\}\}").expect("static regex");
    let param_re = regex::Regex::new(r"--\s+:([a-z_]+)\s").expect("static regex");
    let frags = frag_re
        .captures_iter(&header)
        .map(|c| c[1].to_string())
        .collect();
    let params = param_re
        .captures_iter(&header)
        .map(|c| c[1].to_string())
        .collect();
    (frags, params)
}

/// Fills `{{ name }}` holes of the body (the header stays as written); every hole must
/// be bound and every binding used.
fn render(stem: &str, text: &str, fragments: &BTreeMap<&str, String>) -> Result<String> {
    let frag_re = regex::Regex::new(r"\{\{\s*([a-z_]+)\s*\}\}").expect("static regex");
    let header_len: usize = text
        .lines()
        .take_while(|l| l.starts_with("--"))
        .map(|l| l.len() + 1)
        .sum();
    let (header, body) = text.split_at(header_len.min(text.len()));
    let mut missing = Vec::new();
    let mut used = BTreeSet::new();
    let out = frag_re.replace_all(body, |c: &regex::Captures| {
        let name = &c[1];
        match fragments.get(name) {
            Some(v) => {
                used.insert(name.to_string());
                v.clone()
            }
            None => {
                missing.push(name.to_string());
                String::new()
            }
        }
    });
    let unused: Vec<_> = fragments.keys().filter(|k| !used.contains(**k)).collect();
    if !missing.is_empty() || !unused.is_empty() {
        return Err(Error::Spark {
            stage: stem.to_string(),
            message: format!("internal: SQL fragments unbound {missing:?} or unused {unused:?}"),
        });
    }
    Ok(format!("{header}{out}"))
}

/// Which events the `events` view reads: `[from, to)` in microseconds, open when None.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ReadWindow {
    pub(crate) from_us: Option<i64>,
    pub(crate) to_us: Option<i64>,
}

fn ts_or_null(v: Option<i64>) -> SqlValue {
    v.map(SqlValue::Timestamp)
        .unwrap_or(SqlValue::NullTimestamp)
}

/// Renders every view of the pipeline in run order; `now_us` is the run's clock
/// (events after it are counted as future events by the checks).
pub(crate) fn render_pipeline(
    p: &Settings,
    types: SourceTypes,
    read: ReadWindow,
    now_us: i64,
) -> Result<Vec<RenderedView>> {
    let c = &p.columns;
    let event_ts = if types.event_ts_is_string {
        format!("try_to_timestamp({})", c.event_ts.quoted())
    } else {
        format!("cast({} as timestamp)", c.event_ts.quoted())
    };
    let cat_select: String = c
        .categoricals
        .iter()
        .map(|(src, std)| format!(",\n        cast({} as string) as {std}", src.quoted()))
        .collect();
    let cat_fields: String = c
        .categoricals
        .iter()
        .map(|(_, std)| format!(",\n                '{std}', {std}"))
        .collect();
    // The most frequent non-null value of the interaction's shown events; ties go to
    // the smallest value (what `mode(col, true)` returns), computed on the event array
    // of the one aggregation: min of (-count, value) over its distinct values.
    let cat_modes: String = c
        .categoricals
        .iter()
        .map(|(_, std)| {
            let vals = format!("filter(transform(shown, e -> e.{std}), x -> x is not null)");
            format!(
                ",\n        array_min(transform(array_distinct({vals}), \
                 v -> named_struct('n', -size(filter({vals}, x -> x = v)), 'v', v))).v as {std}"
            )
        })
        .collect();
    let cat_cols: String = c
        .categoricals
        .iter()
        .map(|(_, std)| format!(",\n        {std}"))
        .collect();

    let mut views = Vec::new();
    for (stem, text) in VIEW_FILES {
        let name = stem
            .split_once('_')
            .map(|(_, n)| n)
            .unwrap_or(stem)
            .to_string();
        let mut frags: BTreeMap<&str, String> = BTreeMap::new();
        let mut params: BTreeMap<String, SqlValue> = BTreeMap::new();
        match name.as_str() {
            "source_events" => {
                frags.insert("member_id", c.member_id.quoted());
                frags.insert("interaction_id", c.interaction_id.quoted());
                frags.insert("description", c.description.quoted());
                frags.insert("event_ts", event_ts.clone());
                frags.insert("label", format!("try_cast({} as int)", c.label.quoted()));
                frags.insert("categoricals", cat_select.clone());
                params.insert("read_from".into(), ts_or_null(read.from_us));
                params.insert("read_to".into(), ts_or_null(read.to_us));
            }
            "descriptions" => {
                params.insert("now".into(), SqlValue::Timestamp(now_us));
            }
            "interactions" => {
                frags.insert("categorical_fields", cat_fields.clone());
                frags.insert("categorical_modes", cat_modes.clone());
                let dedupe = match p.duplicate_events {
                    DuplicatePolicy::Drop => "array_distinct(events)",
                    DuplicatePolicy::Keep | DuplicatePolicy::Error => "events",
                };
                frags.insert("dedupe", dedupe.to_string());
            }
            "member_history" => {
                frags.insert("categorical_columns", cat_cols.clone());
                // A validated whole number of days: safe as a literal.
                frags.insert(
                    "history_micros",
                    (i64::from(p.features.history_days) * 86_400_000_000).to_string(),
                );
            }
            "features" => {
                params.insert(
                    "split_boundary".into(),
                    SqlValue::Timestamp(p.split_boundary_micros()),
                );
                params.insert("neg_pos_ratio".into(), SqlValue::Double(p.neg_pos_ratio));
                params.insert("seed".into(), SqlValue::Long(p.seed));
                params.insert(
                    "validation_from".into(),
                    SqlValue::Timestamp(
                        p.split_boundary_micros()
                            - i64::from(p.model.validation_days) * 86_400_000_000,
                    ),
                );
            }
            _ => {}
        }
        views.push(bind(stem, &name, text, frags, params)?);
    }
    Ok(views)
}

/// Checks the bindings against the file's declarations and renders it.
fn bind(
    stem: &str,
    name: &str,
    text: &str,
    frags: BTreeMap<&str, String>,
    params: BTreeMap<String, SqlValue>,
) -> Result<RenderedView> {
    let (decl_frags, decl_params) = declared(text);
    let bound_frags: BTreeSet<String> = frags.keys().map(|k| k.to_string()).collect();
    let bound_params: BTreeSet<String> = params.keys().cloned().collect();
    if decl_frags != bound_frags || decl_params != bound_params {
        return Err(Error::Spark {
            stage: stem.to_string(),
            message: format!(
                "internal: header declares fragments {decl_frags:?} and params {decl_params:?}, code binds {bound_frags:?} and {bound_params:?}"
            ),
        });
    }
    let sql = render(stem, text, &frags)?;
    Ok(RenderedView {
        name: name.to_string(),
        sql,
        params,
    })
}

/// `sql/score/scoring_window.sql`: the interactions of `[start, end)` with features.
const SCORING_WINDOW: &str = include_str!("../sql/score/scoring_window.sql");
/// `sql/score/in_spark_scores.sql`: the model compiled to SQL.
const IN_SPARK_SCORES: &str = include_str!("../sql/score/in_spark_scores.sql");

/// Renders the scoring window view.
pub(crate) fn render_scoring_window(start_us: i64, end_us: i64) -> Result<RenderedView> {
    let params = [
        ("window_start".to_string(), SqlValue::Timestamp(start_us)),
        ("window_end".to_string(), SqlValue::Timestamp(end_us)),
    ]
    .into();
    bind(
        "scoring_window",
        "scoring_window",
        SCORING_WINDOW,
        BTreeMap::new(),
        params,
    )
}

/// Renders the in-Spark scoring query from compiled fragments (see `score`).
pub(crate) fn render_in_spark_scores(frags: BTreeMap<&str, String>) -> Result<RenderedView> {
    bind(
        "in_spark_scores",
        "in_spark_scores",
        IN_SPARK_SCORES,
        frags,
        BTreeMap::new(),
    )
}

/// The text `check --dry-run` prints: each view with its parameter values.
pub(crate) fn dry_run_text(views: &[RenderedView]) -> String {
    let mut out = String::new();
    for v in views {
        out.push_str(&format!("-- ===== view {} =====\n", v.name));
        for (k, val) in &v.params {
            out.push_str(&format!("-- param :{k} = {val}\n"));
        }
        out.push_str(&v.sql);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings_from_toml;

    #[test]
    fn every_view_renders_with_all_holes_bound() {
        let p = settings_from_toml(
            "[source]\npath = \"/e\"\n[columns]\ncategoricals = [\"CHANNEL\", \"plan type\"]\n",
        )
        .unwrap();
        let views = render_pipeline(&p, SourceTypes::default(), ReadWindow::default(), 0).unwrap();
        let names: Vec<_> = views.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "source_events",
                "descriptions",
                "interactions",
                "member_history",
                "features"
            ]
        );
        for v in &views {
            let body: String = v.sql.lines().filter(|l| !l.starts_with("--")).collect();
            assert!(!body.contains("{{"), "{}: {}", v.name, v.sql);
        }
        assert!(
            views[0]
                .sql
                .contains("cast(`plan type` as string) as cat_plan_type")
        );
        // The mode with mode(col, true)'s tie rule: min of (-count, value).
        assert!(views[2].sql.contains(
            "v -> named_struct('n', -size(filter(filter(transform(shown, e -> e.cat_channel), x -> x is not null), x -> x = v)), 'v', v))).v as cat_channel"
        ));
        assert!(views[2].sql.contains("array_distinct(events) as kept"));
        assert_eq!(
            views[4].params["split_boundary"].to_string(),
            "timestamp'2024-10-01 00:00:00.000000'"
        );
    }

    #[test]
    fn string_timestamps_are_parsed_not_cast() {
        let p = settings_from_toml("[source]\npath = \"/e\"\n").unwrap();
        let v = render_pipeline(
            &p,
            SourceTypes {
                event_ts_is_string: true,
            },
            ReadWindow::default(),
            0,
        )
        .unwrap();
        assert!(v[0].sql.contains("try_to_timestamp(`event_ts`)"));
    }

    #[test]
    fn unbound_or_unused_fragments_fail() {
        let mut f = BTreeMap::new();
        assert!(render("t", "-- h\nselect {{ a }}", &f).is_err());
        f.insert("a", "1".to_string());
        f.insert("b", "2".to_string());
        assert!(render("t", "-- h\nselect {{ a }}", &f).is_err());
    }

    #[test]
    fn the_audit_counts_again_without_duplicates_only_when_asked() {
        let plain = render_normalization_audit(false).unwrap();
        assert!(plain.sql.starts_with("select description_raw,"));
        assert!(
            !plain.sql.contains("checks"),
            "the event checks' counts stay out of the audit"
        );
        assert!(!plain.sql.contains("distinct"));
        let recount = render_normalization_audit(true).unwrap();
        assert!(recount.sql.contains("select distinct * from source_events"));
        assert!(recount.sql.contains("<=>"), "a null raw value joins too");
        assert!(recount.params.is_empty());
    }

    #[test]
    fn files_are_lower_case_with_a_final_cte() {
        for (stem, text) in VIEW_FILES {
            let body: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(body.contains("final as ("), "{stem}");
            assert!(body.trim_end().ends_with("select * from final"), "{stem}");
            let code: String = body.split('\'').step_by(2).collect();
            assert_eq!(
                code,
                code.to_lowercase(),
                "{stem} has upper case outside strings"
            );
        }
    }
}
