//! Where the dural sac is on each prepared image, when the data says so: `sac_regions.csv`.
//!
//! The synthetic dataset's answer key, `synth_truth.csv`, gives for every axial slice the sac's
//! centre and half-extents in the slice's own pixels. `prepare` carries them through the resize
//! to the network's `size × size` input with the resize's half-pixel-centre convention
//! (`x' = (x + 0.5)·size/columns − 0.5`, half-extents scaled by `size/columns`), and writes one
//! row per kept slice. `lumbar explain` measures its Grad-CAM maps against them. The real
//! Kaggle download has no such key, so there is no file.

use super::manifest::{read_records, ManifestRow};
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// The file `prepare` writes into its output folder.
pub const SAC_REGIONS_FILE: &str = "sac_regions.csv";

/// Its header.
pub const SAC_REGIONS_HEADER: &str =
    "study_id,series_id,instance_number,rows,columns,centre_row,centre_col,half_rows,half_cols";

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
}

/// `(study, series, instance)`: how the manifest and the answer key name a slice.
pub type SliceKey = (u64, u64, i64);

/// Write `sac_regions.csv` into `out_dir` for the kept slices `rows`, from
/// `data_dir/synth_truth.csv`. Returns how many rows were written: 0, and no file, when the data
/// has no answer key (the real download); `None`, and no file, when the answer key comes from
/// a generator that did not record the sac's extent yet (regenerate it with `lumbar synth`).
pub fn write_sac_regions(
    data_dir: &Path,
    out_dir: &Path,
    rows: &[ManifestRow],
    size: usize,
) -> Result<Option<usize>> {
    let truth_path = data_dir.join("synth_truth.csv");
    if !truth_path.is_file() {
        return Ok(Some(0));
    }
    let Some(truth) = read_truth(&truth_path)? else {
        return Ok(None);
    };
    let mut text = format!("{SAC_REGIONS_HEADER}\n");
    let mut written = 0;
    for row in rows {
        let Some(t) = truth.get(&(row.study_id, row.series_id, row.instance_number)) else {
            continue;
        };
        let (sr, sc) = (size as f64 / t.rows as f64, size as f64 / t.columns as f64);
        text += &format!(
            "{},{},{},{},{},{:.3},{:.3},{:.3},{:.3}\n",
            row.study_id,
            row.series_id,
            row.instance_number,
            t.rows,
            t.columns,
            (t.centre_row + 0.5) * sr - 0.5,
            (t.centre_col + 0.5) * sc - 0.5,
            t.half_rows * sr,
            t.half_cols * sc
        );
        written += 1;
    }
    write_atomic(out_dir.join(SAC_REGIONS_FILE), text.as_bytes())?;
    Ok(Some(written))
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
            write_sac_regions(&dir, &dir, &[manifest_row()], 50).unwrap(),
            Some(1)
        );
        let regions = read_sac_regions(&dir).unwrap().unwrap();
        let region = &regions[&(1, 2, 3)];
        // Rows 100 → 50: (20 + 0.5)·0.5 − 0.5; columns 200 → 50: (10 + 0.5)·0.25 − 0.5.
        assert_eq!((region.centre_row, region.centre_col), (9.75, 2.125));
        assert_eq!((region.half_rows, region.half_cols), (3.0, 2.0));
        assert_eq!((region.rows, region.columns), (100, 200));
        assert_eq!(regions.len(), 1, "only kept slices are written");
    }

    #[test]
    fn no_answer_key_writes_nothing_and_an_old_one_is_reported() {
        let dir = scratch("old");
        assert_eq!(
            write_sac_regions(&dir, &dir, &[manifest_row()], 32).unwrap(),
            Some(0)
        );
        std::fs::write(
            dir.join("synth_truth.csv"),
            "study_id,series_id,instance_number,rows,columns,sac_x,sac_y\n1,2,3,100,200,10,20\n",
        )
        .unwrap();
        assert_eq!(
            write_sac_regions(&dir, &dir, &[manifest_row()], 32).unwrap(),
            None
        );
        assert!(read_sac_regions(&dir).unwrap().is_none());
    }
}
