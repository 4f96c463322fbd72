//! `lumbar run` (and `cargo run --release` with no arguments): the whole study in one command.

use super::whole_number::whole_number;
use crate::error::{Error, Result};
use crate::experiment::report::with_interval;
use crate::experiment::{run as run_study, RunConfig};
use crate::model::paper_cnn::MIN_IMAGE_SIZE;
use crate::prepare::Protocol;
use std::path::PathBuf;

/// Input side of the default run: the largest size whose run fits in 15 minutes on 2 cores.
pub const DEFAULT_IMAGE_SIZE: usize = 32;

/// Arguments of `lumbar run`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// RSNA-layout folder (the Kaggle download or the synthetic dataset). The default folder is
    /// generated with the synthetic dataset when it does not exist.
    #[arg(long, default_value = "data/synthetic")]
    pub data: PathBuf,
    /// `default` (fits 15 minutes on 2 cores) or `paper` (the article's exact configuration:
    /// 256×256, batch 32, at most 25 epochs, patience 5).
    #[arg(long, default_value = "default")]
    pub preset: String,
    /// Level-assignment and split protocol (`paper` is the authors' leaky one).
    #[arg(long, value_enum, default_value_t = Protocol::Honest)]
    pub protocol: Protocol,
    /// Input side in pixels (overrides the preset; at least 32, and the training step must fit
    /// in the memory this machine has available).
    #[arg(long, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the image size", MIN_IMAGE_SIZE as u32))]
    pub image_size: Option<usize>,
    /// Images per batch (overrides the preset).
    #[arg(long, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the batch size", 1))]
    pub batch_size: Option<usize>,
    /// Maximum epochs (overrides the preset). With --resume it may be raised (training goes on
    /// to the new limit) but not set below the epochs the run has already completed.
    #[arg(long, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the number of epochs", 1))]
    pub epochs: Option<usize>,
    /// Early-stopping patience (overrides the preset).
    #[arg(long, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the patience", 0))]
    pub patience: Option<usize>,
    /// The one seed of every random choice.
    #[arg(long, default_value_t = 42, allow_negative_numbers = true,
          value_parser = whole_number::<u64>("the seed", 0))]
    pub seed: u64,
    /// Studies to generate when the synthetic dataset is made (default: the article's size).
    #[arg(long, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the number of studies", 1))]
    pub studies: Option<usize>,
    /// Folder of the runs.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Name of this run, the name of its folder inside --runs (default:
    /// `<protocol>-<size>px-seed<seed>`): not empty, no `/` or `\`, not starting with `.`, no
    /// control characters.
    #[arg(long)]
    pub name: Option<String>,
    /// Continue an interrupted run from its last completed epoch. Every setting must be the
    /// one the run was started with (a different one is refused, naming it); only --quiet may
    /// change, and --epochs may be raised but not set below the epochs already completed.
    #[arg(long)]
    pub resume: bool,
    /// No progress bars or stage messages.
    #[arg(long)]
    pub quiet: bool,
    /// Stop training after this many steps in all (the last epoch cut short and validated; the
    /// run is then evaluated and reported as usual): a rehearsal of a large dataset, or a check
    /// of time and memory before a long run. Default: whole epochs.
    #[arg(long, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the number of steps", 1))]
    pub max_steps: Option<usize>,
}

impl Default for Args {
    fn default() -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: Args,
        }
        Wrapper::parse_from(["lumbar"]).args
    }
}

/// Turn the command line into a [`RunConfig`].
pub fn config_from_args(args: &Args) -> Result<RunConfig> {
    // ANCHOR: presets
    let (size, batch, epochs, patience) = match args.preset.as_str() {
        "default" => (DEFAULT_IMAGE_SIZE, 32, 25, 5),
        "paper" => (256, 32, 25, 5),
        other => {
            return Err(Error::invalid(format!(
                "unknown preset {other:?}: use default or paper"
            )))
        }
    };
    // ANCHOR_END: presets
    let image_size = args.image_size.unwrap_or(size);
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}px-seed{}", args.protocol, image_size, args.seed));
    check_run_name(&name)?;
    let default_data = args.data == Args::default().data;
    Ok(RunConfig {
        data_dir: args.data.clone(),
        generate_if_missing: default_data,
        synth_studies: args.studies,
        // Named after the dataset too, so runs on two datasets never share a prepared folder.
        prepared_dir: PathBuf::from("data").join("prepared").join(format!(
            "{}-{}-{}px-seed{}",
            dataset_name(&args.data),
            args.protocol,
            image_size,
            args.seed
        )),
        run_dir: args.runs.join(name),
        image_size,
        protocol: args.protocol,
        seed: args.seed,
        batch_size: args.batch_size.unwrap_or(batch),
        max_epochs: args.epochs.unwrap_or(epochs),
        patience: args.patience.unwrap_or(patience),
        resume: args.resume,
        progress: !args.quiet,
        max_steps: args.max_steps,
    })
}

