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
}

/// Explain the run and print where the figures are and what was measured.
pub fn run(args: &Args) -> Result<()> {
    if args.images == 0 || args.images > 64 {
        return Err(Error::invalid(format!(
            "--images {}: show between 1 and 64 slices per class",
            args.images
        )));
    }
    let config = ExplainConfig {
        images_per_class: args.images,
        layer: args.layer.clone(),
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
                "pointing game {:.3} and Grad-CAM mass in the sac region {} over {} slices \
                 (chance {:.3}; sac ellipse grown by {:.1} px)",
                all.pointing_game,
                share(all.mass_share),
                all.slices,
                all.chance,
                summary.tolerance_pixels
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
            println!("no localisation: the prepared dataset does not record where the dural sac is")
        }
    }
    println!("figures: {}", args.run.join("explain").display());
    Ok(())
}

/// A mass share to three decimals, or `n/a` when every map was zero.
fn share(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.3}"))
}
