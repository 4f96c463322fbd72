//! Evaluation of a trained model on the held-out test split: the article's Table 4 (precision,
//! recall, F1 per class), accuracy, macro-F1, the confusion matrix, the RSNA 2024 competition
//! score, the article's balanced 100-per-class subset when the test split is big enough, and
//! 95 % bootstrap intervals over the test studies of the whole split's numbers.

use crate::error::Result;
use crate::metrics::{
    aggregate_slice_predictions, balanced_subset, rsna_score, run_bootstrap_settings,
    test_intervals, ClassificationReport, ConfusionMatrix, LevelPrediction, RsnaScore,
    TestIntervals,
};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Images per class of the article's balanced test subset (100 Moderate, 100 Normal/Mild,
/// 100 Severe).
pub const BALANCED_PER_CLASS: usize = 100;

/// One test image: where it comes from and its true label.
#[derive(Clone, Debug)]
pub struct TestImage {
    /// The study (patient) it belongs to.
    pub study_id: u64,
    /// Disc level index, 0 = L1/L2 … 4 = L5/S1.
    pub level: usize,
    /// True class (0 Moderate, 1 Normal/Mild, 2 Severe).
    pub label: usize,
}

/// Every number of a test evaluation (serialised into `metrics.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestEvaluation {
    /// Number of test images (slices).
    pub images: usize,
    /// Number of distinct test studies.
    pub studies: usize,
    /// Confusion matrix, per-class precision/recall/F1, accuracy, macro averages.
    pub report: ClassificationReport,
    /// The RSNA 2024 score over (study, level) predictions (mean of the slice probabilities).
    pub rsna: RsnaScore,
    /// The same report on the article's balanced 100-per-class subset, when every class has at
    /// least 100 test images.
    pub balanced_subset: Option<ClassificationReport>,
    /// 95 % intervals of the whole split's numbers, bootstrapped over the test studies
    /// ([`run_bootstrap_settings`] of the run's seed). `None` with a single test study, and in
    /// files written before the intervals were added.
    #[serde(default)]
    pub ci95: Option<TestIntervals>,
}

impl TestEvaluation {
    /// The confusion matrix of the whole test split.
    pub fn confusion(&self) -> ConfusionMatrix {
        ConfusionMatrix::from_counts(self.report.confusion)
    }
}

/// Evaluate predicted `probabilities` (`[N, 3]`, rows in the order of `images`); `seed` (the
/// run's) draws the balanced subset and seeds the bootstrap.
pub fn evaluate_test(
    images: &[TestImage],
    probabilities: &Array2<f32>,
    seed: u64,
) -> Result<TestEvaluation> {
    let rows: Vec<[f32; 3]> = probabilities
        .rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2]])
        .collect();
    let labels: Vec<usize> = images.iter().map(|i| i.label).collect();
    let confusion = ConfusionMatrix::from_probabilities(&labels, &rows)?;
    let slices: Vec<LevelPrediction> = images
        .iter()
        .zip(&rows)
        .map(|(image, probs)| LevelPrediction {
            study_id: image.study_id,
            level: image.level,
            label: image.label,
            probs: *probs,
        })
        .collect();
    let rsna = rsna_score(&aggregate_slice_predictions(&slices)?)?;
    let ci95 = test_intervals(&slices, &run_bootstrap_settings(seed))?;
    let balanced = if confusion
        .supports()
        .iter()
        .all(|&s| s >= BALANCED_PER_CLASS)
    {
        let subset = balanced_subset(&labels, BALANCED_PER_CLASS, seed)?;
        let sub_labels: Vec<usize> = subset.iter().map(|&i| labels[i]).collect();
        let sub_rows: Vec<[f32; 3]> = subset.iter().map(|&i| rows[i]).collect();
        Some(ConfusionMatrix::from_probabilities(&sub_labels, &sub_rows)?.report())
    } else {
        None
    };
    let mut studies: Vec<u64> = images.iter().map(|i| i.study_id).collect();
    studies.sort_unstable();
    studies.dedup();
    Ok(TestEvaluation {
        images: images.len(),
        studies: studies.len(),
        report: confusion.report(),
        rsna,
        balanced_subset: balanced,
        ci95,
    })
}
