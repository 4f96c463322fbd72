//! Where the spinal canal is on each prepared image: `sac_regions.csv`.
//!
//! Two sources, and the file says which one each row came from (its `source` column):
//!
//! - **`synth_truth`.** The synthetic dataset's answer key, `synth_truth.csv`, gives for every
//!   axial slice the dural sac's centre and half-extents in the slice's own pixels.
//! - **`subarticular_midpoint`.** The real Kaggle download has no sac outline. Its
//!   `train_label_coordinates.csv` places, for every axial series and level, a point on the
//!   left and one on the right subarticular recess; the canal lies between them. The region is
//!   the circle around their midpoint whose diameter is the distance between them, given to
//!   every kept slice of that series and level (the points are placed on one slice of the
//!   level; the canal moves little over the few millimetres the level's other slices span).
//!   It is used only when there is no `synth_truth.csv`.
//!
//! `prepare` carries either through the resize to the network's `size × size` input with the
//! resize's half-pixel-centre convention (`x' = (x + 0.5)·size/columns − 0.5`, half-extents
//! scaled by `size/columns`), and writes one row per kept slice that has a region.
//! `lumbar explain` measures its Grad-CAM maps against them.

use super::manifest::{read_records, ManifestRow};
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::rsna::{LabelCoordinate, Level};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// The file `prepare` writes into its output folder.
pub const SAC_REGIONS_FILE: &str = "sac_regions.csv";

/// Its header.
pub const SAC_REGIONS_HEADER: &str =
    "study_id,series_id,instance_number,rows,columns,centre_row,centre_col,half_rows,half_cols,source";

/// Where a region of `sac_regions.csv` comes from (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionSource {
    /// The synthetic dataset's answer key: the dural sac itself.
    SynthTruth,
    /// The circle between the left and right subarticular points of the slice's level.
    SubarticularMidpoint,
}

impl RegionSource {
    /// The word written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            RegionSource::SynthTruth => "synth_truth",
            RegionSource::SubarticularMidpoint => "subarticular_midpoint",
        }
    }

    /// What the region is, for figure titles and reports.
    pub fn description(self) -> &'static str {
        match self {
            RegionSource::SynthTruth => "the dural sac (synthetic answer key)",
            RegionSource::SubarticularMidpoint => {
                "the canal between the subarticular points (no sac outline in this data)"
            }
        }
    }

    fn parse(word: &str) -> Option<RegionSource> {
        [RegionSource::SynthTruth, RegionSource::SubarticularMidpoint]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

/// The sac of one prepared image, in the prepared image's pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct SacRegion {
    /// Rows of the original DICOM slice.
    pub rows: usize,
    /// Columns of the original DICOM slice.
    pub columns: usize,
    /// Row of the sac centre in the prepared image.
    pub centre_row: f64,
    /// Column of the sac centre in the prepared image.
    pub centre_col: f64,
    /// Half-extent along the rows, prepared-image pixels.
    pub half_rows: f64,
    /// Half-extent along the columns, prepared-image pixels.
    pub half_cols: f64,
    /// Where the region comes from.
    pub source: RegionSource,
}

/// `(study, series, instance)`: how the manifest and the answer key name a slice.
pub type SliceKey = (u64, u64, i64);

/// Write `sac_regions.csv` into `out_dir` for the kept slices `rows`: from
/// `data_dir/synth_truth.csv` when the data has one, otherwise from the subarticular points of
/// `coordinates` (`series_sizes` gives each `(study, series)`'s slice `(rows, columns)`).
/// Returns how many rows were written (0, and no file, when no slice has a region); `None`,
/// and no file, when the answer key comes from a generator that did not record the sac's
/// extent yet (regenerate it with `lumbar synth`).
pub fn write_sac_regions(
    data_dir: &Path,
    out_dir: &Path,
    rows: &[ManifestRow],
    size: usize,
    coordinates: &[LabelCoordinate],
    series_sizes: &HashMap<(u64, u64), (usize, usize)>,
) -> Result<Option<usize>> {
    let truth_path = data_dir.join("synth_truth.csv");
    let regions = if truth_path.is_file() {
        let Some(truth) = read_truth(&truth_path)? else {
            return Ok(None);
        };
        truth
    } else {
        subarticular_regions(rows, coordinates, series_sizes)
    };
    let path = out_dir.join(SAC_REGIONS_FILE);
    let mut text = format!("{SAC_REGIONS_HEADER}\n");
    let mut written = 0;
    for row in rows {
        let Some(t) = regions.get(&(row.study_id, row.series_id, row.instance_number)) else {
            continue;
        };
        let (sr, sc) = (size as f64 / t.rows as f64, size as f64 / t.columns as f64);
        text += &format!(
            "{},{},{},{},{},{:.3},{:.3},{:.3},{:.3},{}\n",
            row.study_id,
            row.series_id,
            row.instance_number,
            t.rows,
            t.columns,
            (t.centre_row + 0.5) * sr - 0.5,
            (t.centre_col + 0.5) * sc - 0.5,
            t.half_rows * sr,
            t.half_cols * sc,
            t.source.as_str()
        );
        written += 1;
    }
    if written == 0 {
        let _ = std::fs::remove_file(&path);
        return Ok(Some(0));
    }
    write_atomic(path, text.as_bytes())?;
    Ok(Some(written))
}

