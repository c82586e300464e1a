//! The training rows encoded, with everything the fit needs of them, so that the
//! feature table's training rows can go before the model is fitted (issue 17: the
//! client's peak memory is the training matrix and the fit's vectors, not those plus
//! the table). Pure, but for handing freed heap pages back to the system
//! (`memory::release_free_memory`) before the matrix grows.

use crate::encode::FittedFeatureEncoder;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::table::{FeatureTable, NumericRows, Split};
use crate::threshold::group_ids;

use super::{
    Forward, TrainValidParams, TrainedModel, TrainingSet, member_folds, score_in_blocks_with,
};

/// The training rows of a feature table (in table order) as the fit reads them. Their
/// indices into the table are not kept: the fit never goes back to the table, and
/// a table that keeps its rows gives them again (`rows_of(Split::Train)`).
pub(crate) struct EncodedTraining {
    pub(crate) encoder: FittedFeatureEncoder,
    /// The standardized matrix, with out-of-fold target encodings.
    pub(crate) x: Matrix,
    pub(crate) y: Vec<f64>,
    /// Inverse sampling rate of each row.
    pub(crate) sampling: Vec<f64>,
    /// Each row's fold (fewer than 256 folds: `n_folds` is at most 50).
    pub(crate) folds: Vec<u8>,
    /// Where each row lies for the forward validation model (from its interaction
    /// time): one byte a row, not the eight of the time itself.
    pub(crate) forward: Vec<Forward>,
    /// The validation slice's rows' members as dense ids in first-seen order, and
    /// their number: the bootstrap's groups. Only the slice's rows.
    pub(crate) val_groups: (Vec<usize>, usize),
    /// Each categorical's dictionary codes of the rows (table order of the
    /// categoricals, which is the encoder's order of `te_` columns).
    pub(crate) codes: Vec<Vec<u32>>,
}

/// What the fit needs of the training rows besides the matrix, read from the table
/// before the matrix is built.
struct Prepared {
    rows: Vec<usize>,
    y: Vec<f64>,
    sampling: Vec<f64>,
    folds: Vec<u8>,
    forward: Vec<Forward>,
    val_groups: (Vec<usize>, usize),
}

/// Encodes the training rows of `t`: member-grouped folds, the encoders fitted on
/// these rows, the matrix. Refuses a training window with fewer members with a
/// positive interaction than folds.
pub(crate) fn encode_training(t: &FeatureTable, p: &TrainValidParams) -> Result<EncodedTraining> {
    let prepared = prepare(t, p)?;
    let codes = row_codes(t, &prepared.rows);
    encode_prepared(t, prepared, None, p, codes)
}

/// [`encode_training`] of a table it owns (the training rows taken out of the run's
/// table): the columns the encoder does not read (ids, times, labels, weights) go
/// before the matrix is allocated, the rest once it is filled.
pub(crate) fn encode_training_rows(
    t: FeatureTable,
    p: &TrainValidParams,
) -> Result<EncodedTraining> {
    crate::memory::trace_point("training rows taken, before encoding");
    let prepared = prepare(&t, p)?;
    // The encoder reads the descriptions and the categoricals of the rows it is
    // given, by index (this table has no ids, so its `len()` is 0), and the numbers.
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
    } = t;
    // Dropped here, not at the end of the function (where the rest of a partly
    // moved table would go).
    drop((interaction_id, member_id, interaction_ts_us));
    drop((label, split, sample_weight));
    let mut inputs = FeatureTable {
        descriptions,
        categoricals,
        ..FeatureTable::default()
    };
    // The ids, times and labels just freed go back to the system before the matrix
    // grows (a large mapping of its own, which would not reuse them).
    crate::memory::release_free_memory();
    crate::memory::trace_point("training rows' ids and labels gone");
    // Every row a training row (the run's table: the training rows are pulled
    // alone): the numbers are handed over by row and grow into the matrix, and the
    // categoricals' codes are the rows' codes, moved into the result once the matrix
    // is built (a copy beside the matrix is 4 bytes a row per categorical).
    if prepared.rows.len() == numeric.len() {
        let mut e = encode_prepared(&inputs, prepared, Some(numeric), p, Vec::new())?;
        e.codes = inputs.categoricals.into_iter().map(|c| c.codes).collect();
        Ok(e)
    } else {
        inputs.numeric = numeric;
        let codes = row_codes(&inputs, &prepared.rows);
        encode_prepared(&inputs, prepared, None, p, codes)
    }
}

