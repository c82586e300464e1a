//! Encoders that turn the interaction-level feature table into model inputs: one
//! 0/1 flag per frequent description ([`multi_hot`]) and per frequent description
//! word ([`tokens`]), description x history crosses ([`cross`]), a smoothed label
//! rate per categorical value ([`target`]), and standardized numeric columns
//! ([`scale`]); [`features`] assembles them.
//!
//! Each follows the same lifecycle (linfa's pattern, see `params`): `XParams` (built by
//! `config`) -> `check` -> `XValidParams`, fitted on the training rows only, giving a
//! `FittedX` that is saved in `model.json` and applied unchanged to test and scoring
//! rows. Pure and synchronous.

pub mod cross;
mod features;
mod multi_hot;
mod scale;
mod target;
pub mod tokens;

pub use features::FeatureEncoderParams;
pub(crate) use features::{FeatureEncoderValidParams, FittedFeatureEncoder, NumericTransform};
pub use multi_hot::MultiHotParams;
pub(crate) use multi_hot::{FittedMultiHot, MultiHotValidParams};
pub(crate) use scale::{FittedStandardScaler, StandardScalerParams, log1p_count, log1p_days};
pub use target::TargetEncoderParams;
pub(crate) use target::{FittedTargetEncoder, TargetEncoderValidParams, TargetScale};