/// The canal region of every kept slice whose series has both subarticular points at the
/// slice's level, in the slice's own pixels (see the module doc).
fn subarticular_regions(
    rows: &[ManifestRow],
    coordinates: &[LabelCoordinate],
    series_sizes: &HashMap<(u64, u64), (usize, usize)>,
) -> HashMap<SliceKey, SacRegion> {
    // (study, series, level) -> [left, right] points (x = column, y = row).
    type Point = Option<(f64, f64)>;
    let mut points: HashMap<(u64, u64, Level), [Point; 2]> = HashMap::new();
    for c in coordinates.iter().filter(|c| c.is_subarticular()) {
        let side = if c.condition.to_ascii_lowercase().starts_with("left") {
            0
        } else {
            1
        };
        points
            .entry((c.study_id, c.series_id, c.level))
            .or_default()[side] = Some((c.x, c.y));
    }
    let mut regions = HashMap::new();
    for row in rows {
        let Some([Some(left), Some(right)]) = points.get(&(row.study_id, row.series_id, row.level))
        else {
            continue;
        };
        let Some(&(slice_rows, slice_columns)) = series_sizes.get(&(row.study_id, row.series_id))
        else {
            continue;
        };
        let radius = 0.5 * (left.0 - right.0).hypot(left.1 - right.1);
        regions.insert(
            (row.study_id, row.series_id, row.instance_number),
            SacRegion {
                rows: slice_rows,
                columns: slice_columns,
                centre_row: 0.5 * (left.1 + right.1),
                centre_col: 0.5 * (left.0 + right.0),
                half_rows: radius,
                half_cols: radius,
                source: RegionSource::SubarticularMidpoint,
            },
        );
    }
    regions
}

/// The sac of every slice of `synth_truth.csv`, in the slice's own pixels (`None` for an answer
/// key without the sac's extent).
fn read_truth(path: &Path) -> Result<Option<HashMap<SliceKey, SacRegion>>> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| csv_error(path, e))?;
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::format(
                path.display(),
                format!("no column {name}: not an answer key of this version"),
            )
        })
    };
    let [study, series, instance, rows, columns, x, y, half_x, half_y] = [
        "study_id",
        "series_id",
        "instance_number",
        "rows",
        "columns",
        "sac_x",
        "sac_y",
        "sac_half_x",
        "sac_half_y",
    ]
    .map(column);
    let (Ok(half_x), Ok(half_y)) = (half_x, half_y) else {
        return Ok(None);
    };
    let (study, series, instance, rows, columns, x, y) =
        (study?, series?, instance?, rows?, columns?, x?, y?);
    let mut truth = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = index + 2;
        let number = |i: usize| -> Result<f64> {
            record[i].parse::<f64>().map_err(|_| {
                Error::format(
                    format!("{}:{line}", path.display()),
                    format!("bad number `{}`", &record[i]),
                )
            })
        };
        let whole = |i: usize| -> Result<u64> {
            record[i].parse::<u64>().map_err(|_| {
                Error::format(
                    format!("{}:{line}", path.display()),
                    format!("bad whole number `{}`", &record[i]),
                )
            })
        };
        truth.insert(
            (whole(study)?, whole(series)?, whole(instance)? as i64),
            SacRegion {
                rows: whole(rows)? as usize,
                columns: whole(columns)? as usize,
                centre_row: number(y)?,
                centre_col: number(x)?,
                half_rows: number(half_y)?,
                half_cols: number(half_x)?,
                source: RegionSource::SynthTruth,
            },
        );
    }
    Ok(Some(truth))
}

