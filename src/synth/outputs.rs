//! The files a synthetic dataset consists of, and making the output folder ready for them.

use super::{kaggle_csv, summary_file};
use crate::error::{Error, Result};
use std::path::Path;

/// Name of the gallery figure written next to the CSV files.
pub const GALLERY_FILE: &str = "synth_gallery.png";
/// Name of the answer key.
pub const TRUTH_FILE: &str = "synth_truth.csv";
/// The files and folder [`generate`](fn@super::generate) writes (removed first when overwriting).
pub const OUTPUTS: [&str; 7] = [
    "train.csv",
    "train_series_descriptions.csv",
    "train_label_coordinates.csv",
    TRUTH_FILE,
    summary_file::SUMMARY_FILE,
    GALLERY_FILE,
    "train_images",
];

/// Make `out` ready: refuse a non-empty folder unless `overwrite`, in which case the previous
/// synthetic dataset's files are removed (nothing else in the folder is touched). A folder with
/// RSNA files but no `synth_truth.csv` looks like the real download and is never overwritten.
pub(super) fn prepare_output(out: &Path, overwrite: bool) -> Result<()> {
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
