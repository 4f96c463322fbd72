//! Chapter 12 of the book: evaluation. Computes the metrics of the article's Table 4 and the
//! RSNA 2024 competition score on small worked examples (and on the article's own confusion
//! matrix), then runs the main job twice on the same small synthetic dataset — honest protocol
//! and the article's protocol — draws both test confusion matrices, prints each run's numbers
//! with their 95 % bootstrap intervals over its test studies, and measures the two things that
//! make the protocols differ: leakage (test images with a copy of their slice in the training
//! split) and label noise (slices the global K-Means puts at the wrong disc level).
//!
//! `cargo run --release --example 12_evaluation`
//! (figures: `book/src/figures/12-confusion-article.png`, `12-confusion-honest.png`,
//! `12-confusion-paper.png`; a few minutes. `LUMBAR_BOOK_TINY=1` uses a handful of studies and
//! one epoch per run and writes the figures to a temporary folder instead).

/// Timed like `lumbar run`: large freed blocks are recycled (chapter 13, change 1).
#[global_allocator]
static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;

use lumbar_cnn::book_examples::{announce, figure_path, tiny};
use lumbar_cnn::experiment::report::RunMetrics;
use lumbar_cnn::experiment::{run, RunConfig};
use lumbar_cnn::metrics::bootstrap::Interval;
use lumbar_cnn::metrics::{
    aggregate_slice_predictions, rsna_score, ConfusionMatrix, LevelPrediction, ARTICLE_CONFUSION,
    CLASS_NAMES, NOTEBOOK_CONFUSION, RSNA_CLASS_WEIGHTS,
};
use lumbar_cnn::model::{argmax_rows, load_model};
use lumbar_cnn::plot::confusion::plot_confusion_matrix;
use lumbar_cnn::prepare::manifest::{read_augmented, read_manifest};
use lumbar_cnn::prepare::{load_prepared, ManifestRow, Protocol, Split};
use lumbar_cnn::train::{evaluate, StreamedDataset};
use lumbar_cnn::RecyclingAllocator;
use lumbar_cnn::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

/// The metrics of a 12-image test set, computed by the library; the chapter does them by hand.
fn worked_example() -> Result<()> {
    println!("== A worked example: 12 test images ==");
    // ANCHOR: worked_example
    // 0 = Moderate, 1 = Normal/Mild, 2 = Severe (the article's Table 1).
    let actual = [0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2];
    let predicted = [0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 2, 2];
    let matrix = ConfusionMatrix::from_labels(&actual, &predicted)?;
    println!("{}", matrix.to_markdown());
    println!("{}", matrix.report().to_text(3));
    // ANCHOR_END: worked_example
    println!(
        "macro-F1 {:.3} = mean of the three F1 scores\n",
        matrix.macro_f1()
    );

    println!("== The article's Figure 7 (300 images, 100 per class) ==");
    println!("{}", ARTICLE_CONFUSION.report());
    println!(
        "The notebook's matrix (666 images): accuracy {}/{} = {:.3}\n",
        NOTEBOOK_CONFUSION.correct(),
        NOTEBOOK_CONFUSION.total(),
        NOTEBOOK_CONFUSION.accuracy()
    );
    let path = figure_path("12-confusion-article.png");
    plot_confusion_matrix(
        &path,
        &ARTICLE_CONFUSION,
        "The article's test confusion matrix (Figure 7)",
        true,
    )?;
    announce(&path);
    Ok(())
}

