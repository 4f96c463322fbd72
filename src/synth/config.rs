//! [`SynthConfig`], everything that shapes a synthetic dataset: its defaults, the small preset
//! for tests, and the check of every setting.

use super::grading::{Prevalence, RSNA_PREVALENCE};
use crate::error::{Error, Result};
use crate::rsna::Level;

/// Everything that shapes a synthetic dataset. `Default` is the book's default dataset
/// (≈ the article's 2,414 / 224 / 115 axial slices); [`SynthConfig::small`] a tiny one for tests.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Number of studies (patients).
    pub studies: usize,
    /// The seed every random choice derives from.
    pub seed: u64,
    /// Per-level prevalence `[normal, moderate, severe]` of the canal labels, L1/L2 … L5/S1.
    pub prevalence: [Prevalence; 5],
    /// Standard deviation (mm²) of a grader's misjudgement of the sac area; 0 = perfect graders.
    pub grader_sd_mm2: f64,
    /// Axial matrix sizes (square), inclusive range, in steps of 32.
    pub axial_matrix: (usize, usize),
    /// Axial field of view range (mm); drawn towards its lower end.
    pub axial_fov_mm: (f64, f64),
    /// Slices per disc level in an axial stack (inclusive range).
    pub slices_per_level: (usize, usize),
    /// Sagittal matrix sizes (square), inclusive range.
    pub sagittal_matrix: (usize, usize),
    /// Slices per sagittal series (inclusive range).
    pub sagittal_slices: (usize, usize),
    /// Fraction of axial T2 series acquired as one continuous stack from above L1/L2 to below
    /// L5/S1 (30–60 parallel slices, vertebral bodies included) instead of one short stack per
    /// disc. Default 0.33: many real series are acquired this way, so a third of ours are.
    pub continuous_share: f64,
    /// Fraction of studies with a second axial T2 series.
    pub second_axial_rate: f64,
    /// Fraction of series stored RLE Lossless (the rest native Explicit VR Little Endian).
    pub rle_rate: f64,
    /// Fraction of axial series whose instance numbers do not follow position.
    pub unordered_instance_rate: f64,
    /// Fraction of series without `SliceLocation`, and (independently) without `SliceThickness`.
    pub missing_tag_rate: f64,
    /// Fraction of axial series whose stacks have different matrix sizes.
    pub mixed_matrix_rate: f64,
    /// Fraction of labels left empty in `train.csv`.
    pub missing_label_rate: f64,
    /// Whether to draw `synth_gallery.png`.
    pub gallery: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            studies: 124,
            seed: 42,
            prevalence: RSNA_PREVALENCE,
            grader_sd_mm2: 3.0,
            axial_matrix: (320, 448),
            axial_fov_mm: (160.0, 220.0),
            slices_per_level: (3, 5),
            sagittal_matrix: (256, 320),
            sagittal_slices: (13, 17),
            continuous_share: 0.33,
            second_axial_rate: 0.1,
            rle_rate: 0.95,
            unordered_instance_rate: 0.15,
            missing_tag_rate: 0.05,
            mixed_matrix_rate: 0.03,
            missing_label_rate: 0.01,
            gallery: true,
        }
    }
}

impl SynthConfig {
    /// A tiny dataset for tests of other modules: `studies` studies with 96–128 pixel axial
    /// images and short sagittal series; generates in about a second. No gallery.
    pub fn small(studies: usize, seed: u64) -> SynthConfig {
        SynthConfig {
            studies,
            seed,
            axial_matrix: (96, 128),
            sagittal_matrix: (64, 96),
            sagittal_slices: (5, 7),
            gallery: false,
            ..SynthConfig::default()
        }
    }

    /// Check every setting, naming the first that cannot work.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::invalid(format!("synthetic dataset: {what}")));
        if self.studies == 0 {
            return bad("--studies must be at least 1".into());
        }
        if self.studies > 100_000 {
            return bad(format!(
                "{} studies is more than the 100,000 allowed",
                self.studies
            ));
        }
        for (i, p) in self.prevalence.iter().enumerate() {
            let sum: f64 = p.iter().sum();
            if p.iter().any(|&v| !(0.0..=1.0).contains(&v)) || (sum - 1.0).abs() > 1e-6 {
                return bad(format!(
                    "prevalence of {} must be three fractions summing to 1, got {p:?}",
                    Level::ALL[i]
                ));
            }
        }
        if !(0.0..=50.0).contains(&self.grader_sd_mm2) {
            return bad(format!(
                "grader misjudgement {} mm² must be between 0 and 50",
                self.grader_sd_mm2
            ));
        }
        for (name, (lo, hi), min) in [
            ("axial matrix", self.axial_matrix, 32),
            ("sagittal matrix", self.sagittal_matrix, 32),
            ("slices per level", self.slices_per_level, 1),
            ("sagittal slices", self.sagittal_slices, 1),
        ] {
            if lo < min || hi < lo || hi > 2048 {
                return bad(format!(
                    "{name} range {lo}..={hi} is invalid (minimum {min})"
                ));
            }
        }
        let (fov_lo, fov_hi) = self.axial_fov_mm;
        if !(fov_lo >= 50.0 && fov_hi >= fov_lo && fov_hi <= 500.0) {
            return bad(format!(
                "axial field of view {fov_lo}..{fov_hi} mm is invalid"
            ));
        }
        for (name, rate) in [
            ("--continuous-share", self.continuous_share),
            ("second axial rate", self.second_axial_rate),
            ("RLE rate", self.rle_rate),
            ("unordered instance rate", self.unordered_instance_rate),
            ("missing tag rate", self.missing_tag_rate),
            ("mixed matrix rate", self.mixed_matrix_rate),
            ("missing label rate", self.missing_label_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return bad(format!("{name} {rate} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}
