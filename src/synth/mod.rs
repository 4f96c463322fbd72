//! A synthetic dataset in the RSNA 2024 layout, graded by the clinical criterion.
//!
//! The real RSNA download cannot ship with the crate, so [`generate`] writes a dataset that a
//! reader cannot tell apart from it by format (`train.csv`, `train_series_descriptions.csv`,
//! `train_label_coordinates.csv`, `train_images/<study>/<series>/<instance>.dcm`, RLE-compressed
//! 12-bit MR images with oblique geometry and the quirks of the real files), whose axial T2
//! images carry the sign radiologists grade central canal stenosis by: the **dural-sac area**.
//! Normal/Mild ≥ 100 mm², Moderate 75–100 mm², Severe < 75 mm², with graders who
//! misjudge the area a little, so the best achievable accuracy is known ([`BayesCeiling`]).
//!
//! It also writes `synth_truth.csv`, the answer key the real data lacks (per axial slice: level,
//! sac area, labels, position), and `synth_gallery.png` (one axial slice per grade).
//!
//! Modules, in the order a reader meets them: [`grading`] (areas and labels), [`geometry`]
//! (where slices are), [`shapes`] and [`axial`] (the phantom), [`mr_signal`] (noise and bias),
//! [`sagittal`], [`rle_encoder`] and [`dicom_writer`] (the files), [`kaggle_csv`], [`study`]
//! (one study from plan to files) and [`gallery`].

pub mod axial;
pub mod dicom_writer;
pub mod gallery;
pub mod geometry;
pub mod grading;
pub mod kaggle_csv;
pub mod mr_signal;
pub mod rle_encoder;
pub mod sagittal;
pub mod shapes;
pub mod study;
pub mod summary_file;

pub use grading::{severity_of_area, BayesCeiling, Prevalence, RSNA_PREVALENCE};

use crate::error::{Error, Result};
use crate::rsna::{Level, Severity};
use crate::seed::path_seed;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use study::StudyPlan;

/// Name of the gallery figure written next to the CSV files.
pub const GALLERY_FILE: &str = "synth_gallery.png";
/// Name of the answer key.
pub const TRUTH_FILE: &str = "synth_truth.csv";
/// The files and folder [`generate`] writes (removed first when overwriting).
pub const OUTPUTS: [&str; 7] = [
    "train.csv",
    "train_series_descriptions.csv",
    "train_label_coordinates.csv",
    TRUTH_FILE,
    summary_file::SUMMARY_FILE,
    GALLERY_FILE,
    "train_images",
];

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

/// What [`generate`] made: counts, size and the ceiling any model can reach.
#[derive(Clone, Debug)]
pub struct SynthSummary {
    /// Studies written.
    pub studies: usize,
    /// Series written.
    pub series: usize,
    /// DICOM files written.
    pub files: usize,
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

/// Make `out` ready: refuse a non-empty folder unless `overwrite`, in which case the previous
/// synthetic dataset's files are removed (nothing else in the folder is touched). A folder with
/// RSNA files but no `synth_truth.csv` looks like the real download and is never overwritten.
fn prepare_output(out: &Path, overwrite: bool) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::invalid(format!(
                "{} exists and is not a folder",
                out.display()
            )));
        }
        let non_empty = std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some();
        if non_empty && !overwrite {
            return Err(Error::invalid(format!(
                "{} exists and is not empty; choose another --out or pass --overwrite",
                out.display()
            )));
        }
        let has_dataset = OUTPUTS.iter().any(|name| out.join(name).exists());
        if has_dataset && !out.join(TRUTH_FILE).exists() {
            return Err(Error::invalid(format!(
                "{} holds RSNA files but no {TRUTH_FILE}: it looks like the real download, which \
                 --overwrite never replaces",
                out.display()
            )));
        }
        for name in OUTPUTS {
            let path = out.join(name);
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else if path.exists() {
                std::fs::remove_file(&path)
            } else {
                Ok(())
            };
            removed.map_err(|e| Error::io(&path, e))?;
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    // The answer key goes first (header only, rewritten at the end), so that even an
    // interrupted run leaves a folder that --overwrite recognises as synthetic.
    kaggle_csv::write_truth(&out.join(TRUTH_FILE), &[])
}

