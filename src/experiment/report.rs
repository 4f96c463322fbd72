//! What a run writes for people: `metrics.json` (every number) and `report.md` (the article's
//! tables for this run, with the figures embedded), plus the Figure-2 augmentation grid.

use super::evaluation::TestEvaluation;
use crate::atomic_write::write_atomic;
use crate::error::Result;
use crate::metrics::CLASS_NAMES;
use crate::plot::image_grid::{draw_image_grid, GrayTile};
use crate::prepare::Protocol;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::Path;

/// How training went.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Epochs actually trained.
    pub epochs_run: usize,
    /// The epoch with the lowest validation loss, whose weights were kept (1-based).
    pub best_epoch: usize,
    /// The epoch at which early stopping fired, if it did.
    pub stopped_epoch: Option<usize>,
    /// The lowest validation loss.
    pub best_val_loss: f32,
    /// Wall time of training, seconds.
    pub seconds: f64,
    /// Mean training throughput over the epochs, images per second.
    pub images_per_second: f64,
    /// Images per batch.
    pub batch_size: usize,
    /// The epoch limit.
    pub max_epochs: usize,
    /// The early-stopping patience.
    pub patience: usize,
}

/// Every number of a run, as saved in `metrics.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunMetrics {
    /// The run's name (its folder).
    pub run: String,
    /// `honest` or `paper`.
    pub protocol: Protocol,
    /// Input side in pixels.
    pub image_size: usize,
    /// The seed.
    pub seed: u64,
    /// Original slices per split (train, val, test) and class (Moderate, Normal/Mild, Severe).
    pub originals: [[usize; 3]; 3],
    /// Augmented copies per split and class.
    pub augmented: [[usize; 3]; 3],
    /// Training summary.
    pub training: TrainingSummary,
    /// Test-split evaluation.
    pub test: TestEvaluation,
    /// The best accuracy any model can reach on the synthetic data (its graders' noise), when
    /// the data is synthetic.
    pub bayes_accuracy: Option<f64>,
    /// Wall time of the whole run, seconds.
    pub total_seconds: f64,
}

/// Draw the article's Figure 2 (augmented samples with their class) into
/// `run_dir/augmentation_samples.png`.
pub fn draw_augmentation_samples(prepared_dir: &Path, run_dir: &Path, seed: u64) -> Result<()> {
    let samples = crate::prepare::figure::augmentation_samples(prepared_dir, 12, seed)?;
    let tiles = samples
        .into_iter()
        .map(|(image, caption)| GrayTile::from_array(image.view(), caption))
        .collect::<Result<Vec<_>>>()?;
    draw_image_grid(
        run_dir.join("augmentation_samples.png"),
        &tiles,
        4,
        160,
        "Augmented training images (shift, zoom, flip) with their class",
    )
}

/// One table row per class plus a total: `| class | a | b | … |`.
fn count_table(out: &mut String, headers: &[&str], columns: &[[usize; 3]]) {
    let _ = writeln!(out, "| class | {} |", headers.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(headers.len()));
    for (class, name) in CLASS_NAMES.iter().enumerate() {
        let cells: Vec<String> = columns.iter().map(|c| c[class].to_string()).collect();
        let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
    }
    let totals: Vec<String> = columns
        .iter()
        .map(|c| c.iter().sum::<usize>().to_string())
        .collect();
    let _ = writeln!(out, "| **total** | {} |", totals.join(" | "));
}

/// The metrics of a run beside `run_dir` (same parent folder) with the other protocol and the
/// same image size and seed, if one has been made.
pub fn sibling_with_other_protocol(run_dir: &Path, m: &RunMetrics) -> Option<RunMetrics> {
    let parent = run_dir.parent()?;
    std::fs::read_dir(parent)
        .ok()?
        .flatten()
        .filter(|entry| entry.path() != run_dir)
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("metrics.json")).ok())
        .filter_map(|text| serde_json::from_str::<RunMetrics>(&text).ok())
        .find(|other| {
            other.protocol != m.protocol && other.image_size == m.image_size && other.seed == m.seed
        })
}

