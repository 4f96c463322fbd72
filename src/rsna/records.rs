//! Typed records of the three RSNA 2024 CSV files, read with the `csv` crate.
//!
//! Every reader checks the header for the columns it needs and reports a bad row as
//! `file:line: what was wrong (the value)`, so a user can open the file at that line.

use super::labels::{Level, Severity};
use crate::csv_lines::LineIndex;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// One row of `train.csv` reduced to what the study uses: the spinal canal stenosis grade of
/// each of the five levels (`None` where the cell is empty).
#[derive(Debug, Clone, PartialEq)]
pub struct StudyLabels {
    /// The study (patient examination) id, also the folder name under `train_images/`.
    pub study_id: u64,
    /// `spinal_canal_stenosis_<level>`, indexed by `Level as usize` (0 = L1/L2).
    pub spinal_canal: [Option<Severity>; 5],
}

impl StudyLabels {
    /// The spinal canal stenosis grade at `level`, `None` if missing.
    pub fn at(&self, level: Level) -> Option<Severity> {
        self.spinal_canal[level as usize]
    }
}

/// One row of `train_series_descriptions.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesDescription {
    /// The study the series belongs to.
    pub study_id: u64,
    /// The series id, also the folder name under `train_images/<study_id>/`.
    pub series_id: u64,
    /// `Sagittal T1`, `Sagittal T2/STIR` or `Axial T2`.
    pub description: String,
}

/// The series description the study reads its images from (the article classifies axial T2
/// slices).
pub const AXIAL_T2: &str = "Axial T2";

impl SeriesDescription {
    /// Whether the CSV calls this series `Axial T2` (ignoring case and surrounding spaces): the
    /// one rule by which `lumbar prepare` and `lumbar predict --submission` pick the series to
    /// read.
    ///
    /// It trusts the CSV. The DICOM geometry is checked afterwards, slice by slice, by
    /// [`SliceHeader::is_axial`](crate::dicom::SliceHeader::is_axial) (the slice normal is
    /// closest to the feet–head axis): a slice of a series chosen here that fails that check is
    /// dropped, and a series none of whose slices pass is skipped. `lumbar predict` on a single
    /// series folder has no CSV, so there only the per-slice check applies.
    pub fn is_axial_t2(&self) -> bool {
        self.description.trim().eq_ignore_ascii_case(AXIAL_T2)
    }
}

/// One row of `train_label_coordinates.csv`: where a radiologist pointed for one condition.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelCoordinate {
    /// The study id.
    pub study_id: u64,
    /// The series the point was placed on.
    pub series_id: u64,
    /// The instance number (slice) the point was placed on.
    pub instance_number: i64,
    /// The condition, e.g. `Spinal Canal Stenosis`, `Left Subarticular Stenosis`.
    pub condition: String,
    /// The disc level of the point.
    pub level: Level,
    /// Column of the point, in pixels.
    pub x: f64,
    /// Row of the point, in pixels.
    pub y: f64,
}

impl LabelCoordinate {
    /// Whether this point is a subarticular one (placed on axial slices; it names the slice of
    /// its level in an axial series, which is what we check level assignment against).
    pub fn is_subarticular(&self) -> bool {
        self.condition.to_ascii_lowercase().contains("subarticular")
    }
}

/// Every label column of `train.csv` besides `study_id`, in the Kaggle order.
pub fn train_label_columns() -> Vec<String> {
    let conditions = [
        "spinal_canal_stenosis",
        "left_neural_foraminal_narrowing",
        "right_neural_foraminal_narrowing",
        "left_subarticular_stenosis",
        "right_subarticular_stenosis",
    ];
    conditions
        .iter()
        .flat_map(|c| {
            Level::ALL
                .iter()
                .map(move |l| format!("{c}_{}", l.column_suffix()))
        })
        .collect()
}

/// A CSV opened with its header mapped from column name to index.
struct CsvTable {
    path: String,
    reader: csv::Reader<std::io::Cursor<Vec<u8>>>,
    columns: HashMap<String, usize>,
    /// Turns a record's byte position into the line number an editor shows.
    lines: LineIndex,
}

impl CsvTable {
    /// Open `path` and require every column in `required`.
    fn open(path: &Path, required: &[&str]) -> Result<CsvTable> {
        // The label files are small (the real train.csv is about 2,000 rows): read them whole,
        // so that line numbers can be computed from byte positions.
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let lines = LineIndex::new(&text);
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(std::io::Cursor::new(text));
        let shown = path.display().to_string();
        let header = reader
            .headers()
            .map_err(|e| Error::format(format!("{shown}:1"), format!("unreadable header: {e}")))?
            .clone();
        let columns: HashMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, name)| (name.trim().to_string(), i))
            .collect();
        for name in required {
            if !columns.contains_key(*name) {
                return Err(Error::format(
                    format!("{shown}:1"),
                    format!(
                        "missing column `{name}` (header is `{}`)",
                        header.iter().collect::<Vec<_>>().join(",")
                    ),
                ));
            }
        }
        Ok(CsvTable {
            path: shown,
            reader,
            columns,
            lines,
        })
    }

    /// Visit every data row with its 1-based line number and a cell accessor.
    fn for_each_row(mut self, mut visit: impl FnMut(&Row<'_>) -> Result<()>) -> Result<()> {
        let mut record = csv::StringRecord::new();
        loop {
            let more = self.reader.read_record(&mut record).map_err(|e| {
                let line = e.position().map_or(0, |p| self.lines.line_of(p.byte()));
                Error::format(
                    format!("{}:{line}", self.path),
                    format!("malformed row: {e}"),
                )
            })?;
            if !more {
                return Ok(());
            }
            let line = record
                .position()
                .map_or(0, |p| self.lines.line_of(p.byte()));
            visit(&Row {
                path: &self.path,
                line,
                record: &record,
                columns: &self.columns,
            })?;
        }
    }
}

