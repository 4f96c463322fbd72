//! Chapter 14 of the book: what the network looks at. Runs the main job (the default synthetic
//! dataset, honest protocol, 32×32, as `cargo run --release` does), then explains it: Grad-CAM and saliency
//! for test slices of each class, the first layer's filters, feature maps after each block,
//! the misclassified slices, and how often Grad-CAM points at the dural sac.
//!
//! `cargo run --release --example 14_what_the_network_sees`
//! (figures: `book/src/figures/14-grad-cam.png`, `14-saliency.png`, `14-filters.png`,
//! `14-feature-maps.png`, `14-misclassified.png`; about five minutes. `LUMBAR_BOOK_TINY=1` uses a
//! handful of studies and one epoch and writes the figures to a temporary folder instead).

/// Timed like `lumbar run`: large freed blocks are recycled (chapter 13, change 1).
#[global_allocator]
static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;

use lumbar_cnn::book_examples::{announce, figure_path, tiny};
use lumbar_cnn::experiment::{run, RunConfig};
use lumbar_cnn::explain::run::{explain_run, ExplainConfig};
use lumbar_cnn::prepare::Protocol;
use lumbar_cnn::RecyclingAllocator;
use lumbar_cnn::{Error, Result};
use std::time::Instant;

/// The figures of `lumbar explain` the chapter shows, as (file in `explain/`, book figure).
const FIGURES: [(&str, &str); 5] = [
    ("grad_cam.png", "14-grad-cam.png"),
    ("saliency.png", "14-saliency.png"),
    ("filters.png", "14-filters.png"),
    ("feature_maps.png", "14-feature-maps.png"),
    ("misclassified.png", "14-misclassified.png"),
];

fn main() -> Result<()> {
    let start = Instant::now();
    // At full size the main job itself (`cargo run --release`: the default dataset of 124
    // studies, at most 25 epochs); tiny: 12 studies, one epoch.
    let (studies, epochs) = if tiny() { (Some(12), 1) } else { (None, 25) };
    // The tiny and the full run each have their own folder.
    let root = std::env::temp_dir()
        .join("lumbar-book")
        .join(if tiny() { "14-tiny" } else { "14" });
    // A fresh start: the main job reuses a dataset it finds, whatever its size.
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    }
    // ANCHOR: explain
    // 1. The main job: a trained model in runs/honest.
    let config = RunConfig {
        data_dir: root.join("synthetic"),
        generate_if_missing: true,
        synth_studies: studies,
        prepared_dir: root.join("prepared"),
        run_dir: root.join("runs").join("honest"),
        image_size: 32,
        protocol: Protocol::Honest,
        seed: 42,
        batch_size: 32,
        max_epochs: epochs,
        patience: 5,
        resume: false,
        progress: false,
        max_steps: None,
    };
    let metrics = run(&config)?;
    // 2. `lumbar explain --run runs/honest`: the figures and the localisation numbers.
    let summary = explain_run(&ExplainConfig::new(&config.run_dir))?;
    // ANCHOR_END: explain
    println!(
        "trained for {} epochs (weights of epoch {} kept): test accuracy {:.3} on {} slices of {} studies",
        metrics.training.epochs_run,
        metrics.training.best_epoch,
        metrics.test.report.accuracy,
        metrics.test.images,
        metrics.test.studies
    );
    println!(
        "Grad-CAM layer {} ({}×{}); {} test slices, {} misclassified",
        summary.layer,
        summary.layer_size.0,
        summary.layer_size.1,
        summary.test_slices,
        summary.misclassified
    );
    match &summary.all {
        Some(all) => {
            println!(
                "pointing game {:.3}, Grad-CAM mass in the sac region {}, chance {:.3} ({} slices, ellipse grown by {:.1} px)",
                all.pointing_game, share(all.mass_share), all.chance, all.slices, summary.tolerance_pixels
            );
            for (class, l) in summary.per_class.iter() {
                if let Some(l) = l {
                    println!(
                        "  {class:<12} pointing {:.3}  mass {}  chance {:.3}",
                        l.pointing_game,
                        share(l.mass_share),
                        l.chance
                    );
                }
            }
        }
        None => println!("no sac positions in this prepared dataset: no localisation"),
    }
    let explain_dir = config.run_dir.join("explain");
    for (written, figure) in FIGURES {
        let from = explain_dir.join(written);
        if !from.exists() {
            // No mistakes, no gallery.
            continue;
        }
        let to = figure_path(figure);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::copy(&from, &to).map_err(|e| Error::io(&to, e))?;
        announce(&to);
    }
    println!("done in {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// A mass share to three decimals, or `n/a` when every map was zero.
fn share(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.3}"))
}
