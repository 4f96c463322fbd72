//! `synth_summary.json`: what a generated dataset is, kept beside it so later stages (the main
//! job's report) can quote its Bayes accuracy and per-class recall ceilings — the best any
//! model can reach on it.

use super::{SynthConfig, SynthSummary};
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::rsna::Severity;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name of the summary inside the dataset folder.
pub const SUMMARY_FILE: &str = "synth_summary.json";

/// The saved facts of a generated dataset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedSynthSummary {
    /// Studies generated.
    pub studies: usize,
    /// The generator's seed.
    pub seed: u64,
    /// Grader misjudgement, standard deviation in mm².
    pub grader_sd_mm2: f64,
    /// Labelled axial slices per grade, mildest first (Normal/Mild, Moderate, Severe).
    pub slice_counts: [usize; 3],
    /// Expected accuracy of the Bayes classifier on these slices.
    pub bayes_accuracy: f64,
    /// Its recall per grade, mildest first (Normal/Mild, Moderate, Severe).
    pub bayes_recall: [f64; 3],
    /// Its accuracy on a class-balanced test set.
    pub bayes_balanced_accuracy: f64,
}

impl SavedSynthSummary {
    /// The Bayes recall ceilings in the class order of the network and the report (Table 1:
    /// Moderate, Normal/Mild, Severe), reordered from [`SavedSynthSummary::bayes_recall`]
    /// (mildest first).
    pub fn bayes_recall_by_class(&self) -> [f64; Severity::COUNT] {
        Severity::ALL.map(|severity| self.bayes_recall[severity.rank()])
    }
}

/// Write `synth_summary.json` into the dataset folder `dir`.
pub fn save_summary(dir: &Path, config: &SynthConfig, summary: &SynthSummary) -> Result<()> {
    let saved = SavedSynthSummary {
        studies: summary.studies,
        seed: config.seed,
        grader_sd_mm2: config.grader_sd_mm2,
        slice_counts: summary.slice_counts,
        bayes_accuracy: summary.bayes.accuracy,
        bayes_recall: summary.bayes.recall,
        bayes_balanced_accuracy: summary.bayes.balanced_accuracy,
    };
    let json = serde_json::to_string_pretty(&saved).expect("summary serialises");
    write_atomic(dir.join(SUMMARY_FILE), json.as_bytes())
}

/// The `synth_summary.json` of the synthetic dataset in `dir`, or `None` if `dir` has none
/// (real data, or generated without one). Errors on a file that is not such a summary.
pub fn read_summary(dir: &Path) -> Result<Option<SavedSynthSummary>> {
    let path = dir.join(SUMMARY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let saved: SavedSynthSummary = serde_json::from_str(&text)
        .map_err(|e| Error::format(path.display(), format!("not a synthetic-data summary: {e}")))?;
    Ok(Some(saved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_ceilings_are_reordered_into_the_class_order() {
        // Mildest first (Normal/Mild, Moderate, Severe) → Table 1 (Moderate, Normal/Mild, Severe).
        let saved = SavedSynthSummary {
            studies: 1,
            seed: 0,
            grader_sd_mm2: 1.0,
            slice_counts: [3, 2, 1],
            bayes_accuracy: 0.9,
            bayes_recall: [0.995, 0.892, 0.925],
            bayes_balanced_accuracy: 0.937,
        };
        assert_eq!(saved.bayes_recall_by_class(), [0.892, 0.995, 0.925]);
    }
}
