//! The RSNA 2024 Lumbar Spine competition metric, restricted to spinal canal stenosis.
//!
//! Kaggle scores a submission with the average of sample-weighted log losses, one per
//! condition group (spinal, foraminal, subarticular), plus one for a derived binary label
//! `any_severe_spinal`. We only predict spinal canal stenosis, so our score is the mean of two
//! terms:
//!
//! 1. **spinal canal log loss** — over every (study, level) row,
//!    `Σ wᵢ · (−ln p̂ᵢ[yᵢ]) / Σ wᵢ`, with the weight of the row's *true* class: Normal/Mild 1,
//!    Moderate 2, Severe 4 ([`RSNA_CLASS_WEIGHTS`], in our label order);
//! 2. **any_severe_spinal log loss** — per study, label = "some level is Severe", prediction =
//!    the largest Severe probability over the study's levels, binary log loss weighted by the
//!    **largest row weight of the study** (4 if some level is Severe, else 2 if some level is
//!    Moderate, else 1).
//!
//! Source followed: Kaggle's metric notebook
//! <https://www.kaggle.com/code/metric/rsna-lumbar-metric-71549> (version 10,
//! `scriptVersionId=181722791`), function `score()`, read through verbatim copies in public
//! solution repositories. It calls `sklearn.metrics.log_loss(y_true, y_pred,
//! sample_weight=...)` once per condition and once for `any_severe_spinal`, whose labels,
//! weights and predictions are `groupby('study_id')` maxima of the `severe` column, of
//! `sample_weight`, and of the submitted `severe` probability; the final score is the mean of
//! the terms (`any_severe_scalar = 1`). Together with scikit-learn's `log_loss` as written in
//! versions 1.2–1.4 (which version Kaggle's scorer ran is not published) that means:
//! - each probability is clipped to `[ε, 1 − ε]` with `ε = f64::EPSILON` (≈ 2.2e-16,
//!   sklearn's `eps="auto"` for float64 predictions), **then** each row is divided by its
//!   sum, so rows need not sum to 1 exactly (but values above 1 are clipped first);
//! - the weighted mean divides by the sum of the weights (`normalize=True`);
//! - the any-severe prediction is the **raw** largest Severe probability (`score()` takes it
//!   from the submission as is), clipped to `[ε, 1 − ε]`. Community wrappers often divide
//!   every row by its sum before calling `score()`; for softmax outputs, which already sum to
//!   1, the two agree.
//!
//! One deliberate difference: when every study (or none) has a Severe level, scikit-learn's
//! binary `log_loss` refuses to run ("y_true contains only one label"); the formula is still
//! well defined and we compute it.

use super::{NUM_CLASSES, SEVERE};
use crate::error::{Error, Result};
use crate::rsna::Level;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Names of the five intervertebral levels, indexed by [`LevelPrediction::level`] (the
/// [`Level::name`] of each of [`Level::ALL`]).
pub const SPINAL_LEVELS: [&str; 5] = [
    Level::ALL[0].name(),
    Level::ALL[1].name(),
    Level::ALL[2].name(),
    Level::ALL[3].name(),
    Level::ALL[4].name(),
];

/// Competition sample weight of a row by its true label, in our class order:
/// Moderate 2, Normal/Mild 1, Severe 4.
pub const RSNA_CLASS_WEIGHTS: [f64; NUM_CLASSES] = [2.0, 1.0, 4.0];

/// Clipping bound of scikit-learn's `log_loss` for float64 predictions.
const EPS: f64 = f64::EPSILON;

/// The prediction for one (study, level) pair: one row of a Kaggle submission.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelPrediction {
    /// The study (patient examination) the row belongs to.
    pub study_id: u64,
    /// Intervertebral level, `0..5` = L1/L2 … L5/S1 ([`SPINAL_LEVELS`]).
    pub level: usize,
    /// True class: 0 Moderate, 1 Normal/Mild, 2 Severe.
    pub label: usize,
    /// Predicted probabilities in the same class order (non-negative, finite).
    pub probs: [f32; NUM_CLASSES],
}

/// The competition score and its two parts, in nats (lower is better, 0 is perfect).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RsnaScore {
    /// Weighted log loss over all (study, level) rows.
    pub spinal_canal_log_loss: f64,
    /// Weighted binary log loss of "some level of the study is Severe".
    pub any_severe_spinal_log_loss: f64,
    /// Mean of the two terms: the number Kaggle would report for this condition alone.
    pub score: f64,
    /// Number of (study, level) rows scored.
    pub levels: usize,
    /// Number of studies scored.
    pub studies: usize,
    /// Studies with at least one Severe level (positives of the any-severe term).
    pub studies_with_severe: usize,
}