/// The side-by-side table of an honest and a paper-protocol run, with the explanation.
fn comparison_section(out: &mut String, m: &RunMetrics, other: &RunMetrics) {
    let (honest, paper) = if m.protocol == Protocol::Honest {
        (m, other)
    } else {
        (other, m)
    };
    let _ = writeln!(
        out,
        "## Honest protocol vs the article's protocol
"
    );
    let _ = writeln!(
        out,
        "| test metric | honest (`{}`) | article's protocol (`{}`) |",
        honest.run, paper.run
    );
    let _ = writeln!(out, "|---|---:|---:|");
    let row = |name: &str, f: &dyn Fn(&RunMetrics) -> f64| {
        format!("| {name} | {:.3} | {:.3} |\n", f(honest), f(paper))
    };
    out.push_str(&row("accuracy", &|r| r.test.report.accuracy));
    out.push_str(&row("macro-F1", &|r| r.test.report.macro_avg.f1));
    out.push_str(&row("Severe recall", &|r| r.test.report.classes[2].recall));
    out.push_str(&row("RSNA score (lower is better)", &|r| r.test.rsna.score));
    let _ = writeln!(
        out,
        "\nThe two columns differ for three reasons that pull in opposite directions. **Leakage** \
         inflates the article's numbers: it augments before splitting and splits images, so copies of one \
         slice and neighbouring slices of one patient sit on both sides of the split. **Levels** deflate \
         them: its global K-Means on `SliceLocation` names the disc level wrongly for most slices (book \
         chapter 3), so many slices carry the label of another disc. **The test mix** differs: its test \
         split is balanced by augmentation, while the honest one keeps the natural mix (mostly \
         Normal/Mild), so compare macro-F1 and per-class recall rather than accuracy. Only the honest \
         column estimates how the network does on patients it has never seen.\n"
    );
}

/// The Markdown report of a run; `other` is a run of the other protocol to compare with.
pub fn report_markdown(m: &RunMetrics, other: Option<&RunMetrics>) -> String {
    let mut out = String::new();
    let t = &m.training;
    let r = &m.test.report;
    let _ = writeln!(out, "# Run `{}`\n", m.run);
    let _ = writeln!(
        out,
        "The article's network (García de Celis & Bukaita 2025) trained on {}×{} slices, {} protocol, seed {}.\n",
        m.image_size, m.image_size, m.protocol, m.seed
    );
    let _ = writeln!(out, "## Images per class (the article's Tables 2–3)\n");
    let sum =
        |a: &[[usize; 3]; 3]| -> [usize; 3] { [0, 1, 2].map(|c| a[0][c] + a[1][c] + a[2][c]) };
    let after_train = [0, 1, 2].map(|c| m.originals[0][c] + m.augmented[0][c]);
    count_table(
        &mut out,
        &[
            "before augmentation",
            "train",
            "val",
            "test",
            "train after augmentation",
        ],
        &[
            sum(&m.originals),
            m.originals[0],
            m.originals[1],
            m.originals[2],
            after_train,
        ],
    );
    let _ = writeln!(out, "\n![Augmented samples](augmentation_samples.png)\n");

    let _ = writeln!(out, "## Training\n");
    let stop = match t.stopped_epoch {
        Some(e) => format!("early stopping fired at epoch {e}"),
        None => format!("ran all {} epochs", t.max_epochs),
    };
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| epochs trained | {} ({stop}) |", t.epochs_run);
    let _ = writeln!(out, "| best epoch (weights restored) | {} |", t.best_epoch);
    let _ = writeln!(out, "| best validation loss | {:.4} |", t.best_val_loss);
    let _ = writeln!(
        out,
        "| batch size, patience | {}, {} |",
        t.batch_size, t.patience
    );
    let _ = writeln!(
        out,
        "| training time | {:.0} s ({:.1} images/s) |",
        t.seconds, t.images_per_second
    );
    let _ = writeln!(out, "| whole run | {:.0} s |\n", m.total_seconds);
    let _ = writeln!(out, "![Accuracy](accuracy.png)\n\n![Loss](loss.png)\n");

    let _ = writeln!(
        out,
        "## Test set: {} images from {} held-out studies (the article's Table 4)\n",
        m.test.images, m.test.studies
    );
    let _ = writeln!(out, "{}", r.to_markdown());
    let _ = writeln!(out, "\n| | |\n|---|---|");
    let _ = writeln!(out, "| accuracy | {:.3} |", r.accuracy);
    let _ = writeln!(out, "| macro-F1 | {:.3} |", r.macro_avg.f1);
    let _ = writeln!(out, "| Severe recall | {:.3} |", r.classes[2].recall);
    let _ = writeln!(
        out,
        "| RSNA 2024 score (weighted log loss, lower is better) | {:.4} |",
        m.test.rsna.score
    );
    if let Some(bayes) = m.bayes_accuracy {
        let _ = writeln!(
            out,
            "| Bayes accuracy of the synthetic data (the ceiling) | {:.3} |",
            bayes
        );
    }
    let _ = writeln!(out, "\n![Confusion matrix](confusion_matrix.png)\n");
    match &m.test.balanced_subset {
        Some(balanced) => {
            let _ = writeln!(
                out,
                "### The article's balanced subset (100 images per class)\n"
            );
            let _ = writeln!(out, "{}", balanced.to_markdown());
        }
        None => {
            let _ = writeln!(
                out,
                "The article also scored a balanced subset of 100 test images per class; this test split has fewer than 100 images of some class, so that subset is not reported.\n"
            );
        }
    }
    if let Some(other) = other {
        comparison_section(&mut out, m, other);
    }
    if m.protocol == Protocol::Paper {
        let _ = writeln!(
            out,
            "**Caution:** this run used the article's protocol: images were augmented before being split, and split by image, so copies of one patient's slices sit in both the training and the test set, and its global K-Means gives many slices the wrong disc level (and so the wrong label). Its test numbers do not estimate performance on new patients; compare with an `honest` run."
        );
    }
    out
}

