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
enum Command {}

fn main() {
    let cli = Cli::parse();
    let result: lumbar_cnn::Result<()> = match cli.command {
        None => {
            Cli::command().print_help().ok();
            Ok(())
        }
    };
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
