//! One axial series through the network: its headers, its slices' levels (as the honest
//! `prepare` assigns them), the network input of each slice, the inference, and the mean per
//! level — and the types that hold the result.

use super::Predictor;
use crate::dicom::{read_header, read_slice, SliceHeader};
use crate::error::{Error, Result};
use crate::levels::assign_series_levels;
use crate::metrics::{
    aggregate_slice_predictions, argmax, LevelPrediction, CLASS_NAMES, MODERATE, NORMAL_MILD,
    NUM_CLASSES, SEVERE,
};
use crate::model::paper_cnn::CHANNELS;
use crate::model::predict;
use crate::prepare::image_ops::slice_to_u8;
use crate::prepare::manifest::network_input;
use crate::prepare::pipeline::honest_level_seed;
use crate::rsna::layout::dicom_files;
use crate::rsna::Level;
use ndarray::{Array3, Array4, Axis};
use rayon::prelude::*;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Images per forward pass.
const BATCH_SIZE: usize = 32;

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
}

impl Predictor {
    /// Predict one axial series: read the headers of every `.dcm` file in `series_dir`
    /// (unreadable ones skipped with a warning), keep the axial slices, assign their levels as
    /// the honest `prepare` does (the folder name, if a number, is the series id that varies
    /// the K-Means seed; a continuous stack, lacking the sagittal label points `prepare` locates
    /// its discs with, gets them from K-Means, with a warning), decode and preprocess the placed
    /// slices, run the model, and average per level.
    ///
    /// Errors: the folder is missing or holds no `.dcm` file, no slice is readable, no slice
    /// is axial, or no slice can be placed at a level.
    pub fn predict_series(&mut self, series_dir: &Path) -> Result<SeriesPrediction> {
        let shown = series_dir.display();
        if series_dir.is_file() {
            return Err(Error::invalid(format!(
                "{shown} is a file, not a folder of DICOM files; pass the folder of one axial series (the folder that holds its .dcm files{})",
                series_dir
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(|p| format!(", here perhaps {}", p.display()))
                    .unwrap_or_default()
            )));
        }
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

        // Levels, as the honest pipeline assigns them (without the sagittal label points).
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
pub(super) fn level_means(
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