/// Each categorical's codes of `rows` of `t` (table order of the categoricals).
fn row_codes(t: &FeatureTable, rows: &[usize]) -> Vec<Vec<u32>> {
    t.categoricals
        .iter()
        .map(|c| rows.iter().map(|&i| c.codes[i]).collect())
        .collect()
}

fn prepare(t: &FeatureTable, p: &TrainValidParams) -> Result<Prepared> {
    let rows = t.rows_of(Split::Train);
    let y: Vec<f64> = rows.iter().map(|&i| f64::from(t.label[i])).collect();
    let sampling: Vec<f64> = rows.iter().map(|&i| t.sample_weight[i]).collect();
    let members: Vec<&str> = rows.iter().map(|&i| &t.member_id[i]).collect();
    let positive_members = {
        let mut s: Vec<&str> = members
            .iter()
            .zip(&y)
            .filter(|(_, l)| **l == 1.0)
            .map(|(m, _)| *m)
            .collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    if positive_members < p.grid().n_folds {
        return Err(Error::data(
            format!(
                "the training window has {positive_members} members with a positive interaction, fewer than cv_folds = {}",
                p.grid().n_folds
            ),
            "lower model.cv_folds or move model.split_boundary later",
        ));
    }
    let folds = member_folds(&members, &y, p.grid().n_folds, p.seed());
    let v = p.validation();
    let forward: Vec<Forward> = rows
        .iter()
        .map(|&i| v.forward_of(t.interaction_ts_us[i]))
        .collect();
    // Dense in first-seen order among the slice's rows: the ids the bootstrap
    // draws its multiplicities by.
    let val_groups = group_ids(
        &members
            .iter()
            .zip(&forward)
            .filter(|(_, f)| **f == Forward::Validation)
            .map(|(m, _)| *m)
            .collect::<Vec<&str>>(),
    );
    Ok(Prepared {
        rows,
        y,
        sampling,
        folds,
        forward,
        val_groups,
    })
}

/// Encodes the prepared rows of `t`; with `numbers`, row `k`'s numbers are
/// `numbers.row(k)` and not the table's. `codes` are the rows' categorical codes
/// (empty when the caller moves them in afterwards).
fn encode_prepared(
    t: &FeatureTable,
    prepared: Prepared,
    numbers: Option<NumericRows>,
    p: &TrainValidParams,
    codes: Vec<Vec<u32>>,
) -> Result<EncodedTraining> {
    let Prepared {
        rows,
        y,
        sampling,
        folds,
        forward,
        val_groups,
    } = prepared;
    let n_folds = p.grid().n_folds;
    let (encoder, x) = match numbers {
        Some(numbers) => p.encoder().fit_transform_owning_numbers(
            t,
            (&rows, numbers),
            &y,
            &sampling,
            (&folds, n_folds),
        )?,
        None => p
            .encoder()
            .fit_transform(t, &rows, &y, &sampling, &folds, n_folds)?,
    };
    drop(rows);
    Ok(EncodedTraining {
        encoder,
        x,
        y,
        sampling,
        folds,
        forward,
        val_groups,
        codes,
    })
}

/// The model's scores of the training rows as [`super::score_in_blocks`] gives them
/// from the feature table (full-training target maps), computed from the training
/// set instead: its matrix, and its rows' categorical codes into `t`'s dictionaries
/// (`t` may have lost its rows: the dictionaries are what is read). Bit for bit the
/// same scores ([`FittedFeatureEncoder::transform_from_training`]).
pub(crate) fn training_scores(
    m: &TrainedModel,
    set: &TrainingSet,
    t: &FeatureTable,
) -> Result<Vec<f64>> {
    // The training set's codes follow the table's categoricals; the encoder's `te_`
    // columns are matched to them by name.
    let (mut codes, mut dictionaries) = (Vec::new(), Vec::new());
    for (name, _) in &m.encoder.target {
        let j = t.categoricals.iter().position(|c| c.name == *name);
        let (Some(j), Some(c)) = (j, j.and_then(|j| set.codes.get(j))) else {
            return Err(Error::params(
                "training set",
                format!("the codes of categorical {name}"),
                "none",
            ));
        };
        codes.push(c.as_slice());
        dictionaries.push(t.categoricals[j].dictionary.as_slice());
    }
    let all: Vec<usize> = (0..set.x.n_rows()).collect();
    score_in_blocks_with(&all, |block| {
        let x = m
            .encoder
            .transform_from_training(&set.x, block, &codes, &dictionaries)?;
        Ok(m.score(&x))
    })
}
