//! `lumbar predict`: a trained model applied to new scans.
//!
//! - [`Predictor::predict_series`]: the severity probabilities per disc level of one axial T2
//!   series (a folder of `.dcm` files). Every step is the one the training data went through:
//!   the slices get their levels from the series' geometry exactly as the honest `prepare` did
//!   ([`assign_series_levels`](crate::levels::assign_series_levels), same seed), each slice
//!   becomes the same 8-bit image ([`slice_to_u8`](crate::prepare::image_ops::slice_to_u8))
//!   and the same network input ([`network_input`](crate::prepare::manifest::network_input)),
//!   and the slice probabilities of a level are averaged
//!   ([`aggregate_slice_predictions`](crate::metrics::aggregate_slice_predictions), as in
//!   evaluation).
//!   Levels always come from the series' geometry, also for a model trained with
//!   `--protocol paper` (whose training levels came from the global K-Means and are mostly
//!   misnamed): the rows of a prediction name the true disc.
//! - [`write_submission`]: every study of a Kaggle-layout test folder
//!   (`test_series_descriptions.csv`, `test_images/<study>/<series>/*.dcm`) as a Kaggle
//!   submission CSV, one row per study and level.
//!
//! The module is split by concern: [`model_folder`] (loading and checking a run folder),
//! [`series`] (one series: headers, levels, inference, per-level means), [`json`] (the JSON
//! written by `lumbar predict --json`), [`submission`] (the Kaggle submission) and [`priors`]
//! (the prediction where no slice was found).

pub mod json;
pub mod model_folder;
pub mod priors;
pub mod series;
pub mod submission;

pub use model_folder::DEFAULT_RUN_SEED;
pub use priors::{prior_probabilities, CLASS_FREQUENCIES};
pub use series::{slice_input, LevelProbabilities, SeriesPrediction, SlicePrediction};
pub use submission::{
    submission_csv, submission_rows, write_submission, SubmissionRow, SubmissionSummary,
    SUBMISSION_HEADER,
};

use crate::model::Architecture;
use crate::nn::Sequential;

/// A trained model ready to predict, with the seed its run assigned levels with.
pub struct Predictor {
    model: Sequential,
    architecture: Architecture,
    run_seed: u64,
}
