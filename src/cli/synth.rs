//! `lumbar synth`: write the synthetic RSNA-layout dataset and print its class counts and the
//! Bayes accuracy its grader noise allows.

use super::whole_number::whole_number;
use crate::error::Result;
use crate::synth::{generate, SynthConfig};
use std::path::PathBuf;

/// Arguments of `lumbar synth`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder to write the dataset into (refused if it exists and is not empty, unless
    /// --overwrite).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of studies (patients); the default gives about the article's image count.
    #[arg(long, default_value_t = SynthConfig::default().studies, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the number of studies", 1))]
    pub studies: usize,
    /// Seed of every random choice: the same seed writes byte-identical files.
    #[arg(long, default_value_t = SynthConfig::default().seed, allow_negative_numbers = true,
          value_parser = whole_number::<u64>("the seed", 0))]
    pub seed: u64,
    /// Graders' misjudgement of the dural-sac area, standard deviation in mm² (0 = perfect).
    #[arg(long, default_value_t = SynthConfig::default().grader_sd_mm2)]
    pub grader_sd: f64,
    /// Share of axial T2 series acquired as one continuous stack from above L1/L2 to below
    /// L5/S1 (30–60 slices, vertebral bodies included) instead of a short stack per disc.
    #[arg(long, default_value_t = SynthConfig::default().continuous_share)]
    pub continuous_share: f64,
    /// Replace the dataset files already in --out.
    #[arg(long)]
    pub overwrite: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Generate the dataset and print the summary.
pub fn run(args: &Args) -> Result<()> {
    let config = SynthConfig {
        studies: args.studies,
        seed: args.seed,
        grader_sd_mm2: args.grader_sd,
        continuous_share: args.continuous_share,
        ..SynthConfig::default()
    };
    let start = std::time::Instant::now();
    let summary = generate(&config, &args.out, args.overwrite, !args.quiet)?;
    println!("{summary}");
    println!("(the article's images before augmentation: 2414 / 224 / 115)");
    println!(
        "wrote {} in {:.1} s",
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
