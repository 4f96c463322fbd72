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

    /// Every `Axial T2` series listed in `train_series_descriptions.csv`, as
    /// `(study_id, series_id, files)`: studies and series in ascending id order, each series'
    /// `.dcm` files as [`RsnaLayout::series_files`] sorts them. The description is compared as
    /// `lumbar prepare` does (trimmed, ignoring case).
    pub fn axial_t2_series(&self) -> Result<Vec<(u64, u64, Vec<PathBuf>)>> {
        let descriptions =
            crate::rsna::records::read_series_descriptions(&self.series_descriptions_csv())?;
        let mut ids: Vec<(u64, u64)> = descriptions
            .into_iter()
            .filter(|d| d.description.trim().eq_ignore_ascii_case("Axial T2"))
            .map(|d| (d.study_id, d.series_id))
            .collect();
        ids.sort_unstable();
        ids.into_iter()
            .map(|(study, series)| Ok((study, series, self.series_files(study, series)?)))
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axial_t2_series_are_listed_in_id_order_with_their_files() {
        let root = std::env::temp_dir().join(format!("lumbar-layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let layout = RsnaLayout { root: root.clone() };
        std::fs::create_dir_all(layout.images_dir()).unwrap();
        std::fs::write(layout.train_csv(), "study_id\n").unwrap();
        std::fs::write(layout.label_coordinates_csv(), "study_id\n").unwrap();
        std::fs::write(
            layout.series_descriptions_csv(),
            "study_id,series_id,series_description\n\
             9,3,Axial T2\n9,1,Sagittal T1\n2,5, axial t2 \n2,4,Axial T2\n",
        )
        .unwrap();
        for (study, series, files) in [(9, 3, 2), (2, 5, 1), (2, 4, 0)] {
            let dir = layout.series_dir(study, series);
            std::fs::create_dir_all(&dir).unwrap();
            for i in [10, 2][..files].iter() {
                std::fs::write(dir.join(format!("{i}.dcm")), b"").unwrap();
            }
        }
        let series = RsnaLayout::open(&root).unwrap().axial_t2_series().unwrap();
        let ids: Vec<(u64, u64)> = series.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(ids, [(2, 4), (2, 5), (9, 3)]);
        assert_eq!(series[0].2.len(), 0);
        let names: Vec<_> = series[2].2.iter().map(|p| p.file_name().unwrap()).collect();
        assert_eq!(names, ["2.dcm", "10.dcm"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
