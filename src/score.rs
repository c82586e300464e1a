//! Daily scoring with a saved model, pure parts: the scoring window, the check that a
//! model fits the configured data, and the compilation of the fitted model into Spark
//! SQL for `score --in-spark`.
//!
//! The compiled expression mirrors `encode::features` and `train::TrainedModel`
//! step by step (same transforms, same constants, same order), so Spark and Rust
//! agree to floating-point rounding. Strings from data (descriptions, categories)
//! enter the SQL as hex literals decoded on the server — no quoting to get wrong —
//! and numbers as round-trip double literals.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::ModelFile;
use crate::config::Settings;
use crate::encode::NumericTransform;
use crate::error::{Error, Result};
use crate::table::MISSING_CATEGORY;

/// The interactions to score: `[start, end)` in microseconds, and the first event
/// time the features need (`start - history_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScoringWindow {
    pub(crate) start: NaiveDate,
    pub(crate) end: NaiveDate,
}

fn day_us(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_micros())
        .unwrap_or_default()
}

impl ScoringWindow {
    /// From `--date D` (one day) or `--from A [--to B]` (B exclusive, default A + 1).
    pub(crate) fn parse(date: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Self> {
        let parse = |flag: &str, s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                Error::config(
                    flag,
                    "a date YYYY-MM-DD",
                    format!("{s:?}"),
                    "write the date as for example 2024-11-05",
                )
            })
        };
        let start = match (date, from) {
            (Some(d), None) => parse("--date", d)?,
            (None, Some(f)) => parse("--from", f)?,
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "--date / --from",
                    "one of them",
                    "both",
                    "pass --date D for one day, or --from A --to B for a range",
                ));
            }
            (None, None) => {
                return Err(Error::config(
                    "--date",
                    "the day to score",
                    "nothing",
                    "pass --date YYYY-MM-DD, or --from A --to B",
                ));
            }
        };
        let end = match (date, to) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "--to",
                    "--to only with --from",
                    "--to with --date",
                    "use --from A --to B for a range",
                ));
            }
            (_, Some(t)) => parse("--to", t)?,
            _ => start.succ_opt().unwrap_or(start),
        };
        if end <= start {
            return Err(Error::config(
                "--to",
                format!("a date after {start}"),
                end,
                "the window is [--from, --to): --to is exclusive",
            ));
        }
        Ok(ScoringWindow { start, end })
    }

    pub(crate) fn start_us(&self) -> i64 {
        day_us(self.start)
    }
    pub(crate) fn end_us(&self) -> i64 {
        day_us(self.end)
    }
    /// First event the features of the window need.
    pub(crate) fn read_from_us(&self, history_days: u32) -> i64 {
        self.start_us() - i64::from(history_days) * 86_400_000_000
    }
}

/// Refuses a model whose feature spec does not match the configured data: the
/// categoricals it was trained on must be the ones the config maps, in order.
pub(crate) fn check_model_fits(model: &ModelFile, p: &Settings) -> Result<()> {
    let readable = crate::artifact::OLDEST_FORMAT_VERSION..=crate::MODEL_FORMAT_VERSION;
    if !readable.contains(&model.format_version) {
        return Err(Error::data(
            format!(
                "model.json has format version {}, this rarecall reads {} to {}",
                model.format_version,
                readable.start(),
                readable.end()
            ),
            "retrain the model with this version (rarecall run)",
        ));
    }
    let want: Vec<&str> = model.categoricals.iter().map(|(_, n)| n.as_str()).collect();
    let have: Vec<&str> = p
        .columns
        .categoricals
        .iter()
        .map(|(_, n)| n.as_str())
        .collect();
    if want != have {
        return Err(Error::data(
            format!("the model was trained on categoricals {want:?}, the config maps {have:?}"),
            "map the same categoricals in [columns] as the run that trained the model, or retrain",
        ));
    }
    let te: Vec<&str> = model
        .trained
        .encoder
        .target
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    if te != want {
        return Err(Error::data(
            format!(
                "model.json is inconsistent: target encoders for {te:?}, categoricals {want:?}"
            ),
            "retrain the model (rarecall run); do not edit model.json by hand",
        ));
    }
    let n = model.trained.encoder.feature_names.len();
    if model.trained.model.coef.len() != n || model.trained.encoder.scaler.mean.len() != n {
        return Err(Error::data(
            format!(
                "model.json is inconsistent: {} features, {} coefficients, {} scaler columns",
                n,
                model.trained.model.coef.len(),
                model.trained.encoder.scaler.mean.len()
            ),
            "retrain the model (rarecall run); do not edit model.json by hand",
        ));
    }
    Ok(())
}

