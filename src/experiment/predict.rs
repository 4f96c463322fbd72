//! `lumbar predict`: a trained model applied to new scans.
//!
//! - [`Predictor::predict_series`]: the severity probabilities per disc level of one axial T2
//!   series (a folder of `.dcm` files). Every step is the one the training data went through:
//!   the slices get their levels from the series' geometry exactly as the honest `prepare` did
//!   ([`assign_series_levels`], same seed), each slice becomes the same 8-bit image
//!   ([`slice_to_u8`]) and the same network input ([`network_input`]), and the slice
//!   probabilities of a level are averaged ([`aggregate_slice_predictions`], as in evaluation).
//!   Levels always come from the series' geometry, also for a model trained with
//!   `--protocol paper` (whose training levels came from the global K-Means and are mostly
//!   misnamed, design §1): the rows of a prediction name the true disc.
//! - [`write_submission`]: every study of a Kaggle-layout test folder
//!   (`test_series_descriptions.csv`, `test_images/<study>/<series>/*.dcm`) as a Kaggle
//!   submission CSV, one row per study and level.

use crate::atomic_write::write_atomic;
use crate::dicom::{read_header, read_slice, SliceHeader};
use crate::error::{Error, Result};
use crate::experiment::run::read_run_config;
use crate::levels::assign_series_levels;
use crate::metrics::{
    aggregate_slice_predictions, argmax, LevelPrediction, CLASS_NAMES, MODERATE, NORMAL_MILD,
    NUM_CLASSES, SEVERE,
};
use crate::model::checkpoint::{architecture_path, load_architecture, load_model};
use crate::model::paper_cnn::{CHANNELS, CLASSES};
use crate::model::{predict, Architecture};
use crate::nn::Sequential;
use crate::prepare::image_ops::slice_to_u8;
use crate::prepare::manifest::network_input;
use crate::prepare::pipeline::honest_level_seed;
use crate::rsna::layout::dicom_files;
use crate::rsna::records::read_series_descriptions;
use crate::rsna::Level;
use ndarray::{Array3, Array4, Axis};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Images per forward pass.
const BATCH_SIZE: usize = 32;

/// The seed of `lumbar run` when none is given; used for the level assignment when the model
/// folder has no `config.json` to read the run's seed from.
pub const DEFAULT_RUN_SEED: u64 = 42;

/// Spinal canal class frequencies of the RSNA 2024 training labels (design §3) in our class
/// order (Moderate 0.075, Normal/Mild 0.878, Severe 0.048). They add up to 1.001 (rounding),
/// so [`prior_probabilities`] divides them by their sum.
pub const CLASS_FREQUENCIES: [f32; NUM_CLASSES] = [0.075, 0.878, 0.048];

/// The prediction for a level where no slice was found: [`CLASS_FREQUENCIES`] normalised to
/// sum to 1 (≈ Moderate 0.0749, Normal/Mild 0.8771, Severe 0.0480). The prior is the best
/// guess without an image: it minimises the expected log loss when nothing is known.
pub fn prior_probabilities() -> [f32; NUM_CLASSES] {
    let sum: f32 = CLASS_FREQUENCIES.iter().sum();
    CLASS_FREQUENCIES.map(|f| f / sum)
}

/// The header of a Kaggle submission for spinal canal stenosis.
pub const SUBMISSION_HEADER: &str = "row_id,normal_mild,moderate,severe";

/// One slice that reached the network.
#[derive(Clone, Debug, PartialEq)]
pub struct SlicePrediction {
    /// The DICOM file.
    pub path: PathBuf,
    /// Its instance number (from the header, or the file name when the tag is missing).
    pub instance: i64,
    /// The disc level it was assigned.
    pub level: Level,
    /// Softmax probabilities in our class order (0 Moderate, 1 Normal/Mild, 2 Severe).
    pub probabilities: [f32; NUM_CLASSES],
}

/// The mean prediction of one disc level of a series.
#[derive(Clone, Debug, PartialEq)]
pub struct LevelProbabilities {
    /// The disc level.
    pub level: Level,
    /// How many slices were averaged.
    pub slices: usize,
    /// Mean probabilities in our class order (0 Moderate, 1 Normal/Mild, 2 Severe).
    pub probabilities: [f32; NUM_CLASSES],
}