/// The RSNA 2024 score of two studies, from slice predictions, by hand and by the library.
fn rsna_by_hand() -> Result<()> {
    println!("== The RSNA 2024 score of two studies ==");
    // ANCHOR: rsna_example
    let slice = |study_id, level, label, probs| LevelPrediction {
        study_id,
        level,
        label,
        probs,
    };
    // Levels 3 = L4/L5 and 4 = L5/S1; probabilities in the order Moderate, Normal/Mild, Severe.
    let slices = [
        slice(1, 3, 2, [0.2, 0.2, 0.6]), // study 1, L4/L5, truly Severe: three slices
        slice(1, 3, 2, [0.1, 0.3, 0.6]),
        slice(1, 3, 2, [0.3, 0.3, 0.4]),
        slice(1, 4, 1, [0.1, 0.8, 0.1]), // study 1, L5/S1, truly Normal/Mild: two slices
        slice(1, 4, 1, [0.1, 0.9, 0.0]),
        slice(2, 3, 0, [0.5, 0.4, 0.1]), // study 2, L4/L5, truly Moderate: two slices
        slice(2, 3, 0, [0.7, 0.2, 0.1]),
        slice(2, 4, 1, [0.2, 0.7, 0.1]), // study 2, L5/S1, truly Normal/Mild: one slice
    ];
    let levels = aggregate_slice_predictions(&slices)?;
    let score = rsna_score(&levels)?;
    // ANCHOR_END: rsna_example
    for row in &levels {
        println!(
            "study {} level {} label {}: mean probabilities [{:.4}, {:.4}, {:.4}]",
            row.study_id, row.level, row.label, row.probs[0], row.probs[1], row.probs[2]
        );
    }
    // The same by hand: weighted log loss of the true class, then the any-severe term.
    let weighted: Vec<(f64, f64)> = levels
        .iter()
        .map(|r| (RSNA_CLASS_WEIGHTS[r.label], -(r.probs[r.label] as f64).ln()))
        .collect();
    let spinal = weighted.iter().map(|(w, l)| w * l).sum::<f64>()
        / weighted.iter().map(|(w, _)| w).sum::<f64>();
    let any_severe = (4.0 * -(levels[0].probs[2] as f64).ln()
        + 2.0 * -(1.0 - levels[2].probs[2].max(levels[3].probs[2]) as f64).ln())
        / 6.0;
    println!(
        "spinal canal log loss {:.4} (by hand {spinal:.4}), any_severe_spinal {:.4} (by hand {any_severe:.4}), score {:.4}\n",
        score.spinal_canal_log_loss, score.any_severe_spinal_log_loss, score.score
    );
    if (spinal - score.spinal_canal_log_loss).abs() > 1e-6
        || (any_severe - score.any_severe_spinal_log_loss).abs() > 1e-6
    {
        return Err(Error::invalid(
            "the RSNA score by hand and by library differ",
        ));
    }
    Ok(())
}

/// Sizes of the two runs.
struct Sizes {
    studies: usize,
    image_size: usize,
    batch_size: usize,
    max_epochs: usize,
}

/// The main job with `protocol` on the shared synthetic data under `root`.
fn run_protocol(root: &Path, protocol: Protocol, sizes: &Sizes) -> Result<(RunConfig, RunMetrics)> {
    // ANCHOR: run_config
    let config = RunConfig {
        data_dir: root.join("synthetic"),
        generate_if_missing: true,
        synth_studies: Some(sizes.studies),
        prepared_dir: root.join("prepared").join(protocol.name()),
        run_dir: root.join("runs").join(protocol.name()),
        image_size: sizes.image_size,
        protocol,
        seed: 42,
        batch_size: sizes.batch_size,
        max_epochs: sizes.max_epochs,
        patience: 5,
        resume: false,
        progress: false,
        max_steps: None,
    };
    let metrics = run(&config)?;
    // ANCHOR_END: run_config
    Ok((config, metrics))
}

/// One line of the side-by-side table.
fn row(name: &str, honest: f64, paper: f64) {
    println!("{name:<34}{honest:>10.3}{paper:>10.3}");
}

/// A run's test numbers with their 95 % bootstrap intervals over its test studies, and the
/// recall of each class beside the synthetic data's ceiling for it.
fn print_intervals(name: &str, m: &RunMetrics) {
    let Some(ci) = &m.test.ci95 else {
        println!(
            "{name} protocol: {} test study, no interval",
            m.test.studies
        );
        return;
    };
    let interval = |i: Option<Interval>| match i {
        Some(i) if i.resamples_used < ci.resamples => {
            format!(
                "{:.3}–{:.3} ({} resamples)",
                i.low, i.high, i.resamples_used
            )
        }
        Some(i) => format!("{:.3}–{:.3}", i.low, i.high),
        None => "none".to_string(),
    };
    println!(
        "{name} protocol, bootstrap over {} test studies, {} resamples:",
        ci.studies, ci.resamples
    );
    let r = &m.test.report;
    println!("  test metric       value  95 % CI");
    for (metric, value, i) in [
        ("accuracy", r.accuracy, ci.accuracy),
        ("macro-F1", r.macro_avg.f1, ci.macro_f1),
        ("RSNA score", m.test.rsna.score, ci.rsna_score),
    ] {
        println!("  {metric:<16}{value:>6.3}  {}", interval(i));
    }
    let ceilings = m.bayes_recall.unwrap_or([f64::NAN; 3]);
    println!("  recall of         value  95 % CI                       Bayes ceiling");
    for (class, c) in ci.classes.iter().enumerate() {
        println!(
            "  {:<16}{:>6.3}  {:<30}{:.3}",
            c.name,
            r.classes[class].recall,
            interval(c.recall),
            ceilings[class]
        );
    }
}

