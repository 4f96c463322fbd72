//! What a run writes for people: `metrics.json` (every number) and `report.md` (the article's
//! tables for this run, with the figures embedded), plus the Figure-2 augmentation grid.

use super::evaluation::TestEvaluation;
use crate::atomic_write::write_atomic;
use crate::error::Result;
use crate::metrics::bootstrap::{Interval, MIN_RESAMPLES_FOR_INTERVAL};
use crate::metrics::{TestIntervals, CLASS_NAMES, SEVERE};
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
    /// The best recall any model can reach per class on the synthetic data, in the order of
    /// [`CLASS_NAMES`], when the data is synthetic (`None` also in files written before it).
    #[serde(default)]
    pub bayes_recall: Option<[f64; 3]>,
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

/// The bracket after a number: `95 % CI 0.880–0.980` (with `; 874 of 1000 resamples` when a
/// class was missing from some), or why there is none; `digits` decimals.
fn interval_words(interval: Option<Interval>, resamples: usize, digits: usize) -> String {
    match interval {
        None => format!("no interval: defined on fewer than {MIN_RESAMPLES_FOR_INTERVAL} of {resamples} resamples"),
        Some(i) if i.resamples_used < resamples => format!(
            "95 % CI {:.digits$}–{:.digits$}; {} of {resamples} resamples",
            i.low, i.high, i.resamples_used
        ),
        Some(i) => format!("95 % CI {:.digits$}–{:.digits$}", i.low, i.high),
    }
}

/// `value` with `digits` decimals and, when the run has intervals (`ci`), the one `pick`
/// chooses: `0.940 (95 % CI 0.880–0.980)`; the plain number without intervals.
pub fn with_interval(
    value: f64,
    digits: usize,
    ci: Option<&TestIntervals>,
    pick: impl Fn(&TestIntervals) -> Option<Interval>,
) -> String {
    match ci {
        Some(ci) => format!(
            "{value:.digits$} ({})",
            interval_words(pick(ci), ci.resamples, digits)
        ),
        None => format!("{value:.digits$}"),
    }
}

/// The per-class table: precision, recall and F1 with their intervals, and the synthetic
/// data's recall ceiling beside each recall when it is known.
fn class_interval_table(out: &mut String, m: &RunMetrics, ci: &TestIntervals) {
    let ceiling = m.bayes_recall;
    let _ = write!(
        out,
        "| class | support | precision | recall | F1 |{}\n|---|---:|---:|---:|---:|{}\n",
        if ceiling.is_some() {
            " Bayes recall ceiling |"
        } else {
            ""
        },
        if ceiling.is_some() { "---:|" } else { "" }
    );
    for (class, metrics) in m.test.report.classes.iter().enumerate() {
        let of_class = |pick: fn(&crate::metrics::ClassIntervals) -> Option<Interval>| {
            move |ci: &TestIntervals| ci.classes.get(class).and_then(pick)
        };
        let _ = write!(
            out,
            "| {} | {} | {} | {} | {} |",
            metrics.name,
            metrics.support,
            with_interval(metrics.precision, 2, Some(ci), of_class(|c| c.precision)),
            with_interval(metrics.recall, 2, Some(ci), of_class(|c| c.recall)),
            with_interval(metrics.f1, 2, Some(ci), of_class(|c| c.f1)),
        );
        if let Some(ceiling) = ceiling {
            let _ = write!(out, " {:.3} |", ceiling[class]);
        }
        out.push('\n');
    }
}

/// What the intervals are (and the ceilings, on synthetic data).
fn interval_explanation(out: &mut String, m: &RunMetrics, ci: &TestIntervals) {
    let _ = writeln!(
        out,
        "\nThe intervals are 95 % percentile bootstrap intervals over the {studies} test studies: \
         {resamples} times, {studies} studies are drawn with replacement from the test studies, \
         every slice of a drawn study comes along (the slices of one patient are correlated, so \
         resampling single slices would give intervals far too narrow), and each metric is \
         computed on the drawn set; the interval runs from the 2.5th to the 97.5th percentile of \
         those values (the resampling seed is derived from the run's seed {seed}). A class missing \
         from a drawn set leaves that set out of the class's numbers; where that happened, the cell \
         says how many sets were used. An interval of zero width (1.00–1.00) means that no drawn \
         set had a mistake, not that the model makes none: the test split is too small to see \
         rarer errors.",
        studies = ci.studies,
        resamples = ci.resamples,
        seed = m.seed
    );
    ceiling_explanation(out, m);
}

