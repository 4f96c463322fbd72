//! The JSON of one predicted series (`lumbar predict --json`): probabilities under the names
//! of Kaggle's submission columns, the predicted grade, every slice and the warnings.

use super::SeriesPrediction;
use crate::atomic_write::write_atomic;
use crate::error::Result;
use crate::metrics::{CLASS_NAMES, MODERATE, NORMAL_MILD, NUM_CLASSES, SEVERE};
use serde::Serialize;
use std::path::Path;

/// Probabilities under the names of Kaggle's submission columns.
#[derive(Serialize)]
struct NamedProbabilities {
    normal_mild: f32,
    moderate: f32,
    severe: f32,
}

/// One level in the JSON of a series.
#[derive(Serialize)]
struct LevelJson {
    level: &'static str,
    slices: usize,
    #[serde(flatten)]
    probabilities: NamedProbabilities,
    predicted: &'static str,
}

/// One slice in the JSON of a series.
#[derive(Serialize)]
struct SliceJson {
    path: String,
    instance: i64,
    level: &'static str,
    #[serde(flatten)]
    probabilities: NamedProbabilities,
}

/// The JSON of a series.
#[derive(Serialize)]
struct SeriesJson<'a> {
    series: String,
    files: usize,
    levels: Vec<LevelJson>,
    slices: Vec<SliceJson>,
    warnings: &'a [String],
}

impl SeriesPrediction {
    /// The same content as JSON: the series, every level (probabilities named as in a Kaggle
    /// submission, plus the predicted grade), every slice, and the warnings. Probabilities are
    /// written as the shortest decimal that reads back as the same `f32`.
    pub fn to_json(&self) -> String {
        let named = |p: &[f32; NUM_CLASSES]| NamedProbabilities {
            normal_mild: p[NORMAL_MILD],
            moderate: p[MODERATE],
            severe: p[SEVERE],
        };
        let json = SeriesJson {
            series: self.series_dir.display().to_string(),
            files: self.files,
            levels: self
                .levels
                .iter()
                .map(|l| LevelJson {
                    level: l.level.name(),
                    slices: l.slices,
                    probabilities: named(&l.probabilities),
                    predicted: CLASS_NAMES[l.predicted()],
                })
                .collect(),
            slices: self
                .slices
                .iter()
                .map(|s| SliceJson {
                    path: s.path.display().to_string(),
                    instance: s.instance,
                    level: s.level.name(),
                    probabilities: named(&s.probabilities),
                })
                .collect(),
            warnings: &self.warnings,
        };
        serde_json::to_string_pretty(&json).expect("plain structs serialise")
    }

    /// Write [`SeriesPrediction::to_json`] to `path` (atomically).
    pub fn write_json(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_json().as_bytes())
    }
}
