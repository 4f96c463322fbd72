//! `lumbar`: the command-line front of lumbar-cnn.
//!
//! Each subcommand lives in its own module under `src/cli/`; this file only parses the command
//! line, dispatches, and turns an error into one clear sentence and a non-zero exit code.
//! With no subcommand it runs the main job (`lumbar run` with its defaults).

use clap::{Parser, Subcommand};
use lumbar_cnn::{cli, RecyclingAllocator};

/// Large freed blocks are kept for the next training step (see `lumbar_cnn::recycling_allocator`).
#[global_allocator]
static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;

#[derive(Parser)]
#[command(
    name = "lumbar",
    version,
    about = "Lumbar spinal canal stenosis CNN, from DICOM to confusion matrix"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The whole study: synthetic data (if needed) → prepare → train → evaluate → report.
    Run(cli::run::Args),
    /// Score a finished run on its test split again and rewrite its report.
    Evaluate(cli::evaluate::Args),
    /// What a finished run's network looks at: Grad-CAM, saliency, filters, feature maps, mistakes.
    Explain(cli::explain::Args),
    /// Write the synthetic dataset in the RSNA 2024 layout (the default data of every example).
    Synth(cli::synth::Args),
    /// RSNA CSVs and DICOM → disc levels → labelled PNG dataset → balanced training set.
    Prepare(cli::prepare::Args),
    /// Print the DICOM tags the pipeline uses.
    Inspect(cli::inspect::Args),
    /// Convert one DICOM slice to a PNG (native size, min-max to 0–255).
    Convert(cli::convert::Args),
    /// Print the paper's network as a Keras-style summary (layers, output shapes, parameters).
    Summary(cli::summary::Args),
    /// Time training and inference steps of the paper's network on this machine.
    Bench(cli::bench::Args),
    /// Severity per disc level of one axial series, or a Kaggle submission for a test folder.
    Predict(cli::predict::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        None => cli::run::run(&cli::run::Args::default()),
        Some(Command::Run(args)) => cli::run::run(&args),
        Some(Command::Evaluate(args)) => cli::evaluate::run(&args),
        Some(Command::Explain(args)) => cli::explain::run(&args),
        Some(Command::Synth(args)) => cli::synth::run(&args),
        Some(Command::Prepare(args)) => cli::prepare::run(&args),
        Some(Command::Inspect(args)) => cli::inspect::run(&args),
        Some(Command::Convert(args)) => cli::convert::run(&args),
        Some(Command::Summary(args)) => cli::summary::run(&args),
        Some(Command::Bench(args)) => cli::bench::run(&args),
        Some(Command::Predict(args)) => cli::predict::run(&args),
    };
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
