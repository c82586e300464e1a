//! Interaction (cross) features: a frequent description that carries risk, times a
//! history condition — "complaint and the member escalated before", "grievance and a
//! repeat call within 7 days". A linear model adds effects; these let a description
//! weigh more for a member with such a history.
//!
//! The descriptions crossed are the kept description flags with the largest weighted
//! count of positive training interactions (ties by name), fitted on the training
//! rows only.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::{ParamGuard, Valid, checked};

/// The history condition a description is crossed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CrossWith {
    /// `prior_escalations > 0`: an escalation within the history window.
    PriorEscalation,
    /// `calls_prev_7d > 0`: another interaction within the 7 days before.
    RepeatWithin7d,
}

impl CrossWith {
    const ALL: [CrossWith; 2] = [CrossWith::PriorEscalation, CrossWith::RepeatWithin7d];

    /// The feature-table column the condition reads.
    pub(crate) fn source(self) -> &'static str {
        match self {
            CrossWith::PriorEscalation => "prior_escalations",
            CrossWith::RepeatWithin7d => "calls_prev_7d",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            CrossWith::PriorEscalation => "prior_escalation",
            CrossWith::RepeatWithin7d => "repeat_7d",
        }
    }

    /// Whether the condition holds for a source value (null counts as 0).
    pub(crate) fn holds(self, v: f64) -> bool {
        v > 0.0
    }
}

/// Parameters: how many descriptions to cross with each condition (any number; 0 is no
/// crosses). [`ParamGuard::check`] gives the [`CrossValidParams`] that fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossParams {
    pub top_n: usize,
}

/// One cross column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CrossColumn {
    /// The canonical description (one of the kept description flags).
    pub(crate) description: String,
    pub(crate) with: CrossWith,
    pub(crate) name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FittedCrosses {
    pub(crate) columns: Vec<CrossColumn>,
}

/// Checked [`CrossParams`].
pub(crate) type CrossValidParams = Valid<CrossParams>;

impl ParamGuard for CrossParams {
    type Checked = CrossValidParams;

    /// Every `top_n` is valid.
    fn check_ref(&self) -> Result<()> {
        Ok(())
    }

    fn check(self) -> Result<CrossValidParams> {
        checked(self)
    }
}

impl CrossValidParams {
    /// `flags` are the kept description flags as (canonical, column name); `positive
    /// weight[k]` the weighted count of positive training interactions with flag `k`.
    pub(crate) fn fit(
        &self,
        flags: &[(String, String)],
        positive_weight: &[f64],
    ) -> Result<FittedCrosses> {
        if flags.len() != positive_weight.len() {
            return Err(Error::params(
                "positive_weight",
                format!("one per description flag ({})", flags.len()),
                positive_weight.len(),
            ));
        }
        let mut order: Vec<usize> = (0..flags.len())
            .filter(|&k| positive_weight[k] > 0.0)
            .collect();
        order.sort_by(|&a, &b| {
            positive_weight[b]
                .total_cmp(&positive_weight[a])
                .then(flags[a].1.cmp(&flags[b].1))
        });
        order.truncate(self.top_n);
        let columns = CrossWith::ALL
            .iter()
            .flat_map(|&with| {
                order.iter().map(move |&k| CrossColumn {
                    description: flags[k].0.clone(),
                    with,
                    name: format!("x_{}__{}", flags[k].1, with.suffix()),
                })
            })
            .collect();
        Ok(FittedCrosses { columns })
    }
}

impl FittedCrosses {
    pub(crate) fn n_features(&self) -> usize {
        self.columns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_riskiest_flags_are_crossed_with_each_condition() {
        let flags: Vec<(String, String)> = ["complaint", "eob", "grievance", "vision"]
            .iter()
            .map(|d| (d.to_string(), format!("pydesc_{d}")))
            .collect();
        let fitted = CrossParams { top_n: 2 }
            .check()
            .unwrap()
            .fit(&flags, &[30.0, 2.0, 30.0, 0.0])
            .unwrap();
        let names: Vec<&str> = fitted.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "x_pydesc_complaint__prior_escalation",
                "x_pydesc_grievance__prior_escalation",
                "x_pydesc_complaint__repeat_7d",
                "x_pydesc_grievance__repeat_7d",
            ]
        );
        // A flag without any positive is never crossed.
        let fitted = CrossParams { top_n: 9 }
            .check()
            .unwrap()
            .fit(&flags, &[0.0, 1.0, 0.0, 0.0])
            .unwrap();
        assert_eq!(fitted.n_features(), 2);
        assert!(CrossWith::PriorEscalation.holds(1.0));
        assert!(!CrossWith::RepeatWithin7d.holds(f64::NAN));
        assert!(
            CrossParams { top_n: 1 }
                .check()
                .unwrap()
                .fit(&flags, &[1.0])
                .is_err()
        );
    }
}
