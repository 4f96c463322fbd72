//! `lumbar evaluate --run DIR`: score a finished run's model on its held-out test split again,
//! and rewrite its `metrics.json` and `report.md` (which then compare with a run of the other
//! protocol, if one sits beside it).

use crate::error::{Error, Result};
use crate::experiment::report::{with_interval, write_report, RunMetrics};
use crate::experiment::run::{evaluate_on_test, read_run_config};
use crate::model::checkpoint::load_model;
use std::path::PathBuf;

/// Arguments of `lumbar evaluate`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The run folder written by `lumbar run` (e.g. `runs/honest-32px-seed42`); everything is
    /// written into this folder, even if the run was copied or moved here.
    #[arg(long)]
    pub run: PathBuf,
    /// The run's prepared dataset, if it is no longer where the run's config.json says (for
    /// example `data/prepared/synthetic-honest-32px-seed42` after moving `data/`).
    #[arg(long)]
    pub prepared: Option<PathBuf>,
}

/// Re-evaluate the run and print its test metrics.
pub fn run(args: &Args) -> Result<()> {
    let mut config = read_run_config(&args.run)?;
    // The folder given, not the one config.json names: a copied run writes into the copy.
    config.run_dir = args.run.clone();
    if let Some(prepared) = &args.prepared {
        config.prepared_dir = prepared.clone();
    }
    if !config.prepared_dir.is_dir() {
        return Err(Error::invalid(format!(
            "the run's prepared dataset {} no longer exists; prepare it again with `lumbar prepare --data {} --out {0} --image-size {} --protocol {} --seed {}`, or pass --prepared DIR if it was moved",
            config.prepared_dir.display(),
            config.data_dir.display(),
            config.image_size,
            config.protocol,
            config.seed
        )));
    }
    let (mut model, architecture) = load_model(&args.run.join("model.safetensors"))?;
    if architecture.image_size != config.image_size {
        return Err(Error::invalid(format!(
            "{}: the model takes {} px images but the run was prepared at {} px",
            args.run.display(),
            architecture.image_size,
            config.image_size
        )));
    }
    let evaluation = evaluate_on_test(&config, &mut model)?;
    println!("{}", evaluation.report);
    let ci = evaluation.ci95.as_ref();
    println!(
        "accuracy {}\nmacro-F1 {}\nRSNA score {}\nover {} test studies{}",
        with_interval(evaluation.report.accuracy, 3, ci, |c| c.accuracy),
        with_interval(evaluation.report.macro_avg.f1, 3, ci, |c| c.macro_f1),
        with_interval(evaluation.rsna.score, 4, ci, |c| c.rsna_score),
        evaluation.studies,
        if ci.is_some() {
            " (95 % CI: bootstrap over the test studies)"
        } else {
            ""
        }
    );
    if let Some(balanced) = &evaluation.balanced_subset {
        println!("\nThe article's balanced subset (100 images per class):\n{balanced}");
    }
    let metrics_path = args.run.join("metrics.json");
    let text = std::fs::read_to_string(&metrics_path).map_err(|e| Error::io(&metrics_path, e))?;
    let mut metrics: RunMetrics = serde_json::from_str(&text)
        .map_err(|e| Error::format(metrics_path.display(), format!("not a run's metrics: {e}")))?;
    metrics.test = evaluation;
    if metrics.bayes_recall.is_none() {
        // Written before the per-class ceilings were recorded: read them from the data.
        metrics.bayes_recall = crate::synth::summary_file::read_summary(&config.data_dir)?
            .map(|summary| summary.bayes_recall_by_class());
    }
    write_report(&args.run, &metrics)?;
    println!("report: {}", args.run.join("report.md").display());
    Ok(())
}
