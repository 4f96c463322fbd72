//! [`SynthSummary`], what [`generate`](fn@super::generate) made, and how it is printed.

use super::grading::BayesCeiling;
use crate::rsna::Severity;
use std::path::PathBuf;

/// What [`generate`](fn@super::generate) made: counts, size and the ceiling any model can reach.
#[derive(Clone, Debug)]
pub struct SynthSummary {
    /// Studies written.
    pub studies: usize,
    /// Series written.
    pub series: usize,
    /// DICOM files written.
    pub files: usize,
    /// Axial T2 series written.
    pub axial_series: usize,
    /// Of those, the continuous stacks (the rest hold a short stack per disc).
    pub continuous_series: usize,
    /// Axial slices at no disc (continuous stacks, through a vertebral body): no level, no label.
    pub slices_between_discs: usize,
    /// Bytes of DICOM written.
    pub dicom_bytes: u64,
    /// Labelled axial slices per grade, mildest first (Normal/Mild, Moderate, Severe; indexed
    /// by [`Severity::rank`]): the images the article's pipeline classifies.
    pub slice_counts: [usize; 3],
    /// Spinal canal labels in `train.csv` per grade (study × level), mildest first.
    pub level_counts: [usize; 3],
    /// Spinal canal labels left empty.
    pub missing_labels: usize,
    /// Fraction of labelled levels where the grader's label differs from the grade of the area.
    pub disagreement: f64,
    /// The Bayes ceiling over the labelled axial slices.
    pub bayes: BayesCeiling,
    /// The gallery figure, if drawn.
    pub gallery: Option<PathBuf>,
}

impl std::fmt::Display for SynthSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} studies, {} series, {} DICOM files ({:.1} MB)",
            self.studies,
            self.series,
            self.files,
            self.dicom_bytes as f64 / 1e6
        )?;
        writeln!(
            f,
            "{} axial T2 series, {} of them continuous stacks ({} slices between discs, unlabelled)",
            self.axial_series, self.continuous_series, self.slices_between_discs
        )?;
        let total_slices: usize = self.slice_counts.iter().sum::<usize>().max(1);
        let total_levels: usize = self.level_counts.iter().sum::<usize>().max(1);
        writeln!(
            f,
            "{:<12} {:>13} {:>18}",
            "grade", "axial slices", "canal labels"
        )?;
        for grade in Severity::MILDEST_FIRST {
            let c = grade.rank();
            writeln!(
                f,
                "{:<12} {:>6} {:>5.1} % {:>9} {:>5.1} %",
                grade.csv_name(),
                self.slice_counts[c],
                100.0 * self.slice_counts[c] as f64 / total_slices as f64,
                self.level_counts[c],
                100.0 * self.level_counts[c] as f64 / total_levels as f64
            )?;
        }
        writeln!(f, "missing canal labels: {}", self.missing_labels)?;
        writeln!(
            f,
            "grader disagreement with the area grade: {:.1} % of labelled levels",
            100.0 * self.disagreement
        )?;
        writeln!(
            f,
            "Bayes accuracy (the ceiling any model can reach): {:.3} at this class mix, {:.3} on a \
             class-balanced test set",
            self.bayes.accuracy, self.bayes.balanced_accuracy
        )?;
        let recalls: Vec<String> = Severity::MILDEST_FIRST
            .iter()
            .map(|g| format!("{} {:.3}", g.csv_name(), self.bayes.recall[g.rank()]))
            .collect();
        write!(f, "Bayes recall ceilings: {}", recalls.join(", "))?;
        if let Some(path) = &self.gallery {
            write!(f, "\ngallery: {}", path.display())?;
        }
        Ok(())
    }
}