impl LevelProbabilities {
    /// The most probable class (0 Moderate, 1 Normal/Mild, 2 Severe).
    pub fn predicted(&self) -> usize {
        argmax(&self.probabilities)
    }
}

/// What [`Predictor::predict_series`] found in one series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesPrediction {
    /// The series folder.
    pub series_dir: PathBuf,
    /// `.dcm` files in the folder.
    pub files: usize,
    /// Every slice that was given a level and predicted, in file order.
    pub slices: Vec<SlicePrediction>,
    /// One entry per level with at least one slice, L1/L2 first.
    pub levels: Vec<LevelProbabilities>,
    /// Files skipped and other problems met on the way, one sentence each.
    pub warnings: Vec<String>,
}

impl SeriesPrediction {
    /// The per-level table `lumbar predict` prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<7} {:>6} {:>12} {:>9} {:>7}  predicted",
            "level", "slices", CLASS_NAMES[NORMAL_MILD], CLASS_NAMES[MODERATE], CLASS_NAMES[SEVERE]
        );
        for l in &self.levels {
            let p = l.probabilities;
            let _ = writeln!(
                out,
                "{:<7} {:>6} {:>12.3} {:>9.3} {:>7.3}  {}",
                l.level.name(),
                l.slices,
                p[NORMAL_MILD],
                p[MODERATE],
                p[SEVERE],
                CLASS_NAMES[l.predicted()]
            );
        }
        out
    }

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

/// A trained model ready to predict, with the seed its run assigned levels with.
pub struct Predictor {
    model: Sequential,
    architecture: Architecture,
    run_seed: u64,
}

impl Predictor {
    /// Load the model of a run folder written by `lumbar run` (`model.safetensors` and
    /// `model.json`; the run's seed from `config.json` when present, else
    /// [`DEFAULT_RUN_SEED`]). Errors name the folder or file: a missing folder or file, an
    /// architecture that is not the paper's network, weights that do not fit it.
    pub fn load(model_dir: &Path) -> Result<Predictor> {
        if !model_dir.is_dir() {
            return Err(Error::invalid(format!(
                "--model {}: no such folder; pass a run folder written by `lumbar run` (it holds model.safetensors and model.json)",
                model_dir.display()
            )));
        }
        let weights = model_dir.join("model.safetensors");
        for file in [weights.clone(), architecture_path(&weights)] {
            if !file.is_file() {
                return Err(Error::invalid(format!(
                    "--model {}: {} is missing; a run folder written by `lumbar run` holds model.safetensors and model.json",
                    model_dir.display(),
                    file.file_name().unwrap_or_default().to_string_lossy()
                )));
            }
        }
        let architecture = load_architecture(&weights)?;
        if architecture.name != "paper_cnn"
            || architecture.channels != CHANNELS
            || architecture.classes != CLASSES
        {
            return Err(Error::format(
                architecture_path(&weights).display(),
                format!(
                    "the model is {:?} with {} channels and {} classes, not the paper's network (paper_cnn, {CHANNELS} channels, {CLASSES} classes)",
                    architecture.name, architecture.channels, architecture.classes
                ),
            ));
        }
        let (model, architecture) = load_model(&weights)?;
        let run_seed = if model_dir.join("config.json").is_file() {
            read_run_config(model_dir)?.seed
        } else {
            DEFAULT_RUN_SEED
        };
        Ok(Predictor {
            model,
            architecture,
            run_seed,
        })
    }

    /// Side of the square images the model takes, pixels.
    pub fn image_size(&self) -> usize {
        self.architecture.image_size
    }

