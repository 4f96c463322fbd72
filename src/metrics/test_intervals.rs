//! The 95 % bootstrap intervals of every test metric a run reports — accuracy, macro-F1,
//! precision, recall and F1 per class, the RSNA 2024 score — from the test slices' predictions,
//! by [`bootstrap_over_studies`](super::bootstrap::bootstrap_over_studies).
//!
//! On each resample the metrics are computed as for the point estimate (argmax predictions,
//! the confusion matrix, the slices averaged per (study, level) for the RSNA score), except
//! where a ratio would be `0/0`: the point estimate then reports 0 (scikit-learn's
//! `zero_division=0`), but a resample without a class says nothing about that class, so the
//! value is left out instead:
//! - recall and F1 of a class: undefined when the resample has no slice of the class;
//! - precision of a class: undefined when no slice of the resample is predicted as the class;
//! - macro-F1: undefined when the resample lacks a class that the test split has (a class
//!   absent from the whole split counts 0, as in the point estimate).

use super::bootstrap::{bootstrap_over_studies, BootstrapSettings, Interval, DEFAULT_RESAMPLES};
use super::{
    aggregate_slice_predictions, argmax, rsna_score, LevelPrediction, CLASS_NAMES, NUM_CLASSES,
};
use crate::error::Result;
use crate::seed::stream_seed;
use serde::{Deserialize, Serialize};

/// Stream number of the bootstrap under a run's seed ([`stream_seed`]); `lumbar prepare` uses
/// 1 (split), 2 (augmentation) and 3 (levels).
pub const STREAM_BOOTSTRAP: u64 = 4;

/// The bootstrap settings of a run with seed `seed`: [`DEFAULT_RESAMPLES`] resamples seeded by
/// `stream_seed(seed, STREAM_BOOTSTRAP)`.
pub fn run_bootstrap_settings(seed: u64) -> BootstrapSettings {
    BootstrapSettings {
        resamples: DEFAULT_RESAMPLES,
        seed: stream_seed(seed, STREAM_BOOTSTRAP),
    }
}

/// The intervals of one class's metrics (`None`: defined on too few resamples).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassIntervals {
    /// Class name from [`CLASS_NAMES`].
    pub name: String,
    /// Precision.
    pub precision: Option<Interval>,
    /// Recall.
    pub recall: Option<Interval>,
    /// F1.
    pub f1: Option<Interval>,
}

/// 95 % percentile intervals of the test metrics, bootstrapped over the test studies
/// (`metrics.json`'s `test.ci95`). An interval is `None` when its metric was defined on fewer
/// than [`MIN_RESAMPLES_FOR_INTERVAL`](super::bootstrap::MIN_RESAMPLES_FOR_INTERVAL) resamples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestIntervals {
    /// Test studies resampled (each resample draws this many, with replacement).
    pub studies: usize,
    /// Resamples drawn.
    pub resamples: usize,
    /// Seed of the resampling.
    pub seed: u64,
    /// Accuracy.
    pub accuracy: Option<Interval>,
    /// Macro-F1.
    pub macro_f1: Option<Interval>,
    /// Per class, in the order of [`CLASS_NAMES`].
    pub classes: Vec<ClassIntervals>,
    /// RSNA 2024 score (lower is better).
    pub rsna_score: Option<Interval>,
}

/// Positions of the metrics in the value list of one resample.
const ACCURACY: usize = 0;
const MACRO_F1: usize = 1;
const RSNA: usize = 2;
/// First per-class value; class `c` holds precision, recall, F1 at `PER_CLASS + 3c + 0, 1, 2`.
const PER_CLASS: usize = 3;