/// A string as a Spark SQL expression that cannot be anything but that string:
/// `decode(unhex('<utf-8 hex>'), 'UTF-8')`.
pub fn sql_string(s: &str) -> String {
    let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
    format!("decode(unhex('{hex}'), 'UTF-8')")
}

/// A finite double as a Spark SQL double literal that parses back to the same bits
/// (Rust's `{:e}` is the shortest round-trip form).
pub fn sql_double(v: f64) -> Result<String> {
    if !v.is_finite() {
        return Err(Error::data(
            format!("model.json holds a non-finite number ({v})"),
            "retrain the model (rarecall run)",
        ));
    }
    // Negative literals are parenthesized so that `x - (-1e0d)` can never read as a
    // `--` comment, whatever the surrounding text.
    if v.is_sign_negative() {
        Ok(format!("({v:e}d)"))
    } else {
        Ok(format!("{v:e}d"))
    }
}

/// The fragments of `sql/score/in_spark_scores.sql` for a model. `top` limits the
/// rows returned to the N highest scores (ties by interaction id); otherwise rows at
/// or above the model's threshold come back (none when it has no threshold), capped
/// at `cap` the same way.
pub(crate) fn compile(
    model: &ModelFile,
    top: Option<usize>,
    cap: Option<usize>,
) -> Result<BTreeMap<&'static str, String>> {
    // Trees are not compiled: a few hundred trees of depth 5 make SQL CASE
    // expressions of tens of thousands of branches, and Spark's doubles would have to
    // follow forust's split comparisons exactly to reproduce the scores.
    if let Some(trees) = &model.trained.trees {
        return Err(Error::data(
            format!(
                "model {} is gradient-boosted trees ({} rounds, model.primary = \"gbdt\"); trees score in Rust only",
                model.run_id, trees.rounds
            ),
            "drop --in-spark: `rarecall score` without it scores the trees in Rust (Spark still builds the features)",
        ));
    }
    let enc = &model.trained.encoder;
    let mut raw: Vec<String> = Vec::with_capacity(enc.feature_names.len());
    for c in &enc.numeric {
        let x = format!(
            "cast({} as double)",
            crate::sql::Ident::new("numeric", &c.source)?.quoted()
        );
        raw.push(match c.transform {
            NumericTransform::Log1pCount => format!("log1p(greatest(coalesce({x}, 0.0d), 0.0d))"),
            NumericTransform::Log1pDays { missing_days } => format!(
                "log1p(greatest(coalesce({x}, {}), 0.0d))",
                sql_double(missing_days)?
            ),
            NumericTransform::IsMissing => format!("case when {x} is null then 1.0d else 0.0d end"),
            NumericTransform::Bin { lo, hi } => match hi {
                Some(h) => format!(
                    "case when {x} >= {} and {x} < {} then 1.0d else 0.0d end",
                    sql_double(lo)?,
                    sql_double(h)?
                ),
                None => format!("case when {x} >= {} then 1.0d else 0.0d end", sql_double(lo)?),
            },
            NumericTransform::Cyclic { period, cosine } => format!(
                "coalesce({}({x} * {}), 0.0d)",
                if cosine { "cos" } else { "sin" },
                sql_double(std::f64::consts::TAU / period)?
            ),
            NumericTransform::ShrunkLogitRate {
                ref denominator,
                prior,
                strength,
            } => {
                let n = format!(
                    "cast({} as double)",
                    crate::sql::Ident::new("numeric", denominator)?.quoted()
                );
                let r = format!(
                    "greatest(least((coalesce({x}, 0.0d) + {}) / (coalesce({n}, 0.0d) + {}), {}), {})",
                    sql_double(strength * prior)?,
                    sql_double(strength)?,
                    sql_double(1.0 - 1e-6)?,
                    sql_double(1e-6)?
                );
                format!("ln(({r}) / (1.0d - ({r})))")
            }
        });
    }
    let kept: Vec<String> = enc
        .multi_hot
        .columns()
        .iter()
        .map(|c| sql_string(&c.canonical))
        .collect();
    for k in &kept {
        raw.push(format!(
            "case when array_contains(descriptions, {k}) then 1.0d else 0.0d end"
        ));
    }
    let kept_array = if kept.is_empty() {
        "cast(array() as array<string>)".to_string()
    } else {
        format!("array({})", kept.join(", "))
    };
    raw.push(format!(
        "case when exists(descriptions, d -> trim(d) != '' and not array_contains({kept_array}, d)) then 1.0d else 0.0d end"
    ));
    for c in &enc.tokens.columns {
        raw.push(format!(
            "case when array_contains(description_tokens, {}) then 1.0d else 0.0d end",
            sql_string(&c.token)
        ));
    }
    for c in &enc.crosses.columns {
        let cond = format!(
            "cast({} as double)",
            crate::sql::Ident::new("numeric", c.with.source())?.quoted()
        );
        raw.push(format!(
            "case when array_contains(descriptions, {}) and coalesce({cond}, 0.0d) > 0.0d then 1.0d else 0.0d end",
            sql_string(&c.description)
        ));
    }
    for (name, te) in &enc.target {
        let col = format!(
            "coalesce({}, {})",
            crate::sql::Ident::new("categorical", name)?.quoted(),
            sql_string(MISSING_CATEGORY)
        );
        let mut case = format!("case {col}");
        for (cat, v) in &te.encodings {
            case.push_str(&format!(
                " when {} then {}",
                sql_string(cat),
                sql_double(*v)?
            ));
        }
        case.push_str(&format!(" else {} end", sql_double(te.target_mean)?));
        raw.push(case);
    }
    if raw.len() != enc.feature_names.len() {
        return Err(Error::data(
            format!(
                "model.json describes {} features but compiles to {}",
                enc.feature_names.len(),
                raw.len()
            ),
            "retrain the model (rarecall run)",
        ));
    }
    let standardized = raw
        .iter()
        .zip(enc.scaler.mean.iter().zip(&enc.scaler.scale))
        .map(|(r, (m, s))| {
            Ok(format!(
                "(({r}) - {}) / {}",
                sql_double(*m)?,
                sql_double(*s)?
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let coefs = model
        .trained
        .model
        .coef
        .iter()
        .map(|b| sql_double(*b))
        .collect::<Result<Vec<_>>>()?;
    let intercept = model.trained.model.intercept;
    let cal = model.trained.calibration;
    let order = "order by score desc, interaction_id asc";
    let selection = match (top, model.trained.threshold.threshold()) {
        (Some(n), _) => format!("{order} limit {n}"),
        (None, Some(t)) => match cap {
            Some(c) => format!("where score >= {} {order} limit {c}", sql_double(t)?),
            None => format!("where score >= {} {order}", sql_double(t)?),
        },
        (None, None) => "where false".to_string(),
    };
    Ok([
        (
            "description_tokens",
            format!(
                "flatten(transform(descriptions, d -> {}))",
                crate::encode::tokens::tokens_sql("d")
            ),
        ),
        (
            "standardized_features",
            format!("array({})", standardized.join(",\n            ")),
        ),
        ("coefficients", format!("array({})", coefs.join(", "))),
        ("intercept", sql_double(intercept)?),
        ("calibration_a", sql_double(cal.a)?),
        ("calibration_b", sql_double(cal.b)?),
        ("selection", selection),
    ]
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let w = ScoringWindow::parse(Some("2024-11-05"), None, None).unwrap();
        assert_eq!(w.end.to_string(), "2024-11-06");
        assert_eq!(w.read_from_us(1), w.start_us() - 86_400_000_000);
        let w = ScoringWindow::parse(None, Some("2024-10-01"), Some("2025-01-01")).unwrap();
        assert_eq!(w.start.to_string(), "2024-10-01");
        for (d, f, t) in [
            (None, Some("2024-10-01"), Some("2024-10-01")),
            (Some("x"), None, None),
            (None, None, None),
            (Some("2024-10-01"), Some("2024-10-01"), None),
        ] {
            assert!(ScoringWindow::parse(d, f, t).is_err());
        }
    }

    #[test]
    fn literals_round_trip_and_cannot_inject() {
        assert_eq!(sql_string("a'b"), "decode(unhex('612762'), 'UTF-8')");
        for v in [0.1, -1.0 / 3.0, 1e-300, 123456.789, 0.0] {
            let lit = sql_double(v).unwrap();
            let back: f64 = lit
                .trim_matches(|c| c == '(' || c == ')')
                .trim_end_matches('d')
                .parse()
                .unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{lit}");
        }
        assert!(sql_double(f64::NAN).is_err());
    }
}
