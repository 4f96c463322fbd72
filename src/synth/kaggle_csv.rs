//! The CSV files of the RSNA 2024 download, with Kaggle's exact headers, plus the answer key
//! `synth_truth.csv` that only the synthetic data has.

use crate::error::{Error, Result};
use crate::rsna::{Level, Severity};
use std::path::Path;

/// The five graded conditions, in `train.csv` column order, as (column prefix, name in
/// `train_label_coordinates.csv`).
pub const CONDITIONS: [(&str, &str); 5] = [
    ("spinal_canal_stenosis", "Spinal Canal Stenosis"),
    (
        "left_neural_foraminal_narrowing",
        "Left Neural Foraminal Narrowing",
    ),
    (
        "right_neural_foraminal_narrowing",
        "Right Neural Foraminal Narrowing",
    ),
    ("left_subarticular_stenosis", "Left Subarticular Stenosis"),
    ("right_subarticular_stenosis", "Right Subarticular Stenosis"),
];

/// Level suffixes of the `train.csv` columns, L1/L2 … L5/S1.
pub const LEVEL_SUFFIXES: [&str; 5] = ["l1_l2", "l2_l3", "l3_l4", "l4_l5", "l5_s1"];

/// The header of `train_series_descriptions.csv`.
pub const SERIES_HEADER: &str = "study_id,series_id,series_description";
/// The header of `train_label_coordinates.csv`.
pub const COORDINATES_HEADER: &str = "study_id,series_id,instance_number,condition,level,x,y";
/// The header of `synth_truth.csv` (one row per axial slice; `level`, `level_area_mm2`,
/// `area_grade` and `label` are empty on a slice at no disc).
pub const TRUTH_HEADER: &str = "study_id,series_id,instance_number,level,offset_mm,position_mm,\
dural_sac_area_mm2,level_area_mm2,area_grade,label,rows,columns,pixel_spacing_mm,sac_x,sac_y,\
sac_half_x,sac_half_y";

/// The header of `train.csv`: `study_id` and the 25 label columns (condition-major).
pub fn train_header() -> String {
    let mut columns = vec!["study_id".to_string()];
    for (prefix, _) in CONDITIONS {
        for level in LEVEL_SUFFIXES {
            columns.push(format!("{prefix}_{level}"));
        }
    }
    columns.join(",")
}

/// One row of `train.csv`: labels `[condition][level]`, `None` written as an empty cell.
#[derive(Clone, Debug)]
pub struct TrainRow {
    /// The study.
    pub study_id: u64,
    /// Labels per condition (in [`CONDITIONS`] order) and level.
    pub labels: [[Option<Severity>; 5]; 5],
}

/// One row of `train_label_coordinates.csv`.
#[derive(Clone, Copy, Debug)]
pub struct CoordinateRow {
    /// The study.
    pub study_id: u64,
    /// The series the point is on.
    pub series_id: u64,
    /// The slice the point is on.
    pub instance_number: u32,
    /// Index into [`CONDITIONS`].
    pub condition: usize,
    /// Level index 0–4.
    pub level: usize,
    /// Pixel column.
    pub x: f64,
    /// Pixel row.
    pub y: f64,
}

/// One row of `synth_truth.csv`: the answer key of one axial slice.
#[derive(Clone, Debug)]
pub struct TruthRow {
    /// The study.
    pub study_id: u64,
    /// The axial series.
    pub series_id: u64,
    /// The slice.
    pub instance_number: u32,
    /// Level index 0–4 (L1/L2 … L5/S1); `None` (an empty cell) for a slice of a continuous
    /// stack through a vertebral body, at no disc.
    pub level: Option<usize>,
    /// Distance of the slice from the nearest disc (mm, + towards the head).
    pub offset_mm: f64,
    /// Position along the spine: the slice centre's z in patient coordinates (mm, + head).
    pub position_mm: f64,
    /// Dural-sac area drawn on this slice (mm²).
    pub sac_area_mm2: f64,
    /// Dural-sac area at the level's disc (mm²), which the label follows; `None` at no disc.
    pub level_area_mm2: Option<f64>,
    /// The clinical grade of `level_area_mm2` (no grader noise); `None` at no disc.
    pub area_grade: Option<Severity>,
    /// The label written in `train.csv` (grader noise included; `None` if missing or at no
    /// disc).
    pub label: Option<Severity>,
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub columns: usize,
    /// Pixel size (mm).
    pub spacing_mm: f64,
    /// Pixel column of the sac centre.
    pub sac_x: f64,
    /// Pixel row of the sac centre.
    pub sac_y: f64,
    /// Half-extent of the sac along the columns (pixels).
    pub sac_half_x: f64,
    /// Half-extent of the sac along the rows (pixels).
    pub sac_half_y: f64,
}

