//! Evaluation of the 3-class stenosis classifier: confusion matrix, per-class precision /
//! recall / F1 (the article's Table 4), the RSNA 2024 competition score, and the article's
//! balanced 100-per-class test subset.
//!
//! Everything here takes plain data (slices of labels, probabilities, small structs) so that
//! training code, examples and the report can call it without depending on the model.
//!
//! Class order is the article's (Keras `image_dataset_from_directory` sorts the class folders
//! alphabetically): `0 = Moderate`, `1 = Normal/Mild`, `2 = Severe`; see [`CLASS_NAMES`].

mod classification;
mod rsna;
mod subset;

pub use classification::{
    argmax, predictions_from_probabilities, Averages, ClassMetrics, ClassificationReport,
    ConfusionMatrix, ARTICLE_CONFUSION, NOTEBOOK_CONFUSION,
};
pub use rsna::{
    aggregate_slice_predictions, rsna_score, LevelPrediction, RsnaScore, RSNA_CLASS_WEIGHTS,
    SPINAL_LEVELS,
};
pub use subset::balanced_subset;

/// Number of severity classes the network predicts.
pub const NUM_CLASSES: usize = 3;

/// Display names of the classes, indexed by label (the article's order, Table 1).
pub const CLASS_NAMES: [&str; NUM_CLASSES] = ["Moderate", "Normal/Mild", "Severe"];

/// Label index of the class `Moderate`.
pub const MODERATE: usize = 0;
/// Label index of the class `Normal/Mild`.
pub const NORMAL_MILD: usize = 1;
/// Label index of the class `Severe`.
pub const SEVERE: usize = 2;