/// Write `metrics.json` and `report.md` into `run_dir` (the report compares with a run of the
/// other protocol when one sits beside it).
pub fn write_report(run_dir: &Path, metrics: &RunMetrics) -> Result<()> {
    let json = serde_json::to_string_pretty(metrics).expect("metrics serialise");
    write_atomic(run_dir.join("metrics.json"), json.as_bytes())?;
    let other = sibling_with_other_protocol(run_dir, metrics);
    let mut report = report_markdown(metrics, other.as_ref());
    explain_section(&mut report, run_dir);
    write_atomic(run_dir.join("report.md"), report.as_bytes())
}

/// What the green region of the Grad-CAM panel is, from `summary.json`'s `region_source`.
fn region_words(source: &serde_json::Value) -> &'static str {
    match source.as_str() {
        Some("subarticular_midpoint") => "the canal between the subarticular points",
        Some(_) => "the dural sac's region",
        None => "no region known",
    }
}

/// The "what the network looks at" section, when `lumbar explain` has written
/// `explain/summary.json` into the run folder: the Grad-CAM panel, the pointing-game figure
/// and its numbers (read as JSON, so the report does not depend on the explain module).
fn explain_section(out: &mut String, run_dir: &Path) {
    let Some(summary) = std::fs::read_to_string(run_dir.join("explain/summary.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
    else {
        return;
    };
    let _ = writeln!(
        out,
        "\n## What the network looks at (`lumbar explain`)\n\nGrad-CAM of the true class at `{}`, for four test slices of each class (rows: Moderate, Normal/Mild, Severe; green: {}):\n\n![Grad-CAM](explain/grad_cam.png)\n",
        summary["layer"].as_str().unwrap_or("?"),
        region_words(&summary["region_source"])
    );
    let all = &summary["all"];
    if all.is_null() {
        let _ = writeln!(
            out,
            "The dataset records neither where the dural sac is nor the subarticular points of the test slices' levels, so localisation is not measured."
        );
        return;
    }
    if summary["region_source"] == "subarticular_midpoint" {
        let _ = writeln!(
            out,
            "This data has no outline of the dural sac (the real download), so the region is the circle between each level's left and right subarticular points, where the canal lies: an approximation, grown by the same tolerance.\n"
        );
    }
    let _ = writeln!(out, "![Pointing game](explain/pointing_game.png)\n");
    let _ = writeln!(
        out,
        "| true class | slices | pointing game | Grad-CAM mass in the region | chance |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let row = |out: &mut String, name: &str, l: &serde_json::Value| {
        let number = |key: &str| {
            l[key]
                .as_f64()
                .map_or("n/a".to_string(), |v| format!("{v:.3}"))
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} |",
            l["slices"],
            number("pointing_game"),
            number("mass_share"),
            number("chance")
        );
    };
    for entry in summary["per_class"].as_array().into_iter().flatten() {
        if !entry[1].is_null() {
            row(out, entry[0].as_str().unwrap_or("?"), &entry[1]);
        }
    }
    row(out, "**all**", all);
}
