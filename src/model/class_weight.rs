//! Class weights: [`ClassWeight`] (`"balanced"`, `"none"` or explicit weights, the
//! config file's spelling) and the per-row weights it gives, as scikit-learn's
//! `class_weight` with and without `sample_weight`.

use serde::{Deserialize, Serialize};

use super::estimator::{check_labels, check_weights, class_totals, valid_c};
use crate::error::{Error, Result};
use crate::params::{ParamGuard, Valid, checked};

/// How rows of each class are weighted in the loss.
///
/// Serialized as `"balanced"`, `"none"` or `{ positive = .., negative = .. }`
/// (`negative` defaults to 1), the config file's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ClassWeightRepr", into = "ClassWeightRepr")]
pub enum ClassWeight {
    /// scikit-learn's `"balanced"`: `n_samples / (n_classes * bincount(y))`.
    Balanced,
    /// Every row weight 1.
    None,
    /// Fixed weights for the positive and negative class (finite, > 0).
    Explicit { positive: f64, negative: f64 },
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ClassWeightRepr {
    Name(String),
    Weights {
        positive: f64,
        #[serde(default = "one")]
        negative: f64,
    },
}

fn one() -> f64 {
    1.0
}

impl TryFrom<ClassWeightRepr> for ClassWeight {
    type Error = String;

    fn try_from(r: ClassWeightRepr) -> std::result::Result<Self, String> {
        let cw = match r {
            ClassWeightRepr::Name(s) => match s.trim().to_ascii_lowercase().as_str() {
                "balanced" => ClassWeight::Balanced,
                "none" => ClassWeight::None,
                _ => {
                    return Err(format!(
                        "class_weight: expected \"balanced\", \"none\" or {{ positive = .., negative = .. }}, found \"{s}\""
                    ));
                }
            },
            ClassWeightRepr::Weights { positive, negative } => {
                ClassWeight::Explicit { positive, negative }
            }
        };
        cw.check_ref().map_err(|e| e.to_string())?;
        Ok(cw)
    }
}

impl From<ClassWeight> for ClassWeightRepr {
    fn from(cw: ClassWeight) -> Self {
        match cw {
            ClassWeight::Balanced => ClassWeightRepr::Name("balanced".into()),
            ClassWeight::None => ClassWeightRepr::Name("none".into()),
            ClassWeight::Explicit { positive, negative } => {
                ClassWeightRepr::Weights { positive, negative }
            }
        }
    }
}

/// A checked [`ClassWeight`] (what the weights are computed from).
pub(crate) type ValidClassWeight = Valid<ClassWeight>;

impl ParamGuard for ClassWeight {
    type Checked = ValidClassWeight;

    /// Refuses explicit weights that are not finite and > 0.
    fn check_ref(&self) -> Result<()> {
        if let ClassWeight::Explicit { positive, negative } = *self {
            for (name, w) in [
                ("class_weight.positive", positive),
                ("class_weight.negative", negative),
            ] {
                if !valid_c(w) {
                    return Err(Error::params(name, "a finite number > 0", w));
                }
            }
        }
        Ok(())
    }

    fn check(self) -> Result<ValidClassWeight> {
        checked(self)
    }
}

impl ValidClassWeight {
    /// `(negative, positive)` class weights for labels `y` (0/1). With
    /// `sample_weight`, `Balanced` counts weighted rows, as scikit-learn's
    /// `compute_class_weight("balanced", .., sample_weight=..)` does (>= 1.6):
    /// `weight_k = sum(w) / (2 * sum_{y_i = k} w_i)`. `Balanced` refuses labels
    /// where a class is absent (or has zero total weight).
    pub fn class_weights(&self, y: &[f64], sample_weight: Option<&[f64]>) -> Result<(f64, f64)> {
        check_labels(y)?;
        match **self {
            ClassWeight::None => Ok((1.0, 1.0)),
            ClassWeight::Explicit { positive, negative } => Ok((negative, positive)),
            ClassWeight::Balanced => {
                let (neg, pos) = match sample_weight {
                    Some(w) => {
                        check_weights("sample_weight", w, y.len())?;
                        class_totals(y, w)
                    }
                    None => {
                        let pos = y.iter().filter(|&&v| v == 1.0).count() as f64;
                        (y.len() as f64 - pos, pos)
                    }
                };
                if pos <= 0.0 || neg <= 0.0 {
                    let absent = if pos <= 0.0 { "positive" } else { "negative" };
                    return Err(Error::data(
                        format!(
                            "class_weight \"balanced\" needs both classes, but no {absent} row is present"
                        ),
                        "widen the training window, or set model.class_weight to \"none\"",
                    ));
                }
                let total = neg + pos;
                Ok((total / (2.0 * neg), total / (2.0 * pos)))
            }
        }
    }