/// Check one row's level, label and probabilities; `what` names the list for the message.
fn validate(row: &LevelPrediction, index: usize, what: &str) -> Result<()> {
    if row.level >= SPINAL_LEVELS.len() {
        return Err(Error::invalid(format!(
            "{what}: row {index} (study {}) has level {}; levels are 0..5 (L1/L2 … L5/S1)",
            row.study_id, row.level
        )));
    }
    if row.label >= NUM_CLASSES {
        return Err(Error::invalid(format!(
            "{what}: row {index} (study {}) has label {}; classes are 0..{NUM_CLASSES}",
            row.study_id, row.label
        )));
    }
    if !row.probs.iter().all(|p| p.is_finite() && *p >= 0.0) {
        return Err(Error::invalid(format!(
            "{what}: row {index} (study {}, level {}) has probabilities {:?}; they must be \
             finite and non-negative",
            row.study_id, row.level, row.probs
        )));
    }
    Ok(())
}

/// Average slice-level predictions into one row per (study, level).
///
/// The network sees single axial slices, but the competition scores one row per study and
/// level. Each output row holds the **arithmetic mean** of the probabilities of that study
/// level's slices (every slice counts equally). All slices of a group must carry the same
/// label (it comes from the study's `train.csv` row), otherwise this is an error. Rows come
/// out sorted by `(study_id, level)`.
pub fn aggregate_slice_predictions(slices: &[LevelPrediction]) -> Result<Vec<LevelPrediction>> {
    const WHAT: &str = "aggregate_slice_predictions";
    if slices.is_empty() {
        return Err(Error::invalid(format!("{WHAT}: no slice predictions")));
    }
    // ANCHOR: aggregate
    // (study, level) -> (label, summed probabilities, number of slices)
    let mut groups: BTreeMap<(u64, usize), (usize, [f64; NUM_CLASSES], usize)> = BTreeMap::new();
    for (i, slice) in slices.iter().enumerate() {
        validate(slice, i, WHAT)?;
        let entry = groups.entry((slice.study_id, slice.level)).or_insert((
            slice.label,
            [0.0; NUM_CLASSES],
            0,
        ));
        if entry.0 != slice.label {
            return Err(Error::invalid(format!(
                "{WHAT}: study {} level {} has slices labelled both {} and {} (row {i})",
                slice.study_id, SPINAL_LEVELS[slice.level], entry.0, slice.label
            )));
        }
        for (sum, &p) in entry.1.iter_mut().zip(&slice.probs) {
            *sum += p as f64;
        }
        entry.2 += 1;
    }
    Ok(groups
        .into_iter()
        .map(|((study_id, level), (label, sums, n))| LevelPrediction {
            study_id,
            level,
            label,
            probs: sums.map(|s| (s / n as f64) as f32),
        })
        .collect())
    // ANCHOR_END: aggregate
}

/// Weighted mean `Σ wᵢ·lossᵢ / Σ wᵢ` of `(weight, loss)` pairs.
fn weighted_mean(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (weighted, weights) = pairs.fold((0.0, 0.0), |(s, w), (wi, li)| (s + wi * li, w + wi));
    weighted / weights
}

/// The RSNA 2024 score of spinal canal stenosis predictions, one row per (study, level).
///
/// See the module documentation for the exact formula. Errors on an empty list, a level or
/// label out of range, negative or non-finite probabilities, or the same (study, level)
/// twice (aggregate slice predictions first with [`aggregate_slice_predictions`]).
pub fn rsna_score(rows: &[LevelPrediction]) -> Result<RsnaScore> {
    const WHAT: &str = "rsna_score";
    if rows.is_empty() {
        return Err(Error::invalid(format!("{WHAT}: no predictions to score")));
    }
    // ANCHOR: score_terms
    // study -> (any level severe?, largest row weight, largest raw Severe probability)
    let mut studies: BTreeMap<u64, (bool, f64, f64)> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, row) in rows.iter().enumerate() {
        validate(row, i, WHAT)?;
        if !seen.insert((row.study_id, row.level)) {
            return Err(Error::invalid(format!(
                "{WHAT}: study {} level {} appears twice (row {i}); aggregate slices first",
                row.study_id, SPINAL_LEVELS[row.level]
            )));
        }
        let weight = RSNA_CLASS_WEIGHTS[row.label];
        let severe_probability = row.probs[SEVERE] as f64;
        let study = studies
            .entry(row.study_id)
            .or_insert((false, 0.0, f64::NEG_INFINITY));
        study.0 |= row.label == SEVERE;
        study.1 = study.1.max(weight);
        study.2 = study.2.max(severe_probability);
    }

    let spinal_canal_log_loss = weighted_mean(rows.iter().map(|row| {
        let clipped = row.probs.map(|p| (p as f64).clamp(EPS, 1.0 - EPS));
        let sum: f64 = clipped.iter().sum();
        (
            RSNA_CLASS_WEIGHTS[row.label],
            -(clipped[row.label] / sum).ln(),
        )
    }));

    let any_severe_spinal_log_loss =
        weighted_mean(studies.values().map(|&(positive, weight, severe)| {
            let p = severe.clamp(EPS, 1.0 - EPS);
            (weight, -(if positive { p } else { 1.0 - p }).ln())
        }));
    // ANCHOR_END: score_terms

    Ok(RsnaScore {
        spinal_canal_log_loss,
        any_severe_spinal_log_loss,
        score: (spinal_canal_log_loss + any_severe_spinal_log_loss) / 2.0,
        levels: rows.len(),
        studies: studies.len(),
        studies_with_severe: studies.values().filter(|s| s.0).count(),
    })
}
