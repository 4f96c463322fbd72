//! `lumbar`: the command-line front of lumbar-cnn.
//!
//! Each subcommand lives in its own module under `src/cli/`; this file only parses the command
//! line, dispatches, and turns an error into one clear sentence and a non-zero exit code.

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Write the synthetic dataset in the RSNA 2024 layout (the default data of every example).
    Synth(lumbar_cnn::cli::synth::Args),
}

fn main() {
    let cli = Cli::parse();
    let result: lumbar_cnn::Result<()> = match cli.command {
        None => {
            Cli::command().print_help().ok();
            Ok(())
        }
        Some(Command::Synth(args)) => lumbar_cnn::cli::synth::run(&args),
    };
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
