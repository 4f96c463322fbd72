//! Writing one study: its DICOM files under `train_images/`, with deterministic UIDs, and what it
//! contributes to the CSV files.

use super::dicom_writer::{write_slice, SliceTags};
use super::kaggle_csv::{CoordinateRow, TrainRow, TruthRow};
use super::series::SeriesKind;
use super::study::StudyPlan;
use crate::error::Result;
use crate::seed::{path_seed, splitmix64};
use std::path::Path;

/// A deterministic DICOM UID under the `2.25` (UUID-derived) root.
fn uid(seed: u64, parts: &[u64]) -> String {
    let hi = path_seed(seed, parts);
    let lo = splitmix64(hi ^ 0x5DEE_CE66);
    format!("2.25.{}", ((hi as u128) << 64 | lo as u128) >> 2)
}

/// Everything a study contributes to the CSV files.
pub struct StudyOutput {
    /// Its `train.csv` row.
    pub train: TrainRow,
    /// Its `train_series_descriptions.csv` rows.
    pub series: Vec<(u64, u64, &'static str)>,
    /// Its `train_label_coordinates.csv` rows.
    pub coordinates: Vec<CoordinateRow>,
    /// Its `synth_truth.csv` rows (one per axial slice).
    pub truth: Vec<TruthRow>,
    /// DICOM files written.
    pub files: usize,
    /// Bytes of DICOM written.
    pub bytes: u64,
}

/// The path of one image: `train_images/<study_id>/<series_id>/<instance_number>.dcm`.
pub fn image_path(root: &Path, study_id: u64, series_id: u64, instance: u32) -> std::path::PathBuf {
    root.join("train_images")
        .join(study_id.to_string())
        .join(series_id.to_string())
        .join(format!("{instance}.dcm"))
}

impl StudyPlan {
    /// Render and write every file of the study under `root`, returning its CSV rows.
    pub fn write(&self, root: &Path) -> Result<StudyOutput> {
        let study_uid = uid(self.seed, &[10]);
        let frame_uid = uid(self.seed, &[11]);
        let patient_id = self.study_id.to_string();
        let mut coordinates = Vec::new();
        let mut truth = Vec::new();
        let mut files = 0;
        let mut bytes = 0;
        for series in &self.series {
            let series_uid = uid(self.seed, &[12, series.series_id]);
            for slice in &series.slices {
                let pixels = if series.kind == SeriesKind::AxialT2 {
                    let rendered = self.render_axial_slice(series, slice, true);
                    self.axial_rows(series, slice, &rendered, &mut truth, &mut coordinates);
                    rendered.pixels
                } else {
                    self.stored_pixels(series, slice)
                };
                let sop_uid = uid(
                    self.seed,
                    &[13, series.series_id, slice.instance_number as u64],
                );
                let tags = SliceTags {
                    patient_id: &patient_id,
                    study_uid: &study_uid,
                    series_uid: &series_uid,
                    sop_uid: &sop_uid,
                    frame_uid: &frame_uid,
                    series_number: series.number,
                    instance_number: slice.instance_number,
                    plane: &slice.plane,
                    slice_thickness: series.has_thickness.then_some(slice.thickness),
                    slice_location: series.has_location.then(|| slice.plane.location()),
                };
                let path = image_path(root, self.study_id, series.series_id, slice.instance_number);
                bytes += write_slice(&path, &tags, &pixels, series.encoding)?;
                files += 1;
            }
            if series.kind != SeriesKind::AxialT2 {
                self.sagittal_points(series, &mut coordinates);
            }
        }
        coordinates.sort_by_key(|c| (c.condition, c.level, c.series_id));
        Ok(StudyOutput {
            train: TrainRow {
                study_id: self.study_id,
                labels: self.labels,
            },
            series: self
                .series
                .iter()
                .map(|s| (self.study_id, s.series_id, s.kind.description()))
                .collect(),
            coordinates,
            truth,
            files,
            bytes,
        })
    }
}
