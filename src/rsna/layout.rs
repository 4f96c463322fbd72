//! Where the files of an RSNA-layout folder are, and a clear error when a folder is not one.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The paths of an RSNA 2024 dataset folder (the Kaggle download or our synthetic one).
#[derive(Debug, Clone)]
pub struct RsnaLayout {
    /// The folder given as `--data`.
    pub root: PathBuf,
}

/// What `--data` must contain, quoted in the error for a folder that is not in the layout.
pub const EXPECTED_LAYOUT: &str = "train.csv, train_series_descriptions.csv, \
train_label_coordinates.csv and train_images/<study_id>/<series_id>/<instance_number>.dcm";

impl RsnaLayout {
    /// Check that `root` holds the three CSVs and `train_images/`; the error lists what is
    /// missing and what the layout is.
    pub fn open(root: impl AsRef<Path>) -> Result<RsnaLayout> {
        let layout = RsnaLayout {
            root: root.as_ref().to_path_buf(),
        };
        if !layout.root.is_dir() {
            return Err(Error::invalid(format!(
                "--data {}: not a folder; expected an RSNA 2024 dataset folder with {EXPECTED_LAYOUT}",
                layout.root.display()
            )));
        }
        let missing: Vec<String> = [
            layout.train_csv(),
            layout.series_descriptions_csv(),
            layout.label_coordinates_csv(),
            layout.images_dir(),
        ]
        .iter()
        .filter(|p| !p.exists())
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
        if !missing.is_empty() {
            return Err(Error::invalid(format!(
                "--data {} is not in the RSNA 2024 layout: missing {}; expected {EXPECTED_LAYOUT}",
                layout.root.display(),
                missing.join(", ")
            )));
        }
        Ok(layout)
    }

    /// `train.csv`: one row per study with the 25 severity columns.
    pub fn train_csv(&self) -> PathBuf {
        self.root.join("train.csv")
    }

    /// `train_series_descriptions.csv`: the type of each series.
    pub fn series_descriptions_csv(&self) -> PathBuf {
        self.root.join("train_series_descriptions.csv")
    }

    /// `train_label_coordinates.csv`: the radiologists' points.
    pub fn label_coordinates_csv(&self) -> PathBuf {
        self.root.join("train_label_coordinates.csv")
    }

    /// `train_images/`: one folder per study, one per series, one `.dcm` per slice.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("train_images")
    }

    /// The folder of one series.
    pub fn series_dir(&self, study_id: u64, series_id: u64) -> PathBuf {
        self.images_dir()
            .join(study_id.to_string())
            .join(series_id.to_string())
    }

    /// The `.dcm` files of a series, sorted numerically by file stem (`2.dcm` before
    /// `10.dcm`; names that are not numbers come last, lexically). A missing folder is an
    /// I/O error naming it.
    pub fn series_files(&self, study_id: u64, series_id: u64) -> Result<Vec<PathBuf>> {
        dicom_files(&self.series_dir(study_id, series_id))
    }
}

/// The `.dcm` files directly in `dir`, sorted numerically by file stem (`2.dcm` before
/// `10.dcm`; names that are not numbers come last, lexically). A missing folder is an I/O
/// error naming it.
pub fn dicom_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("dcm"))
        {
            files.push(path);
        }
    }
    files.sort_by_key(|p| {
        let stem = p
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        (stem.parse::<u64>().map_err(|_| stem.clone()), stem)
    });
    Ok(files)
}
