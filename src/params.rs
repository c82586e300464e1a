//! Parameters follow linfa's pattern (`linfa::ParamGuard`): `XParams` is the
//! unchecked builder (public fields, defaults), [`ParamGuard::check`] turns it into
//! `XValidParams`, and fitting takes the valid type, so every range is checked once,
//! before any work.
//!
//! - Each params type has one `check_ref` holding all its ranges. A value out of range
//!   is an [`Error::Params`] naming the parameter, the range expected and the value
//!   found. Composite parameters (`TrainParams`, `FeatureEncoderParams`,
//!   `GridSearchParams`) check their parts and name a part's parameter by its path
//!   (`encoder.multi_hot.top_n`, via [`Error::within`]).
//! - A leaf's checked type is [`Valid<XParams>`](Valid), read through `Deref`; only
//!   [`checked`] (which runs `check_ref`) builds one. A composite's checked type is its
//!   own struct of checked parts, built only by its `check`.
//! - `config` builds the params from the TOML file and flags and rewrites a params
//!   error into its config error, with the TOML key and flag of the parameter.
//!
//! Also here: [`ViewParams`], the values bound into the SQL views (`sql/`), which have
//! no Rust-side fit but ranges all the same.

use std::ops::Deref;

use crate::error::{Error, Result};

/// Parameters that are checked before use (linfa's `ParamGuard`).
pub trait ParamGuard: Sized {
    /// The checked parameters: `Valid<Self>` for a leaf, a struct of checked parts for
    /// a composite.
    type Checked;

    /// Every range of these parameters, in one place: `Ok` or the first
    /// [`Error::Params`] (linfa's `check_ref` returns the checked value; here it only
    /// checks, and [`Self::check`] returns it). A composite's ranges are in its
    /// `check`, which builds its checked parts, and `check_ref` runs that on a copy.
    fn check_ref(&self) -> Result<()>;

    /// Checks once and returns the checked parameters, the only way to get them (a
    /// leaf: [`checked`]).
    fn check(self) -> Result<Self::Checked>;
}

/// Leaf parameters that passed their [`ParamGuard::check_ref`]: made only by
/// [`checked`], read through `Deref`, never changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Valid<P>(P);

impl<P> Deref for Valid<P> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.0
    }
}

/// [`ParamGuard::check`] of a leaf: its `check_ref`, then the [`Valid`] wrapper.
pub(crate) fn checked<P: ParamGuard>(p: P) -> Result<Valid<P>> {
    p.check_ref()?;
    Ok(Valid(p))
}

/// The values bound into the SQL views besides identifiers and dates (see
/// `sql::render_pipeline`): the history look-back, the burn-in, and the member-level
/// negative sampling of the `features` view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ViewParams {
    /// How far back the history features look (days), 1 to 36500.
    pub(crate) history_days: u32,
    /// First days of data used as history only (days), 0 to 36500.
    pub(crate) burn_in_days: u32,
    /// Negative members kept per positive member, in (0, 1e6].
    pub(crate) neg_pos_ratio: f64,
}

impl ParamGuard for ViewParams {
    type Checked = Valid<ViewParams>;

    fn check_ref(&self) -> Result<()> {
        let r = self.neg_pos_ratio;
        if !(r.is_finite() && r > 0.0 && r <= 1e6) {
            return Err(Error::params("neg_pos_ratio", "a number in (0, 1e6]", r));
        }
        if self.burn_in_days > 36_500 {
            return Err(Error::params(
                "burn_in_days",
                "a whole number of days from 0 to 36500",
                self.burn_in_days,
            ));
        }
        if !(1..=36_500).contains(&self.history_days) {
            return Err(Error::params(
                "history_days",
                "a whole number of days from 1 to 36500",
                self.history_days,
            ));
        }
        Ok(())
    }

    fn check(self) -> Result<Valid<ViewParams>> {
        checked(self)
    }
}

/// The name of the parameter an [`Error::Params`] refuses (tests and config).
#[cfg(test)]
pub(crate) fn param_name(e: &Error) -> Option<&str> {
    match e {
        Error::Params { name, .. } => Some(name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_params_name_the_parameter_out_of_range() {
        let ok = ViewParams {
            history_days: 365,
            burn_in_days: 90,
            neg_pos_ratio: 10.0,
        };
        assert_eq!(ok.check().unwrap().history_days, 365);
        for (bad, name) in [
            (
                ViewParams {
                    neg_pos_ratio: 0.0,
                    ..ok
                },
                "neg_pos_ratio",
            ),
            (
                ViewParams {
                    neg_pos_ratio: f64::NAN,
                    ..ok
                },
                "neg_pos_ratio",
            ),
            (
                ViewParams {
                    neg_pos_ratio: 2e6,
                    ..ok
                },
                "neg_pos_ratio",
            ),
            (
                ViewParams {
                    burn_in_days: 36_501,
                    ..ok
                },
                "burn_in_days",
            ),
            (
                ViewParams {
                    history_days: 0,
                    ..ok
                },
                "history_days",
            ),
        ] {
            let e = bad.check().unwrap_err();
            assert_eq!(param_name(&e), Some(name), "{e}");
            assert!(e.to_string().contains("expected"), "{e}");
        }
    }

    #[test]
    fn within_names_a_part_by_its_path() {
        let e = Error::params("top_n", "at least 1", 0).within("multi_hot");
        assert_eq!(param_name(&e), Some("multi_hot.top_n"));
        let e = Error::data("x", "y").within("multi_hot");
        assert_eq!(param_name(&e), None);
    }
}