    /// One weight per row: its class weight (unweighted counts for `Balanced`).
    #[cfg(test)]
    pub(crate) fn sample_weights(&self, y: &[f64]) -> Result<Vec<f64>> {
        let (neg, pos) = self.class_weights(y, None)?;
        Ok(y.iter()
            .map(|&v| if v == 1.0 { pos } else { neg })
            .collect())
    }

    /// scikit-learn's `fit(X, y, sample_weight)` with this `class_weight`: class
    /// weights from weighted counts, multiplied into `sample_weight` row by row.
    #[cfg(test)]
    pub(crate) fn sample_weights_with(&self, y: &[f64], sample_weight: &[f64]) -> Result<Vec<f64>> {
        check_weights("sample_weight", sample_weight, y.len())?;
        let (neg, pos) = self.class_weights(y, Some(sample_weight))?;
        Ok(y.iter()
            .zip(sample_weight)
            .map(|(&v, &w)| w * if v == 1.0 { pos } else { neg })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{FIXTURES, Fixture, METRICS, Metrics};

    #[test]
    fn class_weights_match_scikit_learn() {
        let m: Metrics = serde_json::from_str(METRICS).unwrap();
        let fx: Fixture = serde_json::from_str(FIXTURES[2].1).unwrap();
        let (neg, pos) = ClassWeight::Balanced
            .check()
            .unwrap()
            .class_weights(&fx.y, None)
            .unwrap();
        assert!((neg - m.class_weight_balanced_rare[0]).abs() < 1e-12);
        assert!((pos - m.class_weight_balanced_rare[1]).abs() < 1e-12);
        let (neg, pos) = ClassWeight::Balanced
            .check()
            .unwrap()
            .class_weights(&fx.y, Some(&fx.sample_weight))
            .unwrap();
        assert!((neg - m.class_weight_balanced_rare_weighted[0]).abs() < 1e-12);
        assert!((pos - m.class_weight_balanced_rare_weighted[1]).abs() < 1e-12);
        let w = ClassWeight::Balanced
            .check()
            .unwrap()
            .sample_weights(&[1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
            .unwrap();
        assert_eq!(w, vec![0.75, 0.75, 0.75, 0.75, 1.5, 1.5]); // scikit-learn's doc example
        let cw = ClassWeight::Explicit {
            positive: 5.0,
            negative: 1.0,
        }
        .check()
        .unwrap();
        assert_eq!(cw.sample_weights(&[0.0, 1.0]).unwrap(), vec![1.0, 5.0]);
        assert_eq!(
            ClassWeight::None
                .check()
                .unwrap()
                .sample_weights(&[0.0, 1.0])
                .unwrap(),
            vec![1.0, 1.0]
        );
        assert!(
            ClassWeight::Balanced
                .check()
                .unwrap()
                .sample_weights(&[0.0, 0.0])
                .is_err()
        );
        assert!(
            ClassWeight::Balanced
                .check()
                .unwrap()
                .sample_weights(&[1.0])
                .is_err()
        );
        assert!(
            ClassWeight::None
                .check()
                .unwrap()
                .sample_weights(&[0.0, 2.0])
                .is_err()
        );
    }

    #[test]
    fn explicit_weights_out_of_range_name_the_weight() {
        for (cw, name) in [
            (
                ClassWeight::Explicit {
                    positive: 0.0,
                    negative: 1.0,
                },
                "class_weight.positive",
            ),
            (
                ClassWeight::Explicit {
                    positive: 2.0,
                    negative: f64::NAN,
                },
                "class_weight.negative",
            ),
        ] {
            let e = cw.check().unwrap_err();
            assert_eq!(crate::params::param_name(&e), Some(name), "{e}");
        }
    }

    #[test]
    fn class_weight_serde_spelling() {
        let parse = |s: &str| serde_json::from_str::<ClassWeight>(s);
        assert_eq!(parse("\"balanced\"").unwrap(), ClassWeight::Balanced);
        assert_eq!(parse("\"none\"").unwrap(), ClassWeight::None);
        assert_eq!(
            parse("{\"positive\": 5.0}").unwrap(),
            ClassWeight::Explicit {
                positive: 5.0,
                negative: 1.0
            }
        );
        assert!(parse("\"balance\"").is_err());
        assert!(parse("{\"positive\": -1.0}").is_err());
        for cw in [
            ClassWeight::Balanced,
            ClassWeight::None,
            ClassWeight::Explicit {
                positive: 3.0,
                negative: 0.5,
            },
        ] {
            let s = serde_json::to_string(&cw).unwrap();
            assert_eq!(parse(&s).unwrap(), cw);
        }
    }
}