/// `count` distinct ids in Kaggle's range, drawn from `rng`.
fn unique_ids(count: usize, rng: &mut StdRng, taken: &mut HashSet<u64>) -> Vec<u64> {
    let mut ids = Vec::with_capacity(count);
    while ids.len() < count {
        let id = rng.random_range(1_000_000u64..4_294_967_295);
        if taken.insert(id) {
            ids.push(id);
        }
    }
    ids
}

/// Make every random choice of the dataset (ids, anatomy, areas, labels, geometry) without
/// drawing anything: cheap, and what [`generate`] renders. Studies come in ascending `study_id`.
pub fn plan_studies(config: &SynthConfig) -> Result<Vec<StudyPlan>> {
    config.validate()?;
    let mut rng = StdRng::seed_from_u64(path_seed(config.seed, &[0]));
    let mut taken = HashSet::new();
    let mut study_ids = unique_ids(config.studies, &mut rng, &mut taken);
    study_ids.sort_unstable();
    let series_ids: Vec<Vec<u64>> = (0..config.studies)
        .map(|_| unique_ids(4, &mut rng, &mut taken))
        .collect();
    Ok((0..config.studies)
        .into_par_iter()
        .map(|i| StudyPlan::new(config, i, study_ids[i], &series_ids[i]))
        .collect())
}

/// Write the synthetic dataset described by `config` into `out` (see the module docs) with its
/// `synth_summary.json`, in parallel, with a progress bar on standard error when `progress`. The same config always
/// produces byte-identical files, whatever the number of threads.
pub fn generate(
    config: &SynthConfig,
    out: &Path,
    overwrite: bool,
    progress: bool,
) -> Result<SynthSummary> {
    config.validate()?;
    prepare_output(out, overwrite)?;
    let plans = plan_studies(config)?;
    let bar = if progress {
        let bar = indicatif::ProgressBar::new(plans.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "synth {bar:40} {pos}/{len} studies [{elapsed_precise} < {eta_precise}]",
            )
            .expect("the progress template is valid"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let outputs = plans
        .par_iter()
        .map(|plan| {
            let output = plan.write(out);
            bar.inc(1);
            output
        })
        .collect::<Result<Vec<_>>>()?;
    bar.finish_and_clear();

    let train_rows: Vec<_> = outputs.iter().map(|o| o.train.clone()).collect();
    kaggle_csv::write_train(&out.join("train.csv"), &train_rows)?;
    let series: Vec<_> = outputs
        .iter()
        .flat_map(|o| o.series.iter().copied())
        .collect();
    kaggle_csv::write_series(&out.join("train_series_descriptions.csv"), &series)?;
    let coordinates: Vec<_> = outputs
        .iter()
        .flat_map(|o| o.coordinates.iter().copied())
        .collect();
    kaggle_csv::write_coordinates(&out.join("train_label_coordinates.csv"), &coordinates)?;
    let truth: Vec<_> = outputs
        .iter()
        .flat_map(|o| o.truth.iter().cloned())
        .collect();
    kaggle_csv::write_truth(&out.join(TRUTH_FILE), &truth)?;

    let mut slice_counts = [0; 3];
    let mut labelled_areas = Vec::new();
    for row in &truth {
        if let Some(label) = row.label {
            slice_counts[label.rank()] += 1;
            labelled_areas.push(row.level_area_mm2);
        }
    }
    let mut level_counts = [0; 3];
    let (mut missing_labels, mut disagree) = (0, 0);
    for plan in &plans {
        for (level, label) in plan.labels[0].iter().enumerate() {
            match label {
                Some(grade) => {
                    level_counts[grade.rank()] += 1;
                    if *grade != severity_of_area(plan.levels[level].sac_area_mm2) {
                        disagree += 1;
                    }
                }
                None => missing_labels += 1,
            }
        }
    }
    let gallery = if config.gallery {
        Some(gallery::write_gallery(out, &truth)?)
    } else {
        None
    };
    let summary = SynthSummary {
        studies: plans.len(),
        series: series.len(),
        files: outputs.iter().map(|o| o.files).sum(),
        dicom_bytes: outputs.iter().map(|o| o.bytes).sum(),
        slice_counts,
        level_counts,
        missing_labels,
        disagreement: disagree as f64 / level_counts.iter().sum::<usize>().max(1) as f64,
        bayes: grading::bayes_ceiling(&labelled_areas, config.grader_sd_mm2),
        gallery,
    };
    // Kept beside the data, so a later run's report can quote the Bayes ceiling.
    summary_file::save_summary(out, config, &summary)?;
    Ok(summary)
}