/// `numerator / denominator`, undefined when the denominator is 0.
fn defined_ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Every metric of one resample, at the positions above.
fn resample_metrics(
    rows: &[LevelPrediction],
    classes_in_split: [bool; NUM_CLASSES],
) -> Result<Vec<Option<f64>>> {
    let mut counts = [[0usize; NUM_CLASSES]; NUM_CLASSES];
    for row in rows {
        counts[row.label][argmax(&row.probs)] += 1;
    }
    let support: [usize; NUM_CLASSES] = std::array::from_fn(|a| counts[a].iter().sum());
    let predicted: [usize; NUM_CLASSES] =
        std::array::from_fn(|p| counts.iter().map(|row| row[p]).sum());
    let correct: usize = (0..NUM_CLASSES).map(|c| counts[c][c]).sum();
    // F1 = 2·TP / (support + predicted): the harmonic mean of precision and recall, and 0 when
    // the class occurs but is never found.
    let f1: [Option<f64>; NUM_CLASSES] = std::array::from_fn(|c| {
        (support[c] > 0).then(|| 2.0 * counts[c][c] as f64 / (support[c] + predicted[c]) as f64)
    });
    let macro_f1 = (0..NUM_CLASSES)
        .map(|c| match (classes_in_split[c], f1[c]) {
            (false, _) => Some(0.0),
            (true, value) => value,
        })
        .sum::<Option<f64>>()
        .map(|sum| sum / NUM_CLASSES as f64);
    let mut values = vec![None; PER_CLASS + 3 * NUM_CLASSES];
    values[ACCURACY] = defined_ratio(correct, rows.len());
    values[MACRO_F1] = macro_f1;
    values[RSNA] = Some(rsna_score(&aggregate_slice_predictions(rows)?)?.score);
    for c in 0..NUM_CLASSES {
        values[PER_CLASS + 3 * c] = defined_ratio(counts[c][c], predicted[c]);
        values[PER_CLASS + 3 * c + 1] = defined_ratio(counts[c][c], support[c]);
        values[PER_CLASS + 3 * c + 2] = f1[c];
    }
    Ok(values)
}

