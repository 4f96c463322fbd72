//! Chapter 11 of the book: the article's network, trained. Prints the Keras-style summary of
//! `paper_cnn` at 256×256 and checks every layer's parameter count against its formula, shows
//! how the Flatten width (and with it the parameter count) follows the input size, then runs
//! the main job's chain on a small synthetic dataset — generate → prepare → load → fit — and
//! draws the learning curves (the article's Figures 5 and 6).
//!
//! `cargo run --release --example 11_network_trained`
//! (figures: `book/src/figures/11-architecture.png`, drawn first, then
//! `book/src/figures/11-accuracy.png` and `book/src/figures/11-loss.png`; a few minutes.
//! `-- --architecture-only` draws the architecture figure and stops, in seconds.
//! `LUMBAR_BOOK_TINY=1` trains on a handful of studies for two epochs and writes the figures to
//! a temporary folder instead). At the end it prints Table 11.1 and draws
//! `book/src/figures/11-resolution.png`, the study at four input sizes, from the runs kept in
//! `book/data/resolution-study/`; `-- --resolution-study-only` does only that, and
//! `-- --collect-resolution-study runs data/prepared` first copies finished `lumbar run`s there.

/// Timed like `lumbar run`: large freed blocks are recycled (chapter 13, change 1).
#[global_allocator]
static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;

use lumbar_cnn::book_examples::{announce, figure_path, synth_dataset, tiny};
use lumbar_cnn::experiment::resolution_study::{collect_run, markdown_table, read_study};
use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::nn::sequential::group_thousands;
use lumbar_cnn::nn::Sequential;
use lumbar_cnn::plot::architecture::plot_architecture;
use lumbar_cnn::plot::curves::{plot_accuracy_curves, plot_loss_curves_log_y};
use lumbar_cnn::plot::resolution_study::plot_resolution_study;
use lumbar_cnn::prepare::{self, load_prepared, PrepareConfig, Protocol};
use lumbar_cnn::synth::SynthConfig;
use lumbar_cnn::train::{fit, Dataset, EpochRecord, FitConfig, History, StreamedDataset};
use lumbar_cnn::RecyclingAllocator;
use lumbar_cnn::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Sizes of one run of the chain: studies generated, input side, epoch limit.
struct Sizes {
    studies: usize,
    image_size: usize,
    batch_size: usize,
    max_epochs: usize,
}

/// The formula of a layer's parameter count from its input and output shapes (one sample,
/// channels last), written out as text and as a number; `None` for layers without parameters.
fn formula(kind: &str, input: &[usize], output: &[usize]) -> Option<(String, usize)> {
    let c_in = *input.last()?;
    let c_out = *output.last()?;
    match kind {
        // ANCHOR: formulas
        "Conv2D" => Some((
            format!("3·3·{c_in}·{c_out} + {c_out}"),
            3 * 3 * c_in * c_out + c_out,
        )),
        "BatchNormalization" => Some((format!("4·{c_out}"), 4 * c_out)),
        "Dense" => Some((format!("{c_in}·{c_out} + {c_out}"), c_in * c_out + c_out)),
        // ANCHOR_END: formulas
        _ => None,
    }
}

/// Print one line per layer that has parameters (formula and count) and check each count
/// against the parameters the layer really holds.
fn check_parameter_counts(model: &Sequential) -> Result<()> {
    println!(
        "{:<24}{:>14} → {:<14}{:<26}{:>12}",
        "layer", "input", "output", "formula", "params"
    );
    let mut shape = model.input_shape().to_vec();
    for layer in model.layers() {
        let output = layer.output_shape(&shape)?;
        // Keras counts both: learned parameters and state (batch norm's running statistics).
        let held: usize = layer.params().iter().map(|p| p.len()).sum::<usize>()
            + layer.state().iter().map(|s| s.len()).sum::<usize>();
        if let Some((text, count)) = formula(layer.kind(), &shape, &output) {
            let dims = |s: &[usize]| {
                s.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("×")
            };
            println!(
                "{:<24}{:>14} → {:<14}{:<26}{:>12}",
                layer.name(),
                dims(&shape),
                dims(&output),
                text,
                group_thousands(count)
            );
            if count != held {
                return Err(Error::invalid(format!(
                    "{}: the formula gives {count} parameters, the layer holds {held}",
                    layer.name()
                )));
            }
        } else if held != 0 {
            return Err(Error::invalid(format!(
                "{} ({}) holds {held} parameters but has no formula",
                layer.name(),
                layer.kind()
            )));
        }
        shape = output;
    }
    Ok(())
}