    /// Predict one axial series: read the headers of every `.dcm` file in `series_dir`
    /// (unreadable ones skipped with a warning), keep the axial slices, assign their levels as
    /// the honest `prepare` does (the folder name, if a number, is the series id that varies
    /// the K-Means seed), decode and preprocess the placed slices, run the model, and average
    /// per level.
    ///
    /// Errors: the folder is missing or holds no `.dcm` file, no slice is readable, no slice
    /// is axial, or no slice can be placed at a level.
    pub fn predict_series(&mut self, series_dir: &Path) -> Result<SeriesPrediction> {
        let shown = series_dir.display();
        if !series_dir.is_dir() {
            return Err(Error::invalid(format!(
                "series folder {shown} does not exist; pass the folder of one axial series (its .dcm files)"
            )));
        }
        let files = dicom_files(series_dir)?;
        if files.is_empty() {
            return Err(Error::invalid(format!(
                "{shown}: the folder holds no .dcm files"
            )));
        }
        let mut warnings = Vec::new();
        let slices = read_axial_headers(series_dir, &files, &mut warnings)?;

        // Levels, exactly as the honest pipeline assigns them.
        let series_key = series_dir
            .file_name()
            .and_then(|n| n.to_str()?.parse::<u64>().ok())
            .unwrap_or(0);
        let headers: Vec<&SliceHeader> = slices.iter().map(|(_, h)| h).collect();
        let assigned =
            assign_series_levels(&headers, honest_level_seed(self.run_seed), series_key)?;
        if assigned.levels.iter().all(Option::is_none) {
            return Err(Error::invalid(format!(
                "{shown}: no slice could be placed at a disc level ({})",
                assigned.warning.as_deref().unwrap_or("no slice position")
            )));
        }
        if let Some(w) = &assigned.warning {
            warnings.push(format!("{shown}: {w}"));
        }
        let placed: Vec<(i64, &SliceHeader, Level)> = slices
            .iter()
            .zip(&assigned.levels)
            .filter_map(|((instance, header), level)| Some((*instance, header, (*level)?)))
            .collect();

        // Pixels → the network's input, in parallel; undecodable slices are skipped.
        let size = self.image_size();
        let decoded: Vec<Result<_>> = placed
            .par_iter()
            .map(|(_, header, _)| slice_input(&header.path, size))
            .collect();
        let mut inputs = Vec::new();
        let mut kept = Vec::new();
        for ((instance, header, level), image) in placed.iter().zip(decoded) {
            match image {
                Ok(image) => {
                    inputs.push(image);
                    kept.push((header.path.clone(), *instance, *level));
                }
                Err(e) => warnings.push(format!("skipped {e}")),
            }
        }
        if inputs.is_empty() {
            return Err(Error::invalid(format!(
                "{shown}: no readable slices (the pixel data of every placed slice failed to decode)"
            )));
        }
        let mut batch = Array4::zeros((inputs.len(), size, size, CHANNELS));
        for (mut out, image) in batch.axis_iter_mut(Axis(0)).zip(&inputs) {
            out.assign(image);
        }
        let probabilities = predict(&mut self.model, &batch.into_dyn(), BATCH_SIZE)?;

        let slices: Vec<SlicePrediction> = kept
            .into_iter()
            .zip(probabilities.rows())
            .map(|((path, instance, level), p)| SlicePrediction {
                path,
                instance,
                level,
                probabilities: [p[0], p[1], p[2]],
            })
            .collect();
        let levels = level_means(&slices, 0)?
            .into_iter()
            .map(|(level, slices, probabilities)| LevelProbabilities {
                level,
                slices,
                probabilities,
            })
            .collect();
        Ok(SeriesPrediction {
            series_dir: series_dir.to_path_buf(),
            files: files.len(),
            slices,
            levels,
            warnings,
        })
    }
}

/// One DICOM slice as the network's input `[size, size, 3]` in `[0, 1]`, exactly as training
/// saw it: `prepare`'s 8-bit PNG pixels ([`slice_to_u8`]) loaded as `load_images` loads them
/// ([`network_input`]).
pub fn slice_input(path: &Path, size: usize) -> Result<Array3<f32>> {
    let slice = read_slice(path)?;
    Ok(network_input(
        slice_to_u8(slice.pixels.view(), size).view(),
        size,
    ))
}

