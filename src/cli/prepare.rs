//! `lumbar prepare --data DIR --out DIR [--image-size 256] [--protocol honest|paper] [--seed S]`:
//! RSNA CSVs and DICOM → levels → labelled PNG dataset → balanced training set.

use super::whole_number::whole_number;
use crate::model::paper_cnn::MIN_IMAGE_SIZE;
use crate::prepare::{PrepareConfig, Protocol};
use std::path::PathBuf;

/// Arguments of `lumbar prepare`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// RSNA 2024 dataset folder (train.csv, train_series_descriptions.csv,
    /// train_label_coordinates.csv, train_images/).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder for png/, augmented/, manifest.csv, augmented.csv, summary.json. It is
    /// built beside itself as `<OUT>.partial` and swapped in when complete, so a failed run
    /// leaves an earlier output as it was; an interrupted run, started again with the same
    /// data and settings, resumes without redoing the PNGs it wrote.
    #[arg(long)]
    pub out: PathBuf,
    /// Side of the square output PNGs, in pixels (at least 32, the paper network's smallest
    /// input).
    #[arg(long, default_value_t = 256, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the image size", MIN_IMAGE_SIZE as u32))]
    pub image_size: usize,
    /// Level-assignment and split protocol.
    #[arg(long, value_enum, default_value_t = Protocol::Honest)]
    pub protocol: Protocol,
    /// Seed of every random choice (K-Means, split, augmentation).
    #[arg(long, default_value_t = 42, allow_negative_numbers = true,
          value_parser = whole_number::<u64>("the seed", 0))]
    pub seed: u64,
    /// Do not write augmented copies to balance the classes.
    #[arg(long)]
    pub no_augment: bool,
}

/// Run the pipeline with progress bars, then print the summary table.
pub fn run(args: &Args) -> crate::Result<()> {
    let mut config = PrepareConfig::new(&args.data, &args.out);
    config.image_size = args.image_size;
    config.protocol = args.protocol;
    config.seed = args.seed;
    config.balance = !args.no_augment;
    config.verbose = true;
    let summary = crate::prepare::run(&config)?;
    println!("{}", summary.table());
    println!(
        "wrote {} (manifest.csv, augmented.csv, summary.json, png/)",
        args.out.display()
    );
    Ok(())
}
