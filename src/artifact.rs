//! The model file format, `model.json`: what `rarecall run` writes and `rarecall score`
//! reads — the struct, its format version, and loading it with the version checked
//! first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{self, Result};
use crate::rules;
use crate::train::{self, TrainedModel};

/// The `model.json` format this rarecall writes and reads. 2: Platt calibration in
/// place of the intercept-only prior shift; class weight searched. 3: token flags,
/// description x history crosses, decayed counts, gap bins, clock features, and
/// target encodings on the logit scale. 4: `trained.trees`, the gradient-boosted trees
/// (forust's JSON text), their Platt map and rounds when they are the primary model.
pub(crate) const MODEL_FORMAT_VERSION: u32 = 4;

/// The oldest format this rarecall still reads: a version 3 file is a version 4 file
/// without trees (the logistic model), read as it is.
pub(crate) const OLDEST_FORMAT_VERSION: u32 = 3;

/// `model.json`: everything `score` needs to reproduce the test scores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    pub(crate) format_version: u32,
    pub(crate) rarecall_version: String,
    pub(crate) run_id: String,
    pub(crate) spark_version: String,
    /// Source column per role, and the categoricals as (source column, feature name).
    pub(crate) columns: BTreeMap<String, String>,
    pub(crate) categoricals: Vec<(String, String)>,
    pub(crate) rules: Vec<rules::Rule>,
    pub(crate) split_boundary: String,
    /// Look-back of the history features (days); scoring must use the same.
    pub(crate) history_days: u32,
    pub(crate) target_neg_pos_member_ratio: f64,
    pub(crate) seed: i64,
    pub(crate) target_precision: f64,
    pub(crate) best_c: f64,
    pub(crate) cv: Vec<train::CvEntry>,
    pub trained: TrainedModel,
    /// The bins and shares of the run's test window, which `score` and the next run
    /// compare with (PSI). Optional: files without it still load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) drift_reference: Option<crate::drift::DriftReference>,
}

impl ModelFile {
    /// The precision floor the model's threshold was chosen for (from its rule).
    pub(crate) fn threshold_precision(&self) -> f64 {
        self.target_precision
    }
}

/// Reads and parses a model.json file.
pub(crate) fn load_model(path: &std::path::Path) -> Result<ModelFile> {
    let bytes = std::fs::read(path).map_err(|e| error::Error::Output {
        location: path.display().to_string(),
        problem: format!("the model cannot be read ({e})"),
        fix: "pass the model.json written by `rarecall run` with --model".into(),
    })?;
    // The version first: an older file fails on its version, not on a missing field.
    let version = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("format_version").and_then(|f| f.as_u64()));
    let readable = u64::from(OLDEST_FORMAT_VERSION)..=u64::from(MODEL_FORMAT_VERSION);
    if let Some(v) = version.filter(|v| !readable.contains(v)) {
        return Err(error::Error::Data {
            problem: format!(
                "{} has model format version {v}, this rarecall reads {OLDEST_FORMAT_VERSION} to {MODEL_FORMAT_VERSION}",
                path.display()
            ),
            fix: "retrain the model with this version of rarecall (rarecall run) and pass its model.json".into(),
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| error::Error::Data {
        problem: format!("{} is not a rarecall model.json ({e})", path.display()),
        fix: "pass the model.json written by `rarecall run` with --model".into(),
    })
}

#[cfg(test)]
mod tests {
    /// `score` must read back the very numbers `run` wrote: serde_json's default float
    /// parser may be one ulp off (seen: a threshold written as 0.014399583818390781
    /// read back as 0.01439958381839078); the `float_roundtrip` feature makes it exact.
    #[test]
    fn model_numbers_read_back_bit_identical() {
        let seen = "0.014399583818390781";
        assert_eq!(
            serde_json::from_str::<f64>(seen).unwrap().to_bits(),
            seen.parse::<f64>().unwrap().to_bits()
        );
        // splitmix64 bit patterns over the whole range of finite doubles.
        let mut state = 7u64;
        for _ in 0..200_000 {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let x = f64::from_bits(z ^ (z >> 31));
            if !x.is_finite() {
                continue;
            }
            let text = serde_json::to_string(&x).unwrap();
            let back: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x:e} written as {text}");
        }
    }
}