/// Read the headers of `files` in parallel and keep what the honest pipeline keeps: readable
/// files with an instance number (header, else file name), axial slices, the first slice of a
/// repeated instance number. Skips go to `warnings`; returns `(instance, header)` in file order.
fn read_axial_headers(
    series_dir: &Path,
    files: &[PathBuf],
    warnings: &mut Vec<String>,
) -> Result<Vec<(i64, SliceHeader)>> {
    let shown = series_dir.display();
    let headers: Vec<Result<SliceHeader>> = files.par_iter().map(|p| read_header(p)).collect();
    let mut readable = Vec::new();
    let mut first_error = None;
    for (path, header) in files.iter().zip(headers) {
        let header = match header {
            Ok(h) => h,
            Err(e) => {
                warnings.push(format!("skipped {e}"));
                first_error.get_or_insert(e);
                continue;
            }
        };
        let from_name = path.file_stem().and_then(|s| s.to_str()?.parse().ok());
        match header.instance_number.or(from_name) {
            Some(instance) => readable.push((instance, header)),
            None => warnings.push(format!(
                "skipped {}: no InstanceNumber and the file name is not a number",
                path.display()
            )),
        }
    }
    if readable.is_empty() {
        let why = first_error
            .map(|e| format!(" (first error: {e})"))
            .unwrap_or_default();
        return Err(Error::invalid(format!(
            "{shown}: no readable slices among its {} .dcm files{why}",
            files.len()
        )));
    }
    let total = readable.len();
    readable.retain(|(_, h)| h.is_axial());
    if readable.is_empty() {
        return Err(Error::invalid(format!(
            "{shown}: not an axial series (none of its {total} slices has an axial orientation); pass an Axial T2 series"
        )));
    }
    if readable.len() < total {
        warnings.push(format!(
            "{shown}: {} non-axial slice(s) dropped",
            total - readable.len()
        ));
    }
    let mut seen = HashSet::new();
    let before = readable.len();
    readable.retain(|(instance, _)| seen.insert(*instance));
    if readable.len() < before {
        warnings.push(format!(
            "{shown}: {} slice(s) with a repeated instance number dropped",
            before - readable.len()
        ));
    }
    Ok(readable)
}

/// Mean probabilities per level of `slices` (each slice counts once), through the same
/// [`aggregate_slice_predictions`] the evaluation uses: `(level, slices, mean)`, L1/L2 first.
/// The true label is unknown here; the aggregation wants one, so every slice carries the
/// same placeholder, which is dropped.
fn level_means(
    slices: &[SlicePrediction],
    study_id: u64,
) -> Result<Vec<(Level, usize, [f32; NUM_CLASSES])>> {
    if slices.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<LevelPrediction> = slices
        .iter()
        .map(|s| LevelPrediction {
            study_id,
            level: s.level as usize,
            label: NORMAL_MILD,
            probs: s.probabilities,
        })
        .collect();
    Ok(aggregate_slice_predictions(&rows)?
        .into_iter()
        .map(|row| {
            let level = Level::ALL[row.level];
            let count = slices.iter().filter(|s| s.level == level).count();
            (level, count, row.probs)
        })
        .collect())
}

/// One row of a submission: a study's prediction at one level.
#[derive(Clone, Debug, PartialEq)]
pub struct SubmissionRow {
    /// The study.
    pub study_id: u64,
    /// The disc level.
    pub level: Level,
    /// Slices averaged over all the study's axial T2 series; 0 means the row is the prior.
    pub slices: usize,
    /// Probabilities in our class order (0 Moderate, 1 Normal/Mild, 2 Severe).
    pub probabilities: [f32; NUM_CLASSES],
}

impl SubmissionRow {
    /// `<study_id>_spinal_canal_stenosis_<l1_l2|…|l5_s1>`, Kaggle's row id.
    pub fn row_id(&self) -> String {
        format!(
            "{}_spinal_canal_stenosis_{}",
            self.study_id,
            self.level.column_suffix()
        )
    }
}

/// What [`write_submission`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubmissionSummary {
    /// Studies in `test_series_descriptions.csv` (5 rows each).
    pub studies: usize,
    /// Axial T2 series predicted successfully.
    pub series_predicted: usize,
    /// Axial T2 series that failed (their reason is in `warnings`).
    pub series_failed: usize,
    /// Rows filled with the prior because no slice was found at that level.
    pub rows_from_prior: usize,
    /// Every problem met, one sentence each.
    pub warnings: Vec<String>,
}