/// What the per-class ceilings are, when the data is synthetic.
fn ceiling_explanation(out: &mut String, m: &RunMetrics) {
    if m.bayes_recall.is_some() {
        let _ = writeln!(
            out,
            "\nThe **Bayes recall ceiling** is the recall the best possible classifier reaches on \
             each class of this synthetic dataset, whose simulated graders sometimes give a slice \
             the neighbouring grade: a recall close to its ceiling is the limit of the data, one \
             far below it the model's weakness. The ceiling is an average over the whole dataset; \
             on a small test split a recall may land above it by chance."
        );
    }
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
        "| test metric (95 % CI: bootstrap over each run's test studies) | honest (`{}`) | article's protocol (`{}`) |",
        honest.run, paper.run
    );
    let _ = writeln!(out, "|---|---:|---:|");
    let row = |name: &str, f: &dyn Fn(&RunMetrics) -> String| {
        format!("| {name} | {} | {} |\n", f(honest), f(paper))
    };
    out.push_str(&row("accuracy", &|r| {
        with_interval(r.test.report.accuracy, 3, r.test.ci95.as_ref(), |c| {
            c.accuracy
        })
    }));
    out.push_str(&row("macro-F1", &|r| {
        with_interval(r.test.report.macro_avg.f1, 3, r.test.ci95.as_ref(), |c| {
            c.macro_f1
        })
    }));
    out.push_str(&row("Severe recall", &|r| {
        with_interval(
            r.test.report.classes[SEVERE].recall,
            3,
            r.test.ci95.as_ref(),
            |c| c.classes.get(SEVERE).and_then(|s| s.recall),
        )
    }));
    out.push_str(&row("RSNA score (lower is better)", &|r| {
        with_interval(r.test.rsna.score, 4, r.test.ci95.as_ref(), |c| c.rsna_score)
    }));
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
    let ci = m.test.ci95.as_ref();
    match ci {
        Some(ci) => {
            let _ = writeln!(
                out,
                "\n| test metric | value (95 % CI, bootstrap over {} test studies) |\n|---|---|",
                ci.studies
            );
        }
        None => {
            let _ = writeln!(out, "\n| | |\n|---|---|");
        }
    }
    let _ = writeln!(
        out,
        "| accuracy | {} |",
        with_interval(r.accuracy, 3, ci, |c| c.accuracy)
    );
    let _ = writeln!(
        out,
        "| macro-F1 | {} |",
        with_interval(r.macro_avg.f1, 3, ci, |c| c.macro_f1)
    );
    let _ = writeln!(
        out,
        "| Severe recall | {} |",
        with_interval(r.classes[SEVERE].recall, 3, ci, |c| c
            .classes
            .get(SEVERE)
            .and_then(|s| s.recall))
    );
    let _ = writeln!(
        out,
        "| RSNA 2024 score (weighted log loss, lower is better) | {} |",
        with_interval(m.test.rsna.score, 4, ci, |c| c.rsna_score)
    );
    if let Some(bayes) = m.bayes_accuracy {
        let _ = writeln!(
            out,
            "| Bayes accuracy of the synthetic data (the ceiling) | {:.3} |",
            bayes
        );
    }
    match ci {
        Some(ci) => {
            let _ = writeln!(
                out,
                "\n### Per class, with 95 % intervals{}\n",
                if m.bayes_recall.is_some() {
                    " and the data's ceilings"
                } else {
                    ""
                }
            );
            class_interval_table(&mut out, m, ci);
            interval_explanation(&mut out, m, ci);
        }
        None => {
            if m.test.studies < 2 {
                let _ = writeln!(
                    out,
                    "\nThe test split holds a single study: there is nothing to resample, so no bootstrap interval is given."
                );
            }
            if let Some(ceiling) = m.bayes_recall {
                let _ = writeln!(
                    out,
                    "\n| class | recall | Bayes recall ceiling |\n|---|---:|---:|"
                );
                for (class, metrics) in r.classes.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "| {} | {:.2} | {:.3} |",
                        metrics.name, metrics.recall, ceiling[class]
                    );
                }
                ceiling_explanation(&mut out, m);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::evaluation::{evaluate_test, TestImage};
    use crate::metrics::{MODERATE, NORMAL_MILD};
    use ndarray::Array2;

    /// `studies` test studies of 4 Normal/Mild slices and 2 slices of a Moderate or Severe
    /// level; a few predictions wrong.
    fn evaluation(studies: u64) -> TestEvaluation {
        let mut images = Vec::new();
        let mut predicted = Vec::new();
        for study in 0..studies {
            for level in 0..4 {
                images.push(TestImage {
                    study_id: study,
                    level,
                    label: NORMAL_MILD,
                });
                predicted.push(if study == 2 && level == 1 {
                    MODERATE
                } else {
                    NORMAL_MILD
                });
            }
            let label = if study % 2 == 0 { SEVERE } else { MODERATE };
            for slice in 0..2 {
                images.push(TestImage {
                    study_id: study,
                    level: 4,
                    label,
                });
                predicted.push(if study == 3 && slice == 0 {
                    NORMAL_MILD
                } else {
                    label
                });
            }
        }
        let probabilities =
            Array2::from_shape_fn(
                (images.len(), 3),
                |(i, c)| {
                    if predicted[i] == c {
                        0.8
                    } else {
                        0.1
                    }
                },
            );
        evaluate_test(&images, &probabilities, 42).unwrap()
    }

    fn metrics(test: TestEvaluation, synthetic: bool) -> RunMetrics {
        RunMetrics {
            run: "honest-32px-seed42".into(),
            protocol: Protocol::Honest,
            image_size: 32,
            seed: 42,
            originals: [[1; 3]; 3],
            augmented: [[0; 3]; 3],
            training: TrainingSummary {
                epochs_run: 1,
                best_epoch: 1,
                stopped_epoch: None,
                best_val_loss: 0.5,
                seconds: 1.0,
                images_per_second: 10.0,
                batch_size: 16,
                max_epochs: 1,
                patience: 5,
            },
            test,
            bayes_accuracy: synthetic.then_some(0.984),
            // Table 1 order: Moderate, Normal/Mild, Severe.
            bayes_recall: synthetic.then_some([0.892, 0.995, 0.925]),
            total_seconds: 2.0,
        }
    }

    #[test]
    fn the_report_prints_each_test_number_with_its_interval_and_the_ceilings() {
        let m = metrics(evaluation(13), true);
        let ci = m.test.ci95.clone().expect("13 studies are resampled");
        let report = report_markdown(&m, None);
        assert!(
            report.contains("95 % CI, bootstrap over 13 test studies"),
            "{report}"
        );
        let accuracy = ci.accuracy.unwrap();
        let want = format!(
            "| accuracy | {:.3} (95 % CI {:.3}–{:.3}) |",
            m.test.report.accuracy, accuracy.low, accuracy.high
        );
        assert!(report.contains(&want), "{want}\n{report}");
        let rsna = ci.rsna_score.unwrap();
        assert!(
            report.contains(&format!(
                "{:.4} (95 % CI {:.4}–",
                m.test.rsna.score, rsna.low
            )),
            "{report}"
        );
        // Per class: recall with its interval, then the class's own ceiling.
        for (class, ceiling) in [
            (MODERATE, "0.892"),
            (NORMAL_MILD, "0.995"),
            (SEVERE, "0.925"),
        ] {
            let recall = ci.classes[class].recall.unwrap();
            let line = report
                .lines()
                .find(|l| {
                    l.starts_with(&format!("| {} | ", CLASS_NAMES[class])) && l.contains("CI")
                })
                .unwrap_or_else(|| panic!("no interval row for {}\n{report}", CLASS_NAMES[class]));
            assert!(
                line.contains(&format!(
                    "{:.2} (95 % CI {:.2}–{:.2}",
                    m.test.report.classes[class].recall, recall.low, recall.high
                )),
                "{line}"
            );
            assert!(line.ends_with(&format!(" {ceiling} |")), "{line}");
        }
        assert!(report.contains("Bayes recall ceiling"), "{report}");
        assert!(report.contains("every slice of a drawn study"), "{report}");
    }

    #[test]
    fn real_data_has_no_ceilings_and_a_single_study_no_interval() {
        let report = report_markdown(&metrics(evaluation(13), false), None);
        assert!(report.contains("95 % CI"), "{report}");
        assert!(!report.contains("ceiling"), "{report}");

        let single = metrics(evaluation(1), true);
        assert!(single.test.ci95.is_none());
        let report = report_markdown(&single, None);
        assert!(!report.contains("95 % CI"), "{report}");
        assert!(report.contains("a single study"), "{report}");
        // The ceilings are still shown beside the recalls.
        assert!(report.contains("| Severe | 1.00 | 0.925 |"), "{report}");
    }

    #[test]
    fn metrics_json_keeps_its_fields_and_older_files_still_load() {
        let m = metrics(evaluation(13), true);
        let mut json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["test"]["report"]["accuracy"], m.test.report.accuracy);
        assert_eq!(
            json["test"]["report"]["macro_avg"]["f1"],
            m.test.report.macro_avg.f1
        );
        assert_eq!(json["test"]["rsna"]["score"], m.test.rsna.score);
        assert_eq!(json["bayes_accuracy"], 0.984);
        let ci = &json["test"]["ci95"];
        assert_eq!(ci["studies"], 13);
        assert!(ci["macro_f1"]["low"].as_f64().unwrap() <= m.test.report.macro_avg.f1);
        assert_eq!(ci["classes"][SEVERE]["name"], "Severe");
        assert!(ci["classes"][SEVERE]["recall"]["high"].is_f64());
        // A metrics.json written before the intervals and the per-class ceilings.
        json["test"].as_object_mut().unwrap().remove("ci95");
        json.as_object_mut().unwrap().remove("bayes_recall");
        json["protocol"] = "paper".into();
        let old: RunMetrics = serde_json::from_value(json).unwrap();
        assert_eq!((&old.test.ci95, &old.bayes_recall), (&None, &None));
        // Compared with the older run, the new run's cells carry intervals and the old's not.
        let report = report_markdown(&m, Some(&old));
        let accuracy = m.test.ci95.as_ref().unwrap().accuracy.unwrap();
        let want = format!(
            "| accuracy | {0:.3} (95 % CI {1:.3}–{2:.3}) | {0:.3} |",
            m.test.report.accuracy, accuracy.low, accuracy.high
        );
        assert!(report.contains(&want), "{want}\n{report}");
    }
}