/// How the Flatten width, the first Dense layer and the totals grow with the input side.
fn parameters_by_input_size() -> Result<()> {
    println!(
        "\n{:>6}{:>16}{:>18}{:>18}",
        "input", "Flatten width", "dense params", "trainable"
    );
    for size in [32, 64, 128, 256] {
        let model = paper_cnn(size, 0)?;
        let flatten = model
            .layers()
            .iter()
            .position(|l| l.kind() == "Flatten")
            .ok_or_else(|| Error::invalid("paper_cnn has no Flatten layer"))?;
        let mut shape = model.input_shape().to_vec();
        for layer in &model.layers()[..=flatten] {
            shape = layer.output_shape(&shape)?;
        }
        let dense: usize = model.layers()[flatten + 1]
            .params()
            .iter()
            .map(|p| p.len())
            .sum();
        let (trainable, _) = model.parameter_counts();
        println!(
            "{:>6}{:>16}{:>18}{:>18}",
            format!("{size}²"),
            group_thousands(shape[0]),
            group_thousands(dense),
            group_thousands(trainable)
        );
    }
    Ok(())
}

/// The main job's chain on a small synthetic dataset; returns the training history.
fn train_small(sizes: &Sizes, seed: u64) -> Result<History> {
    let root = std::env::temp_dir().join("lumbar-book").join("11");
    let t0 = Instant::now();
    // ANCHOR: pipeline
    // 1. A synthetic RSNA-layout download (DICOM files and CSVs).
    let synth = SynthConfig {
        studies: sizes.studies,
        seed,
        ..SynthConfig::default()
    };
    let data = synth_dataset("11-synthetic", &synth)?;
    // 2. lumbar prepare: levels, PNGs, labels, split by study, balance the training split.
    let prepared_dir = root.join("prepared");
    let prepared = prepare::run(&PrepareConfig {
        image_size: sizes.image_size,
        protocol: Protocol::Honest,
        seed,
        ..PrepareConfig::new(&data, &prepared_dir)
    })?;
    // 3. Stream the training and validation PNGs as [batch, S, S, 3] tensors in [0, 1], the
    //    balancing copies drawn on the fly.
    let split = load_prepared(&prepared_dir)?;
    let train = StreamedDataset::new(split.train, sizes.image_size, split.augment_seed)?;
    let val = StreamedDataset::new(split.val, sizes.image_size, split.augment_seed)?;
    // ANCHOR_END: pipeline
    let data_seconds = t0.elapsed().as_secs_f64();
    // ANCHOR: fit
    // 4. The article's network and Keras' fit: the article's settings, but batch 16 (see text).
    let mut model = paper_cnn(sizes.image_size, seed)?;
    let config = FitConfig {
        batch_size: sizes.batch_size,
        max_epochs: sizes.max_epochs,
        patience: 5,
        seed,
        progress: false,
        ..FitConfig::default()
    };
    let history = fit(&mut model, &train, &val, &config)?;
    // ANCHOR_END: fit
    let table = prepared.table();
    let splits = table.split_once("\nsplit").map_or("", |(_, rest)| rest);
    let splits = splits.split("(originals").next().unwrap_or("");
    println!("split{splits}(originals+augmented per class)");
    println!(
        "{} training and {} validation images of {}×{} px; data ready after {:.0} s, trained in {:.0} s",
        train.len(),
        val.len(),
        sizes.image_size,
        sizes.image_size,
        data_seconds,
        t0.elapsed().as_secs_f64() - data_seconds
    );
    Ok(history)
}

/// What the command line asks for.
enum Mode {
    /// Everything: architecture, parameter counts, the small training run, the study figure.
    Full,
    /// `--architecture-only`: the architecture figure, then stop.
    ArchitectureOnly,
    /// `--resolution-study-only`: Table 11.1 and Figure 11.4 from the book's data, then stop.
    ResolutionStudyOnly,
    /// `--collect-resolution-study RUNS PREPARED`: copy the finished runs
    /// `RUNS/honest-<N>px-seed42` (with the sac width of `PREPARED/synthetic-honest-<N>px-seed42`)
    /// into the book's data, then draw as `--resolution-study-only`.
    Collect { runs: PathBuf, prepared: PathBuf },
}

const USAGE: &str = "options: --architecture-only | --resolution-study-only | \
                     --collect-resolution-study RUNS PREPARED";

/// Read the command line; any other argument is an error.
fn mode() -> Result<Mode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => Ok(Mode::Full),
        ["--architecture-only"] => Ok(Mode::ArchitectureOnly),
        ["--resolution-study-only"] => Ok(Mode::ResolutionStudyOnly),
        ["--collect-resolution-study", runs, prepared] => Ok(Mode::Collect {
            runs: runs.into(),
            prepared: prepared.into(),
        }),
        _ => Err(Error::invalid(format!(
            "unknown arguments {args:?} ({USAGE})"
        ))),
    }
}

/// The book's copy of the resolution study's runs: `book/data/resolution-study/<N>px/`.
fn study_data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("book/data/resolution-study")
}