/// Predict every study of a Kaggle-layout folder: the studies listed in
/// `data_dir/test_series_descriptions.csv`, each from its `Axial T2` series under
/// `data_dir/test_images/<study>/<series>/`. Slices of several series of a study are pooled
/// per level (each slice counts once). A level with no slice gets [`prior_probabilities`]; a
/// series that cannot be predicted is a warning, not an error, so every study gets its 5 rows.
/// Rows come sorted by study, then level L1/L2 … L5/S1.
pub fn submission_rows(
    predictor: &mut Predictor,
    data_dir: &Path,
) -> Result<(Vec<SubmissionRow>, SubmissionSummary)> {
    let csv = data_dir.join("test_series_descriptions.csv");
    let images = data_dir.join("test_images");
    if !data_dir.is_dir() {
        return Err(Error::invalid(format!(
            "--data {}: no such folder; expected a Kaggle-layout folder with test_series_descriptions.csv and test_images/",
            data_dir.display()
        )));
    }
    for needed in [&csv, &images] {
        if !needed.exists() {
            return Err(Error::invalid(format!(
                "--data {}: {} is missing; expected test_series_descriptions.csv and test_images/<study_id>/<series_id>/*.dcm",
                data_dir.display(),
                needed.file_name().unwrap_or_default().to_string_lossy()
            )));
        }
    }
    let mut axial: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for d in read_series_descriptions(&csv)? {
        let series = axial.entry(d.study_id).or_default();
        if d.is_axial_t2() && !series.contains(&d.series_id) {
            series.push(d.series_id);
        }
    }
    let mut summary = SubmissionSummary {
        studies: axial.len(),
        ..Default::default()
    };
    let prior = prior_probabilities();
    let mut rows = Vec::with_capacity(axial.len() * Level::ALL.len());
    for (&study_id, series_ids) in &axial {
        if series_ids.is_empty() {
            summary.warnings.push(format!(
                "study {study_id}: no Axial T2 series in {}; its 5 rows are the prior",
                csv.display()
            ));
        }
        let mut slices = Vec::new();
        for &series_id in series_ids {
            let dir = images
                .join(study_id.to_string())
                .join(series_id.to_string());
            match predictor.predict_series(&dir) {
                Ok(prediction) => {
                    summary.series_predicted += 1;
                    summary.warnings.extend(prediction.warnings);
                    slices.extend(prediction.slices);
                }
                Err(e) => {
                    summary.series_failed += 1;
                    summary
                        .warnings
                        .push(format!("study {study_id} series {series_id} skipped: {e}"));
                }
            }
        }
        let means = level_means(&slices, study_id)?;
        for level in Level::ALL {
            let found = means.iter().find(|(l, _, _)| *l == level);
            let (slices, probabilities) = match found {
                Some((_, n, p)) => (*n, *p),
                None => {
                    summary.rows_from_prior += 1;
                    (0, prior)
                }
            };
            rows.push(SubmissionRow {
                study_id,
                level,
                slices,
                probabilities,
            });
        }
    }
    Ok((rows, summary))
}

/// The submission CSV text: [`SUBMISSION_HEADER`], then one line per row with the
/// probabilities in Kaggle's column order (normal_mild, moderate, severe — not our class
/// order), each printed as the shortest decimal that reads back as the same `f32`.
pub fn submission_csv(rows: &[SubmissionRow]) -> String {
    let mut out = String::from(SUBMISSION_HEADER);
    out.push('\n');
    for row in rows {
        let p = row.probabilities;
        let _ = writeln!(
            out,
            "{},{},{},{}",
            row.row_id(),
            p[NORMAL_MILD],
            p[MODERATE],
            p[SEVERE]
        );
    }
    out
}

/// Predict the Kaggle-layout folder `data_dir` ([`submission_rows`]) and write the
/// submission CSV to `out` (atomically).
pub fn write_submission(
    predictor: &mut Predictor,
    data_dir: &Path,
    out: &Path,
) -> Result<SubmissionSummary> {
    let (rows, summary) = submission_rows(predictor, data_dir)?;
    write_atomic(out, submission_csv(&rows).as_bytes())?;
    Ok(summary)
}