/// Read the `sac_regions.csv` of a prepared folder: `None` when it has none.
pub fn read_sac_regions(prepared_dir: &Path) -> Result<Option<HashMap<SliceKey, SacRegion>>> {
    let path = prepared_dir.join(SAC_REGIONS_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let mut regions = HashMap::new();
    // The manifest's reader: header checked, errors named by file and line.
    for (line, record) in read_records(&path, SAC_REGIONS_HEADER)? {
        let bad = || Error::format(format!("{}:{line}", path.display()), "not a sac region row");
        let field = |i: usize| record.get(i).ok_or_else(bad);
        let whole = |i: usize| field(i)?.parse::<u64>().map_err(|_| bad());
        let number = |i: usize| field(i)?.parse::<f64>().map_err(|_| bad());
        let key = (
            whole(0)?,
            whole(1)?,
            field(2)?.parse::<i64>().map_err(|_| bad())?,
        );
        regions.insert(
            key,
            SacRegion {
                rows: whole(3)? as usize,
                columns: whole(4)? as usize,
                centre_row: number(5)?,
                centre_col: number(6)?,
                half_rows: number(7)?,
                half_cols: number(8)?,
                source: RegionSource::parse(field(9)?).ok_or_else(bad)?,
            },
        );
    }
    Ok(Some(regions))
}

fn csv_error(path: &Path, error: csv::Error) -> Error {
    Error::format(path.display(), error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::Split;
    use crate::rsna::{Level, Severity};

    fn manifest_row() -> ManifestRow {
        ManifestRow {
            study_id: 1,
            series_id: 2,
            instance_number: 3,
            level: Level::L4L5,
            label: Severity::Severe,
            position_mm: 0.0,
            split: Split::Test,
            path: "png/Severe/1_2_3.png".into(),
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("lumbar-sac-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_sac_is_carried_through_the_resize_with_half_pixel_centres() {
        let dir = scratch("resize");
        std::fs::write(
            dir.join("synth_truth.csv"),
            "study_id,series_id,instance_number,rows,columns,sac_x,sac_y,sac_half_x,sac_half_y\n\
             1,2,3,100,200,10,20,8,6\n9,9,9,10,10,1,1,1,1\n",
        )
        .unwrap();
        assert_eq!(
            write_sac_regions(&dir, &dir, &[manifest_row()], 50, &[], &HashMap::new()).unwrap(),
            Some(1)
        );
        let regions = read_sac_regions(&dir).unwrap().unwrap();
        let region = &regions[&(1, 2, 3)];
        // Rows 100 → 50: (20 + 0.5)·0.5 − 0.5; columns 200 → 50: (10 + 0.5)·0.25 − 0.5.
        assert_eq!((region.centre_row, region.centre_col), (9.75, 2.125));
        assert_eq!((region.half_rows, region.half_cols), (3.0, 2.0));
        assert_eq!((region.rows, region.columns), (100, 200));
        assert_eq!(region.source, RegionSource::SynthTruth);
        assert_eq!(regions.len(), 1, "only kept slices are written");
    }

    fn point(side: &str, level: Level, x: f64, y: f64) -> LabelCoordinate {
        LabelCoordinate {
            study_id: 1,
            series_id: 2,
            instance_number: 7,
            condition: format!("{side} Subarticular Stenosis"),
            level,
            x,
            y,
        }
    }

    #[test]
    fn without_an_answer_key_the_canal_lies_between_the_subarticular_points() {
        let dir = scratch("midpoint");
        let other_level = ManifestRow {
            instance_number: 4,
            level: Level::L5S1,
            ..manifest_row()
        };
        let coordinates = [
            point("Left", Level::L4L5, 40.0, 50.0),
            point("Right", Level::L4L5, 60.0, 50.0),
            // Only one side at L5/S1: no region for its slices.
            point("Left", Level::L5S1, 40.0, 60.0),
        ];
        let sizes = HashMap::from([((1, 2), (100, 200))]);
        let rows = [manifest_row(), other_level];
        assert_eq!(
            write_sac_regions(&dir, &dir, &rows, 50, &coordinates, &sizes).unwrap(),
            Some(1)
        );
        let regions = read_sac_regions(&dir).unwrap().unwrap();
        let region = &regions[&(1, 2, 3)];
        // Midpoint (x 50, y 50) and radius 10 through the 100×200 → 50×50 resize.
        assert_eq!((region.centre_row, region.centre_col), (24.75, 12.125));
        assert_eq!((region.half_rows, region.half_cols), (5.0, 2.5));
        assert_eq!(region.source, RegionSource::SubarticularMidpoint);
        assert_eq!(regions.len(), 1);
    }

    #[test]
    fn no_answer_key_writes_nothing_and_an_old_one_is_reported() {
        let dir = scratch("old");
        assert_eq!(
            write_sac_regions(&dir, &dir, &[manifest_row()], 32, &[], &HashMap::new()).unwrap(),
            Some(0)
        );
        std::fs::write(
            dir.join("synth_truth.csv"),
            "study_id,series_id,instance_number,rows,columns,sac_x,sac_y\n1,2,3,100,200,10,20\n",
        )
        .unwrap();
        assert_eq!(
            write_sac_regions(&dir, &dir, &[manifest_row()], 32, &[], &HashMap::new()).unwrap(),
            None
        );
        assert!(read_sac_regions(&dir).unwrap().is_none());
    }
}