/// Copy every finished run of the study found in `runs` into the book's data.
fn collect_study(runs: &Path, prepared: &Path) -> Result<()> {
    for size in [32, 64, 128, 256] {
        let run = runs.join(format!("honest-{size}px-seed42"));
        if !run.join("metrics.json").is_file() {
            println!("{}: no finished run, skipped", run.display());
            continue;
        }
        let prepared = prepared.join(format!("synthetic-honest-{size}px-seed42"));
        let prepared = prepared.is_dir().then_some(prepared.as_path());
        let dest = study_data_dir().join(format!("{size}px"));
        collect_run(&run, prepared, &dest)?;
        println!("{} → {}", run.display(), dest.display());
    }
    Ok(())
}

/// Table 11.1 (printed as Markdown) and Figure 11.4, from the book's data.
fn resolution_study() -> Result<()> {
    // ANCHOR: resolution_study
    let rows = read_study(&study_data_dir())?;
    println!(
        "\n== The study at {} input sizes (Table 11.1) ==",
        rows.len()
    );
    print!("{}", markdown_table(&rows));
    let points: Vec<_> = rows.iter().map(|r| r.study_point()).collect();
    let path = figure_path("11-resolution.png");
    plot_resolution_study(&path, &points)?;
    // ANCHOR_END: resolution_study
    announce(&path);
    Ok(())
}

fn main() -> Result<()> {
    let start = Instant::now();
    let tiny = tiny();
    let mode = mode()?;
    match &mode {
        Mode::ResolutionStudyOnly => return resolution_study(),
        Mode::Collect { runs, prepared } => {
            collect_study(runs, prepared)?;
            return resolution_study();
        }
        Mode::Full | Mode::ArchitectureOnly => {}
    }

    // ANCHOR: summary
    let model = paper_cnn(256, 42)?;
    println!("{}", model.summary()?);
    // ANCHOR_END: summary
    // ANCHOR: architecture
    let architecture_path = figure_path("11-architecture.png");
    plot_architecture(
        &architecture_path,
        &model,
        "The article's network at 256 × 256 × 3",
    )?;
    // ANCHOR_END: architecture
    announce(&architecture_path);
    if matches!(mode, Mode::ArchitectureOnly) {
        return Ok(());
    }
    check_parameter_counts(&model)?;
    let (trainable, frozen) = model.parameter_counts();
    if (trainable, frozen) != (21_627_555, 5_504) {
        return Err(Error::invalid(format!(
            "expected Keras' 21,627,555 / 5,504 parameters, got {trainable} / {frozen}"
        )));
    }
    drop(model);
    parameters_by_input_size()?;

    let sizes = if tiny {
        Sizes {
            studies: 12,
            image_size: 32,
            batch_size: 16,
            max_epochs: 2,
        }
    } else {
        Sizes {
            studies: 60,
            image_size: 32,
            batch_size: 16,
            max_epochs: 25,
        }
    };
    println!(
        "\n== The main job's chain: {} synthetic studies, {} px, batch {}, at most {} epochs ==",
        sizes.studies, sizes.image_size, sizes.batch_size, sizes.max_epochs
    );
    let history = train_small(&sizes, 42)?;
    println!(
        "{:>5} {:>8} {:>8} {:>9} {:>8} {:>7}",
        "epoch", "loss", "acc", "val_loss", "val_acc", "img/s"
    );
    for e in &history.epochs {
        let mark = if e.epoch == history.best_epoch {
            "  ← best"
        } else {
            ""
        };
        println!(
            "{:>5} {:>8.4} {:>8.3} {:>9.4} {:>8.3} {:>7.0}{mark}",
            e.epoch, e.loss, e.accuracy, e.val_loss, e.val_accuracy, e.images_per_second
        );
    }
    match history.stopped_epoch {
        Some(stop) => println!(
            "early stopping at epoch {stop}; weights of epoch {} restored",
            history.best_epoch
        ),
        None => println!(
            "no early stop within {} epochs; weights of epoch {} restored",
            sizes.max_epochs, history.best_epoch
        ),
    }

    let accuracy_path = figure_path("11-accuracy.png");
    let loss_path = figure_path("11-loss.png");
    let series = |f: fn(&EpochRecord) -> f32| history.epochs.iter().map(f).collect::<Vec<_>>();
    let best = Some(history.best_epoch).filter(|&b| b > 0);
    plot_accuracy_curves(
        &accuracy_path,
        &series(|e| e.accuracy),
        &series(|e| e.val_accuracy),
        best,
    )?;
    // The first epochs' validation loss is many times the rest: a log axis shows both.
    plot_loss_curves_log_y(
        &loss_path,
        &series(|e| e.loss),
        &series(|e| e.val_loss),
        best,
    )?;
    announce(&accuracy_path);
    announce(&loss_path);
    resolution_study()?;
    println!("whole example: {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}
