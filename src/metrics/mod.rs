//! Evaluation of the 3-class stenosis classifier: confusion matrix, per-class precision /
//! recall / F1 (the article's Table 4), the RSNA 2024 competition score, the article's
//! balanced 100-per-class test subset, and bootstrap intervals of all of them over the test
//! studies.
//!
//! Everything here takes plain data (slices of labels, probabilities, small structs) so that
//! training code, examples and the report can call it without depending on the model.
//!
//! Class order is the article's (Keras `image_dataset_from_directory` sorts the class folders
//! alphabetically): `0 = Moderate`, `1 = Normal/Mild`, `2 = Severe`, the order of
//! [`Severity::ALL`]. The constants below are read off [`Severity`] so that metric code can
//! index plain arrays without repeating the class list.

pub mod bootstrap;
mod classification;
mod rsna;
mod subset;
mod test_intervals;

pub use classification::{
    argmax, predictions_from_probabilities, Averages, ClassMetrics, ClassificationReport,
    ConfusionMatrix, ARTICLE_CONFUSION, NOTEBOOK_CONFUSION,
};
pub use rsna::{
    aggregate_slice_predictions, rsna_score, LevelPrediction, RsnaScore, RSNA_CLASS_WEIGHTS,
    SPINAL_LEVELS,
};
pub use subset::balanced_subset;
pub use test_intervals::{
    run_bootstrap_settings, test_intervals, ClassIntervals, TestIntervals, STREAM_BOOTSTRAP,
};

use crate::rsna::Severity;

/// Number of severity classes the network predicts ([`Severity::COUNT`]).
pub const NUM_CLASSES: usize = Severity::COUNT;

/// Display names of the classes, indexed by class (Table 1 order): the
/// [`Severity::csv_name`] of each of [`Severity::ALL`].
pub const CLASS_NAMES: [&str; NUM_CLASSES] = [
    Severity::ALL[0].csv_name(),
    Severity::ALL[1].csv_name(),
    Severity::ALL[2].csv_name(),
];

/// Class index of `Moderate` ([`Severity::index`]).
pub const MODERATE: usize = Severity::Moderate.index();
/// Class index of `Normal/Mild` ([`Severity::index`]).
pub const NORMAL_MILD: usize = Severity::NormalMild.index();
/// Class index of `Severe` ([`Severity::index`]).
pub const SEVERE: usize = Severity::Severe.index();