/// Run the study and print the test metrics and where the report is.
pub fn run(args: &Args) -> Result<()> {
    let config = config_from_args(args)?;
    let metrics = run_study(&config)?;
    // What the network looks at, into the run's explain/ folder and its report.
    let run_dir =
        std::path::absolute(&config.run_dir).map_err(|e| crate::Error::io(&config.run_dir, e))?;
    crate::explain::run::explain_run(&crate::explain::run::ExplainConfig::new(&run_dir))?;
    crate::experiment::report::write_report(&run_dir, &metrics)?;
    println!("\n{}", metrics.test.report);
    let (test, ci) = (&metrics.test, metrics.test.ci95.as_ref());
    let severe = crate::metrics::SEVERE;
    println!(
        "macro-F1 {}\nSevere recall {}\nRSNA score {}{}{}",
        with_interval(test.report.macro_avg.f1, 3, ci, |c| c.macro_f1),
        with_interval(test.report.classes[severe].recall, 3, ci, |c| c
            .classes
            .get(severe)
            .and_then(|s| s.recall)),
        with_interval(test.rsna.score, 4, ci, |c| c.rsna_score),
        ci.map(|c| format!("\n(95 % CI: bootstrap over the {} test studies)", c.studies))
            .unwrap_or_default(),
        metrics
            .bayes_accuracy
            .map(|b| format!("\nBayes accuracy of the data {b:.3}"))
            .unwrap_or_default()
    );
    println!("report: {}", config.run_dir.join("report.md").display());
    Ok(())
}

/// Refuse a run name that is not one plain folder name inside `--runs`: empty, containing `/`
/// or `\` (a path, e.g. `../../escaped`), starting with `.` (`..`, hidden folders) or holding a
/// control character. The error names the rule the name breaks.
pub fn check_run_name(name: &str) -> Result<()> {
    match folder_name_problem(name) {
        None => Ok(()),
        Some(reason) => Err(Error::invalid(format!(
            "invalid --name {name:?}: {reason}; a run name is one folder name inside --runs (not empty, no / or \\, not starting with a dot, no control characters)"
        ))),
    }
}

/// Why `name` cannot be one folder name inside another folder (`None` when it can): empty, a
/// `/` or `\`, a leading dot, or a control character. Shared by `--name` and `explain --out`.
pub(super) fn folder_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.contains('/') || name.contains('\\') {
        Some("it contains a / or \\")
    } else if name.starts_with('.') {
        Some("it starts with a dot")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    }
}

/// The last component of the dataset folder (`rsna-synthetic`, or the Kaggle folder's name).
fn dataset_name(data: &std::path::Path) -> String {
    std::path::absolute(data)
        .ok()
        .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "data".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Command {
        #[command(flatten)]
        args: Args,
    }

    fn parse(words: &[&str]) -> std::result::Result<Args, clap::Error> {
        Command::try_parse_from(std::iter::once("lumbar").chain(words.iter().copied()))
            .map(|c| c.args)
    }

    #[test]
    fn protocol_is_parsed_into_the_enum_and_names_the_run() {
        assert_eq!(parse(&[]).unwrap().protocol, Protocol::Honest);
        let args = parse(&["--protocol", "paper"]).unwrap();
        assert_eq!(args.protocol, Protocol::Paper);
        let config = config_from_args(&args).unwrap();
        assert_eq!(config.protocol, Protocol::Paper);
        assert_eq!(config.run_dir, PathBuf::from("runs/paper-32px-seed42"));
        assert!(config
            .prepared_dir
            .to_string_lossy()
            .ends_with("-paper-32px-seed42"));
    }

    #[test]
    fn an_unknown_protocol_on_the_command_line_is_refused() {
        let error = parse(&["--protocol", "leaky"]).unwrap_err().to_string();
        assert!(
            error.contains("leaky") && error.contains("honest"),
            "{error}"
        );
    }
}