/// A slice, the same in both prepared folders: (study, series, instance number).
type SliceKey = (u64, u64, i64);

/// One test image of the article's protocol, with what the evaluation does not see.
struct PaperTestImage {
    /// The label it carries: its study's grade at the level the global K-Means gave it.
    label: usize,
    /// The grade at the slice's true level (the honest protocol's label, exact on this data),
    /// when the honest protocol kept the slice.
    true_label: Option<usize>,
    /// Whether the training split holds a copy of its slice (the original or another copy).
    copy_in_train: bool,
}

/// The test images of a prepared folder of the article's protocol, in `load_prepared`'s
/// order (manifest rows, then augmented rows), each with its true grade from the honest
/// folder's manifest and whether a copy of its slice is in the training split.
fn paper_test_images(paper: &Path, honest: &Path) -> Result<Vec<PaperTestImage>> {
    let key = |r: &ManifestRow| -> SliceKey { (r.study_id, r.series_id, r.instance_number) };
    let true_label: HashMap<SliceKey, usize> = read_manifest(&honest.join("manifest.csv"))?
        .iter()
        .map(|r| (key(r), r.label.index()))
        .collect();
    let manifest = read_manifest(&paper.join("manifest.csv"))?;
    let augmented = read_augmented(&paper.join("augmented.csv"))?;
    let by_path: HashMap<&str, &ManifestRow> =
        manifest.iter().map(|r| (r.path.as_str(), r)).collect();
    // ANCHOR: leakage
    // Every image as (its split, its label, the original slice it shows).
    let originals = manifest.iter().map(|r| (r.split, r.label, r.path.as_str()));
    let copies = augmented
        .iter()
        .map(|a| (a.split, a.label, a.source_path.as_str()));
    let images: Vec<_> = originals.chain(copies).collect();
    let slices_in_train: HashSet<&str> = images
        .iter()
        .filter(|(split, _, _)| *split == Split::Train)
        .map(|(_, _, source)| *source)
        .collect();
    let test = images.iter().filter(|(split, _, _)| *split == Split::Test);
    // ANCHOR_END: leakage
    test.map(|&(_, label, source)| {
        let row = by_path
            .get(source)
            .ok_or_else(|| Error::invalid(format!("{source} is not in the paper manifest")))?;
        Ok(PaperTestImage {
            label: label.index(),
            true_label: true_label.get(&key(row)).copied(),
            copy_in_train: slices_in_train.contains(source),
        })
    })
    .collect()
}

/// Leakage and label noise in the article's protocol, measured on the paper run's test split.
fn leakage_and_label_noise(paper: &RunConfig, honest: &RunConfig) -> Result<()> {
    let info = paper_test_images(&paper.prepared_dir, &honest.prepared_dir)?;
    let data = load_prepared(&paper.prepared_dir)?;
    if data.test.len() != info.len() {
        return Err(Error::invalid("test image lists of different lengths"));
    }
    let (mut model, _) = load_model(&paper.run_dir.join("model.safetensors"))?;
    let test = StreamedDataset::new(data.test, paper.image_size, data.augment_seed)?;
    let predicted = argmax_rows(&evaluate(&mut model, &test, paper.batch_size)?.probabilities);

    println!("article's protocol, test images per class   images  a copy of the slice in train");
    for (class, name) in CLASS_NAMES.iter().enumerate() {
        let of_class: Vec<&PaperTestImage> = info.iter().filter(|t| t.label == class).collect();
        let copies = of_class.iter().filter(|t| t.copy_in_train).count();
        println!("{name:<44}{:>7}{copies:>10}", of_class.len());
    }
    // Test images whose slice also has a true grade (the honest protocol kept it).
    let graded: Vec<(usize, usize)> = (0..info.len())
        .filter_map(|i| info[i].true_label.map(|t| (i, t)))
        .collect();
    let wrong: Vec<(usize, usize)> = graded
        .iter()
        .copied()
        .filter(|&(i, t)| info[i].label != t)
        .collect();
    let count = |f: &dyn Fn(usize, usize) -> bool| wrong.iter().filter(|&&(i, t)| f(i, t)).count();
    println!(
        "test images with a true grade: {} of {}; their label is not that grade: {}",
        graded.len(),
        info.len(),
        wrong.len()
    );
    println!(
        "  of these, predicted as the label they carry (scored correct): {}; as their true grade: {}; other: {}",
        count(&|i, _| predicted[i] == info[i].label),
        count(&|i, t| predicted[i] == t),
        count(&|i, t| predicted[i] != info[i].label && predicted[i] != t)
    );
    let share = |hits: usize| hits as f64 / graded.len().max(1) as f64;
    println!(
        "accuracy on them against the labels carried: {:.3}; against the true grades: {:.3}",
        share(
            graded
                .iter()
                .filter(|&&(i, _)| predicted[i] == info[i].label)
                .count()
        ),
        share(graded.iter().filter(|&&(i, t)| predicted[i] == t).count())
    );
    Ok(())
}

