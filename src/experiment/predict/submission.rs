//! A Kaggle submission: every study of a Kaggle-layout test folder, one row per study and
//! level, as the competition's CSV.

use super::series::level_means;
use super::{prior_probabilities, Predictor};
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::metrics::{MODERATE, NORMAL_MILD, NUM_CLASSES, SEVERE};
use crate::rsna::records::read_series_descriptions;
use crate::rsna::Level;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The header of a Kaggle submission for spinal canal stenosis.
pub const SUBMISSION_HEADER: &str = "row_id,normal_mild,moderate,severe";

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
