//! `lumbar predict --model RUN_DIR --series SERIES_DIR [--json OUT]`: the severity
//! probabilities per disc level of one axial T2 series, as a table (and JSON).
//!
//! `lumbar predict --model RUN_DIR --data KAGGLE_DIR --submission OUT.csv`: every study of a
//! Kaggle-layout test folder as a submission CSV (see `experiment::predict`).

use crate::error::{Error, Result};
use crate::experiment::predict::{write_submission, Predictor};
use std::path::PathBuf;

/// Arguments of `lumbar predict`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// A run folder written by `lumbar run` (holds model.safetensors and model.json).
    #[arg(long)]
    pub model: PathBuf,
    /// The folder of one axial series (its .dcm files).
    #[arg(long, conflicts_with_all = ["data", "submission"])]
    pub series: Option<PathBuf>,
    /// With --series: also write the table (and every slice's prediction) as JSON here.
    #[arg(long, requires = "series")]
    pub json: Option<PathBuf>,
    /// A Kaggle-layout folder: test_series_descriptions.csv and
    /// test_images/<study_id>/<series_id>/*.dcm.
    #[arg(long, requires = "submission")]
    pub data: Option<PathBuf>,
    /// With --data: where to write the submission CSV (row_id,normal_mild,moderate,severe).
    #[arg(long, requires = "data")]
    pub submission: Option<PathBuf>,
}

/// Load the model, predict, print (and write) the results; warnings go to stderr.
pub fn run(args: &Args) -> Result<()> {
    let mut predictor = Predictor::load(&args.model)?;
    match (&args.series, &args.data, &args.submission) {
        (Some(series), _, _) => {
            let prediction = predictor.predict_series(series)?;
            for warning in &prediction.warnings {
                eprintln!("warning: {warning}");
            }
            println!(
                "{}: {} slices at {} levels",
                series.display(),
                prediction.slices.len(),
                prediction.levels.len()
            );
            print!("{}", prediction.table());
            if let Some(json) = &args.json {
                prediction.write_json(json)?;
                println!("JSON: {}", json.display());
            }
            Ok(())
        }
        (None, Some(data), Some(out)) => {
            let summary = write_submission(&mut predictor, data, out)?;
            for warning in &summary.warnings {
                eprintln!("warning: {warning}");
            }
            println!(
                "{}: {} studies × 5 levels ({} axial series predicted, {} failed, {} rows from the prior)",
                out.display(),
                summary.studies,
                summary.series_predicted,
                summary.series_failed,
                summary.rows_from_prior
            );
            Ok(())
        }
        _ => Err(Error::invalid(
            "lumbar predict needs either --series DIR or --data DIR --submission OUT.csv",
        )),
    }
}