/// The intervals of every test metric over the studies of `slices` (one row per test slice,
/// with its predicted probabilities), or `None` when the slices come from fewer than 2 studies
/// (nothing to resample). Errors on no slices and, as the point estimates do, on bad rows (a level or label out of
/// range, probabilities that are not finite and non-negative, one level labelled twice).
pub fn test_intervals(
    slices: &[LevelPrediction],
    settings: &BootstrapSettings,
) -> Result<Option<TestIntervals>> {
    // Check every row once (levels, labels, probabilities, one label per level).
    aggregate_slice_predictions(slices)?;
    let mut studies: Vec<u64> = slices.iter().map(|s| s.study_id).collect();
    studies.sort_unstable();
    studies.dedup();
    if studies.len() < 2 {
        return Ok(None);
    }
    let mut classes_in_split = [false; NUM_CLASSES];
    for slice in slices {
        classes_in_split[slice.label] = true;
    }
    let intervals = bootstrap_over_studies(slices, settings, |rows| {
        resample_metrics(rows, classes_in_split)
    })?;
    Ok(Some(TestIntervals {
        studies: studies.len(),
        resamples: settings.resamples,
        seed: settings.seed,
        accuracy: intervals[ACCURACY],
        macro_f1: intervals[MACRO_F1],
        classes: (0..NUM_CLASSES)
            .map(|c| ClassIntervals {
                name: CLASS_NAMES[c].to_string(),
                precision: intervals[PER_CLASS + 3 * c],
                recall: intervals[PER_CLASS + 3 * c + 1],
                f1: intervals[PER_CLASS + 3 * c + 2],
            })
            .collect(),
        rsna_score: intervals[RSNA],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{ConfusionMatrix, MODERATE, NORMAL_MILD, SEVERE};

    /// A slice of `study` at `level` with true class `label`, predicted `predicted` with
    /// probability 0.8.
    fn slice(study_id: u64, level: usize, label: usize, predicted: usize) -> LevelPrediction {
        let mut probs = [0.1; NUM_CLASSES];
        probs[predicted] = 0.8;
        LevelPrediction {
            study_id,
            level,
            label,
            probs,
        }
    }

    /// 13 studies: mostly right Normal/Mild slices, a Moderate or Severe level in most, with a
    /// few mistakes spread over the studies.
    fn test_split() -> Vec<LevelPrediction> {
        let mut rows = Vec::new();
        for study in 0..13u64 {
            for level in 0..4 {
                let wrong = (study + level as u64).is_multiple_of(7);
                let predicted = match (wrong, study % 2) {
                    (false, _) => NORMAL_MILD,
                    (true, 0) => MODERATE,
                    (true, _) => SEVERE,
                };
                rows.extend((0..3).map(|_| slice(study, level, NORMAL_MILD, predicted)));
            }
            let (label, predicted) = match study % 3 {
                0 => (SEVERE, if study == 3 { MODERATE } else { SEVERE }),
                1 => (MODERATE, if study == 7 { NORMAL_MILD } else { MODERATE }),
                _ => (MODERATE, MODERATE),
            };
            rows.extend((0..2).map(|_| slice(study, 4, label, predicted)));
        }
        rows
    }

    #[test]
    fn intervals_contain_the_point_estimates_of_a_plausible_split() {
        let rows = test_split();
        let labels: Vec<usize> = rows.iter().map(|r| r.label).collect();
        let probs: Vec<[f32; 3]> = rows.iter().map(|r| r.probs).collect();
        let report = ConfusionMatrix::from_probabilities(&labels, &probs)
            .unwrap()
            .report();
        let rsna = rsna_score(&aggregate_slice_predictions(&rows).unwrap()).unwrap();
        let ci = test_intervals(&rows, &run_bootstrap_settings(42))
            .unwrap()
            .unwrap();
        assert_eq!((ci.studies, ci.resamples), (13, DEFAULT_RESAMPLES));
        let inside = |interval: Option<Interval>, value: f64, what: &str| {
            let interval = interval.unwrap_or_else(|| panic!("{what}: no interval"));
            assert!(
                interval.contains(value),
                "{what} {value} outside {interval:?}"
            );
            assert!(
                interval.high > interval.low,
                "{what}: zero width {interval:?}"
            );
        };
        inside(ci.accuracy, report.accuracy, "accuracy");
        inside(ci.macro_f1, report.macro_avg.f1, "macro-F1");
        inside(ci.rsna_score, rsna.score, "RSNA");
        for (c, class) in ci.classes.iter().enumerate() {
            assert_eq!(class.name, CLASS_NAMES[c]);
            inside(class.precision, report.classes[c].precision, "precision");
            inside(class.recall, report.classes[c].recall, "recall");
            inside(class.f1, report.classes[c].f1, "F1");
        }
        // Severe occurs in 5 of the 13 studies: a resample misses it with probability
        // (8/13)¹³ ≈ 0.002, so nearly every resample defines its recall.
        let used = ci.classes[SEVERE].recall.unwrap().resamples_used;
        assert!((990..=DEFAULT_RESAMPLES).contains(&used), "{used}");
    }

    #[test]
    fn a_class_in_a_single_study_is_undefined_where_that_study_is_not_drawn() {
        // Severe in one study of 4: missing from a resample with probability (3/4)⁴ ≈ 0.316.
        let mut rows: Vec<LevelPrediction> = (0..4)
            .flat_map(|s| (0..3).map(move |l| slice(s, l, NORMAL_MILD, NORMAL_MILD)))
            .collect();
        rows.push(slice(2, 4, SEVERE, SEVERE));
        let ci = test_intervals(&rows, &run_bootstrap_settings(1))
            .unwrap()
            .unwrap();
        let used = ci.classes[SEVERE].recall.unwrap().resamples_used;
        assert!((620..=750).contains(&used), "{used}");
        // Macro-F1 needs Severe too; Moderate is absent from the whole split and counts 0.
        assert_eq!(ci.macro_f1.unwrap().resamples_used, used);
        // Moderate never occurs and is never predicted: no interval for any of its metrics.
        let moderate = &ci.classes[MODERATE];
        assert_eq!(
            (moderate.precision, moderate.recall, moderate.f1),
            (None, None, None)
        );
        // Every slice is right: accuracy 1 on every resample.
        let accuracy = ci.accuracy.unwrap();
        assert_eq!((accuracy.low, accuracy.high), (1.0, 1.0));
    }

    #[test]
    fn a_single_study_has_no_interval() {
        let rows: Vec<LevelPrediction> = (0..5).map(|l| slice(9, l, NORMAL_MILD, SEVERE)).collect();
        assert_eq!(
            test_intervals(&rows, &run_bootstrap_settings(1)).unwrap(),
            None
        );
    }

    #[test]
    fn bad_rows_are_errors() {
        let mut rows = test_split();
        rows[0].probs[0] = f32::NAN;
        assert!(test_intervals(&rows, &run_bootstrap_settings(1)).is_err());
    }
}