/// One CSV data row, able to name itself in errors.
struct Row<'a> {
    path: &'a str,
    line: u64,
    record: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
}

impl Row<'_> {
    fn cell(&self, column: &str) -> &str {
        self.columns
            .get(column)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
            .trim()
    }

    fn error(&self, column: &str, message: &str) -> Error {
        Error::format(
            format!("{}:{}", self.path, self.line),
            format!("{message} in column `{column}`: `{}`", self.cell(column)),
        )
    }

    fn parse<T: std::str::FromStr>(&self, column: &str, what: &str) -> Result<T> {
        self.cell(column)
            .parse()
            .map_err(|_| self.error(column, &format!("expected {what}")))
    }
}

/// Read `train.csv`: every label column must be present and every cell one of `Normal/Mild`,
/// `Moderate`, `Severe` or empty. Returns one record per row, in file order.
pub fn read_train_labels(path: &Path) -> Result<Vec<StudyLabels>> {
    let label_columns = train_label_columns();
    let mut required = vec!["study_id"];
    required.extend(label_columns.iter().map(String::as_str));
    let table = CsvTable::open(path, &required)?;
    let mut rows: Vec<StudyLabels> = Vec::new();
    // study id → (line, index in `rows`) of its first row, to catch a study listed twice.
    let mut first_row: HashMap<u64, (u64, usize)> = HashMap::new();
    table.for_each_row(|row| {
        let study_id = row.parse("study_id", "an integer study id")?;
        for column in &label_columns {
            Severity::parse_cell(row.cell(column)).map_err(|_| {
                row.error(
                    column,
                    "unknown label (expected Normal/Mild, Moderate, Severe or empty)",
                )
            })?;
        }
        let mut spinal_canal = [None; 5];
        for level in Level::ALL {
            let column = format!("spinal_canal_stenosis_{}", level.column_suffix());
            spinal_canal[level as usize] = Severity::parse_cell(row.cell(&column))?;
        }
        let labels = StudyLabels {
            study_id,
            spinal_canal,
        };
        if let Some(&(line, index)) = first_row.get(&study_id) {
            // The same row twice is harmless; two different labellings are a conflict that
            // no rule can settle (the last one would silently win).
            if rows[index] != labels {
                return Err(row.error(
                    "study_id",
                    &format!(
                        "study listed again with other spinal canal labels than on line {line}"
                    ),
                ));
            }
            return Ok(());
        }
        first_row.insert(study_id, (row.line, rows.len()));
        rows.push(labels);
        Ok(())
    })?;
    Ok(rows)
}

/// Read `train_series_descriptions.csv` (`study_id,series_id,series_description`).
pub fn read_series_descriptions(path: &Path) -> Result<Vec<SeriesDescription>> {
    let table = CsvTable::open(path, &["study_id", "series_id", "series_description"])?;
    let mut rows = Vec::new();
    table.for_each_row(|row| {
        rows.push(SeriesDescription {
            study_id: row.parse("study_id", "an integer study id")?,
            series_id: row.parse("series_id", "an integer series id")?,
            description: row.cell("series_description").to_string(),
        });
        Ok(())
    })?;
    Ok(rows)
}

/// Read `train_label_coordinates.csv`
/// (`study_id,series_id,instance_number,condition,level,x,y`).
pub fn read_label_coordinates(path: &Path) -> Result<Vec<LabelCoordinate>> {
    let table = CsvTable::open(
        path,
        &[
            "study_id",
            "series_id",
            "instance_number",
            "condition",
            "level",
            "x",
            "y",
        ],
    )?;
    let mut rows = Vec::new();
    table.for_each_row(|row| {
        let level = Level::parse(row.cell("level"))
            .ok_or_else(|| row.error("level", "unknown level (expected L1/L2 … L5/S1)"))?;
        rows.push(LabelCoordinate {
            study_id: row.parse("study_id", "an integer study id")?,
            series_id: row.parse("series_id", "an integer series id")?,
            instance_number: row.parse("instance_number", "an integer instance number")?,
            condition: row.cell("condition").to_string(),
            level,
            x: row.parse("x", "a number")?,
            y: row.parse("y", "a number")?,
        });
        Ok(())
    })?;
    Ok(rows)
}
