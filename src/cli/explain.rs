//! `lumbar explain --run DIR`: what a finished run's network looks at (Grad-CAM, saliency,
//! filters, feature maps, mistakes) and how often it looks at the dural sac.

use crate::error::{Error, Result};
use crate::explain::run::{explain_run, ExplainConfig};
use std::path::PathBuf;

/// Arguments of `lumbar explain`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The run folder written by `lumbar run` (e.g. `runs/honest-32px-seed42`); the figures go
    /// into its `explain/` folder.
    #[arg(long)]
    pub run: PathBuf,
    /// Test slices per class in the Grad-CAM and saliency figures.
    #[arg(long, default_value_t = 4)]
    pub images: usize,
    /// The layer Grad-CAM reads, by its Keras name (e.g. `conv2d_5`; a convolution stands for
    /// its ReLU output). Default: the deepest convolution whose output is at least 8×8.
    #[arg(long)]
    pub layer: Option<String>,
    /// Explain the test split of this prepared folder instead of the run's own, to compare two
    /// models on the same slices (e.g. a paper-protocol model on the honest test studies:
    /// `--test-from data/prepared/synthetic-honest-32px-seed42`). Prepared at the model's size.
    #[arg(long)]
    pub test_from: Option<PathBuf>,
    /// Folder inside the run folder for the figures and files (default `explain`, the one the
    /// run's report shows; a run explained on another test split needs another name).
    #[arg(long, default_value = "explain")]
    pub out: String,
}

/// Explain the run and print where the figures are and what was measured.
pub fn run(args: &Args) -> Result<()> {
    if args.images == 0 || args.images > 64 {
        return Err(Error::invalid(format!(
            "--images {}: show between 1 and 64 slices per class",
            args.images
        )));
    }
    if let Some(reason) = super::run::folder_name_problem(&args.out) {
        return Err(Error::invalid(format!(
            "invalid --out {:?}: {reason}; it is one folder name inside the run folder (not empty, no / or \\, not starting with a dot, no control characters)",
            args.out
        )));
    }
    let config = ExplainConfig {
        images_per_class: args.images,
        layer: args.layer.clone(),
        test_from: args.test_from.clone(),
        out_name: args.out.clone(),
        ..ExplainConfig::new(&args.run)
    };
    let summary = explain_run(&config)?;
    println!(
        "Grad-CAM layer: {} ({}×{} at {} px input); {} test slices, {} misclassified",
        summary.layer,
        summary.layer_size.0,
        summary.layer_size.1,
        summary.image_size,
        summary.test_slices,
        summary.misclassified
    );
    match &summary.all {
        Some(all) => {
            println!(
                "pointing game {:.3} and Grad-CAM mass in the region {} over {} slices \
                 (chance {:.3}; region grown by {:.1} px; region: {})",
                all.pointing_game,
                share(all.mass_share),
                all.slices,
                all.chance,
                summary.tolerance_pixels,
                summary
                    .region_source
                    .map_or("unknown", |source| source.description())
            );
            for (class, l) in &summary.per_class {
                if let Some(l) = l {
                    println!(
                        "  {class:<12} pointing {:.3}  mass {}  chance {:.3}  ({} slices)",
                        l.pointing_game,
                        share(l.mass_share),
                        l.chance,
                        l.slices
                    );
                }
            }
        }
        None => {
            println!(
                "no localisation: the prepared dataset records neither the dural sac nor the \
                 subarticular points of the test slices' levels"
            )
        }
    }
    println!("figures: {}", args.run.join(&args.out).display());
    Ok(())
}

/// A mass share to three decimals, or `n/a` when every map was zero.
fn share(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.3}"))
}