fn grade_cell(grade: Option<Severity>) -> &'static str {
    grade.map(Severity::csv_name).unwrap_or("")
}

/// Assemble a CSV file from a header line and rows of already-formatted cells.
fn write_csv(path: &Path, header: &str, rows: impl Iterator<Item = Vec<String>>) -> Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::format(path.display(), format!("CSV: {e}"));
    writer.write_record(header.split(',')).map_err(csv_error)?;
    for row in rows {
        writer.write_record(&row).map_err(csv_error)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::format(path.display(), format!("CSV: {e}")))?;
    crate::atomic_write::write_atomic(path, &bytes)
}

/// Write `train.csv`.
pub fn write_train(path: &Path, rows: &[TrainRow]) -> Result<()> {
    let header = train_header();
    write_csv(
        path,
        &header,
        rows.iter().map(|r| {
            let mut cells = vec![r.study_id.to_string()];
            for condition in &r.labels {
                cells.extend(condition.iter().map(|&g| grade_cell(g).to_string()));
            }
            cells
        }),
    )
}

/// Write `train_series_descriptions.csv` from `(study_id, series_id, description)`.
pub fn write_series(path: &Path, rows: &[(u64, u64, &str)]) -> Result<()> {
    write_csv(
        path,
        SERIES_HEADER,
        rows.iter()
            .map(|(s, r, d)| vec![s.to_string(), r.to_string(), d.to_string()]),
    )
}

/// Write `train_label_coordinates.csv`.
pub fn write_coordinates(path: &Path, rows: &[CoordinateRow]) -> Result<()> {
    write_csv(
        path,
        COORDINATES_HEADER,
        rows.iter().map(|r| {
            vec![
                r.study_id.to_string(),
                r.series_id.to_string(),
                r.instance_number.to_string(),
                CONDITIONS[r.condition].1.to_string(),
                Level::ALL[r.level].name().to_string(),
                format!("{:.3}", r.x),
                format!("{:.3}", r.y),
            ]
        }),
    )
}

/// Write `synth_truth.csv`.
pub fn write_truth(path: &Path, rows: &[TruthRow]) -> Result<()> {
    write_csv(
        path,
        TRUTH_HEADER,
        rows.iter().map(|r| {
            vec![
                r.study_id.to_string(),
                r.series_id.to_string(),
                r.instance_number.to_string(),
                r.level
                    .map_or(String::new(), |l| Level::ALL[l].name().to_string()),
                format!("{:.2}", r.offset_mm),
                format!("{:.2}", r.position_mm),
                format!("{:.2}", r.sac_area_mm2),
                r.level_area_mm2
                    .map_or(String::new(), |a| format!("{a:.2}")),
                grade_cell(r.area_grade).to_string(),
                grade_cell(r.label).to_string(),
                r.rows.to_string(),
                r.columns.to_string(),
                format!("{:.6}", r.spacing_mm),
                format!("{:.2}", r.sac_x),
                format!("{:.2}", r.sac_y),
                format!("{:.2}", r.sac_half_x),
                format!("{:.2}", r.sac_half_y),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_header_has_26_columns_in_kaggle_order() {
        let header = train_header();
        let columns: Vec<&str> = header.split(',').collect();
        assert_eq!(columns.len(), 26);
        assert_eq!(columns[1], "spinal_canal_stenosis_l1_l2");
        assert_eq!(columns[6], "left_neural_foraminal_narrowing_l1_l2");
        assert_eq!(columns[25], "right_subarticular_stenosis_l5_s1");
    }
}
