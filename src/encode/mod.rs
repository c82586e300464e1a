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
pub mod features;
pub mod multi_hot;
pub mod scale;
pub mod target;
pub mod tokens;

pub use features::{
    FeatureEncoderParams, FeatureEncoderValidParams, FittedFeatureEncoder, NumericColumn,
    NumericTransform,
};
pub use multi_hot::{
    DescriptionColumn, FittedMultiHot, FoldedDescription, MultiHotParams, MultiHotValidParams,
    OTHER_COLUMN, safe_column_name,
};
pub use scale::{
    FittedStandardScaler, StandardScalerParams, StandardScalerValidParams, log1p_count, log1p_days,
};
pub use target::{
    FittedTargetEncoder, Smooth, TargetEncoderParams, TargetEncoderValidParams, TargetScale,
};