/// How many slices the article's global K-Means puts at another level than the per-series
/// assignment (which is exact on the synthetic data, chapter 3), and how many labels change.
fn label_noise(honest: &Path, paper: &Path) -> Result<()> {
    let key = |r: &ManifestRow| -> SliceKey { (r.study_id, r.series_id, r.instance_number) };
    let truth: HashMap<SliceKey, _> = read_manifest(&honest.join("manifest.csv"))?
        .into_iter()
        .map(|r| (key(&r), (r.level, r.label)))
        .collect();
    let (mut both, mut wrong_level, mut wrong_label) = (0, 0, 0);
    for row in read_manifest(&paper.join("manifest.csv"))? {
        if let Some(&(level, label)) = truth.get(&key(&row)) {
            both += 1;
            wrong_level += usize::from(level != row.level);
            wrong_label += usize::from(label != row.label);
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / both.max(1) as f64;
    println!(
        "slices kept by both protocols: {both}; at a wrong level in the article's protocol: {wrong_level} ({:.0} %); with a wrong label: {wrong_label} ({:.0} %)",
        pct(wrong_level),
        pct(wrong_label)
    );
    Ok(())
}

fn main() -> Result<()> {
    let start = Instant::now();
    worked_example()?;
    rsna_by_hand()?;

    let tiny = tiny();
    let sizes = if tiny {
        Sizes {
            studies: 12,
            image_size: 32,
            batch_size: 16,
            max_epochs: 1,
        }
    } else {
        Sizes {
            studies: 40,
            image_size: 32,
            batch_size: 16,
            max_epochs: 10,
        }
    };
    let root = std::env::temp_dir()
        .join("lumbar-book")
        .join(if tiny { "12-tiny" } else { "12" });
    // A fresh start: the main job reuses a dataset it finds, whatever its size.
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    }
    println!(
        "== Both protocols: {} synthetic studies, {} px, batch {}, at most {} epochs ==",
        sizes.studies, sizes.image_size, sizes.batch_size, sizes.max_epochs
    );
    let (honest_config, honest) = run_protocol(&root, Protocol::Honest, &sizes)?;
    let (paper_config, paper) = run_protocol(&root, Protocol::Paper, &sizes)?;
    for (name, m, figure) in [
        ("honest", &honest, "12-confusion-honest.png"),
        ("paper", &paper, "12-confusion-paper.png"),
    ] {
        println!(
            "\n-- {name} protocol: {} test images from {} studies; {} epochs (best {}), {:.0} s --",
            m.test.images,
            m.test.studies,
            m.training.epochs_run,
            m.training.best_epoch,
            m.training.seconds
        );
        println!("{}", m.test.confusion().to_markdown());
        println!("{}", m.test.report);
        if let Some(balanced) = &m.test.balanced_subset {
            println!(
                "balanced subset, 100 per class: accuracy {:.3}, macro-F1 {:.3}",
                balanced.accuracy, balanced.macro_avg.f1
            );
        }
        let path = figure_path(figure);
        plot_confusion_matrix(
            &path,
            &m.test.confusion(),
            &format!("Test confusion matrix ({name} protocol)"),
            true,
        )?;
        announce(&path);
    }

    println!("\n{:<34}{:>10}{:>10}", "test metric", "honest", "paper");
    row(
        "accuracy",
        honest.test.report.accuracy,
        paper.test.report.accuracy,
    );
    row(
        "macro-F1",
        honest.test.report.macro_avg.f1,
        paper.test.report.macro_avg.f1,
    );
    row(
        "Severe recall",
        honest.test.report.classes[2].recall,
        paper.test.report.classes[2].recall,
    );
    row(
        "RSNA score (lower is better)",
        honest.test.rsna.score,
        paper.test.rsna.score,
    );
    println!(
        "RSNA rows (study, level): honest {} from {} studies, paper {} from {} studies\n",
        honest.test.rsna.levels,
        honest.test.rsna.studies,
        paper.test.rsna.levels,
        paper.test.rsna.studies
    );

    print_intervals("honest", &honest);
    print_intervals("paper", &paper);
    println!();

    label_noise(&honest_config.prepared_dir, &paper_config.prepared_dir)?;
    leakage_and_label_noise(&paper_config, &honest_config)?;
    println!("\nwhole example: {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}
