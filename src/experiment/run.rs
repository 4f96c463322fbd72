//! The main job, end to end: synthetic data (if needed) → `prepare` → train the paper's network
//! → evaluate on the held-out test studies → figures, `metrics.json` and `report.md`.
//!
//! Everything a run writes goes into its own folder `runs/<name>/`; the generated dataset and
//! the prepared PNGs are cached under `data/` and reused when their settings match.

use super::evaluation::{evaluate_test, TestEvaluation, TestImage};
use super::report::{write_report, RunMetrics, TrainingSummary};
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::model::checkpoint::save_model;
use crate::model::memory::{available_bytes, ensure_fits, estimate};
use crate::model::paper_cnn::MIN_IMAGE_SIZE;
use crate::model::{paper_cnn, Architecture};
use crate::nn::Sequential;
use crate::prepare::manifest::{read_augmented, read_manifest, ManifestRow};
use crate::prepare::{self, load_prepared, PrepareConfig, Protocol, Split};
use crate::synth::summary_file::{read_summary, SavedSynthSummary};
use crate::train::resume_state::read_resume_state;
use crate::train::{evaluate, fit, Dataset, FitConfig, StreamedDataset};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything one run needs; the command line fills it in (see `lumbar run --help`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunConfig {
    /// The RSNA-layout folder to read.
    pub data_dir: PathBuf,
    /// Generate the synthetic dataset into `data_dir` when it does not exist yet.
    pub generate_if_missing: bool,
    /// Studies of the generated dataset (`None`: the generator's default, the article's size).
    pub synth_studies: Option<usize>,
    /// Where the prepared PNG dataset is cached.
    pub prepared_dir: PathBuf,
    /// The run's own output folder.
    pub run_dir: PathBuf,
    /// Side of the square input images, pixels.
    pub image_size: usize,
    /// `honest` (split by study before augmenting) or `paper` (the authors' protocol); read and
    /// written as these words in `config.json`.
    pub protocol: Protocol,
    /// The one seed of every random choice.
    pub seed: u64,
    /// Images per batch.
    pub batch_size: usize,
    /// Upper bound on epochs.
    pub max_epochs: usize,
    /// Early-stopping patience (epochs without a lower validation loss).
    pub patience: usize,
    /// Continue an interrupted run from its last completed epoch.
    pub resume: bool,
    /// Progress bars and stage messages.
    pub progress: bool,
    /// Stop training after this many steps in all (the last epoch cut short, validated, and the
    /// run then evaluated as usual): a rehearsal of a large dataset or a time check. `None` (the
    /// default): whole epochs. Not written to `config.json` when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<usize>,
}

/// What the settings and inputs of a prepared folder were; a cached folder is reused only if
/// they match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PreparedFrom {
    data_dir: PathBuf,
    image_size: usize,
    protocol: Protocol,
    seed: u64,
    /// The fingerprint of the data (CSV bytes, DICOM names, sizes and times) and settings.
    input_digest: prepare::InputDigest,
}

/// Print a stage heading when progress output is on.
fn stage(config: &RunConfig, number: usize, text: &str) {
    if config.progress {
        eprintln!("\n[{number}/5] {text}");
    }
}

/// Make sure `config.data_dir` holds an RSNA-layout dataset, generating the synthetic one when
/// allowed. Returns the generator's summary (its Bayes ceilings) when the data is synthetic.
fn ensure_data(config: &RunConfig) -> Result<Option<SavedSynthSummary>> {
    let has_data = config.data_dir.join("train.csv").exists();
    if !has_data {
        if !config.generate_if_missing {
            return Err(Error::invalid(format!(
                "{} is not an RSNA-layout folder (no train.csv); point --data at the Kaggle download or leave it out to use the synthetic dataset",
                config.data_dir.display()
            )));
        }
        let mut synth = crate::synth::SynthConfig {
            seed: config.seed,
            ..Default::default()
        };
        if let Some(studies) = config.synth_studies {
            synth.studies = studies;
        }
        let summary = crate::synth::generate(&synth, &config.data_dir, true, config.progress)?;
        if config.progress {
            eprintln!("{summary}");
        }
    }
    read_summary(&config.data_dir)
}

/// Prepare the PNG dataset, or reuse the cached one made with the same settings from the same
/// data (same [`prepare::InputDigest`]); otherwise say why it is rebuilt.
fn ensure_prepared(config: &RunConfig) -> Result<prepare::PrepareSummary> {
    let mut prepare_config = PrepareConfig::new(&config.data_dir, &config.prepared_dir);
    prepare_config.image_size = config.image_size;
    prepare_config.protocol = config.protocol;
    prepare_config.seed = config.seed;
    prepare_config.verbose = config.progress;
    let mut wanted = PreparedFrom {
        data_dir: config.data_dir.clone(),
        image_size: config.image_size,
        protocol: config.protocol,
        seed: config.seed,
        input_digest: prepare::input_digest(&prepare_config)?,
    };
    let marker = config.prepared_dir.join("prepared_from.json");
    let summary_path = config.prepared_dir.join("summary.json");
    let cached = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|text| serde_json::from_str::<PreparedFrom>(&text).ok());
    let rebuild_reason = match &cached {
        None if marker.exists() => {
            Some("its prepared_from.json is unreadable or from an earlier version".to_string())
        }
        None => None,
        Some(cached) if *cached == wanted => {
            let summary = std::fs::read_to_string(&summary_path)
                .ok()
                .and_then(|text| serde_json::from_str::<prepare::PrepareSummary>(&text).ok());
            if let Some(summary) = summary {
                if config.progress {
                    eprintln!(
                        "reusing the prepared dataset in {}",
                        config.prepared_dir.display()
                    );
                }
                return Ok(summary);
            }
            Some("its summary.json is missing or unreadable".to_string())
        }
        Some(cached) => {
            let mut changes = wanted.input_digest.changes_since(&cached.input_digest);
            if cached.data_dir != wanted.data_dir {
                changes.insert(0, "the data folder changed".into());
            }
            if changes.is_empty() {
                changes.push("the settings changed".into());
            }
            Some(format!("{} since it was prepared", changes.join(", ")))
        }
    };
    if let (Some(reason), true) = (rebuild_reason, config.progress) {
        eprintln!(
            "rebuilding the prepared dataset in {}: {reason}",
            config.prepared_dir.display()
        );
    }
    let summary = prepare::run(&prepare_config)?;
    if config.progress {
        eprintln!("{}", summary.table());
    }
    // The fingerprint of what was actually read (the data may have changed since above).
    wanted.input_digest = summary.input_digest.clone();
    let json = serde_json::to_string_pretty(&wanted).expect("serialisable");
    write_atomic(&marker, json.as_bytes())?;
    Ok(summary)
}

// ANCHOR: test_images
/// The test split's (study, level, label), in the order `load_prepared` lists the test images:
/// the manifest's test rows, then the augmented test copies (the article's protocol augments
/// before splitting), each copy taking the study and level of the slice it was made from.
fn test_images(prepared_dir: &Path) -> Result<Vec<TestImage>> {
    let manifest = read_manifest(&prepared_dir.join("manifest.csv"))?;
    let mut images: Vec<TestImage> = manifest
        .iter()
        .filter(|row| row.split == Split::Test)
        .map(|row| TestImage {
            study_id: row.study_id,
            level: row.level as usize,
            label: row.label.index(),
        })
        .collect();
    let augmented = prepared_dir.join("augmented.csv");
    if augmented.exists() {
        let by_path: HashMap<&str, &ManifestRow> = manifest
            .iter()
            .map(|row| (row.path.as_str(), row))
            .collect();
        for row in read_augmented(&augmented)?
            .into_iter()
            .filter(|row| row.split == Split::Test)
        {
            let source = by_path.get(row.source_path.as_str()).ok_or_else(|| {
                Error::format(
                    augmented.display(),
                    format!(
                        "augmented copy {} comes from {}, which is not in manifest.csv",
                        row.draw, row.source_path
                    ),
                )
            })?;
            images.push(TestImage {
                study_id: source.study_id,
                level: source.level as usize,
                label: row.label.index(),
            });
        }
    }
    Ok(images)
}
// ANCHOR_END: test_images

/// One split of the prepared dataset, streamed from its PNGs batch by batch (the copies that
/// balance the classes are drawn on the fly).
fn load_split(
    data: &prepare::PreparedDataset,
    split: Split,
    size: usize,
) -> Result<StreamedDataset> {
    let images = data.split(split);
    if images.is_empty() {
        return Err(Error::invalid(format!(
            "the {} split is empty: the dataset is too small to split",
            split.name()
        )));
    }
    StreamedDataset::new(images.to_vec(), size, data.augment_seed)
}

/// Evaluate `model` on the test split of `config.prepared_dir` and draw the confusion matrix
/// into the run folder.
pub fn evaluate_on_test(config: &RunConfig, model: &mut Sequential) -> Result<TestEvaluation> {
    let data = load_prepared(&config.prepared_dir)?;
    let test = load_split(&data, Split::Test, config.image_size)?;
    let probabilities = evaluate(model, &test, config.batch_size)?.probabilities;
    let evaluation = evaluate_test(
        &test_images(&config.prepared_dir)?,
        &probabilities,
        config.seed,
    )?;
    crate::plot::confusion::plot_confusion_matrix(
        config.run_dir.join("confusion_matrix.png"),
        &evaluation.confusion(),
        &format!("Test confusion matrix ({} protocol)", config.protocol),
        true,
    )?;
    Ok(evaluation)
}

impl RunConfig {
    /// Refuse settings that cannot work, before any work is done or any folder created: an
    /// image size below the network's minimum, a batch size or epoch limit of 0, or a training
    /// run that needs more memory than this machine has available.
    pub fn check(&self) -> Result<()> {
        if self.image_size < MIN_IMAGE_SIZE {
            return Err(Error::invalid(format!(
                "image size {} is too small for the paper's network: five 2×2 poolings need at least {MIN_IMAGE_SIZE} pixels",
                self.image_size
            )));
        }
        if self.batch_size == 0 || self.max_epochs == 0 {
            return Err(Error::invalid(format!(
                "the batch size and the number of epochs must be at least 1 (got batch size {}, {} epochs)",
                self.batch_size, self.max_epochs
            )));
        }
        ensure_fits(
            estimate(self.image_size, self.batch_size).training_run_bytes(),
            available_bytes(),
            &format!(
                "--image-size {} with --batch-size {}",
                self.image_size, self.batch_size
            ),
            "training (parameters, gradients, Adam moments, activations, the best weights; the images are streamed)",
        )
    }

    /// The same configuration with its folders as absolute paths (from the current folder).
    pub fn with_absolute_paths(&self) -> Result<RunConfig> {
        let absolute = |path: &Path| std::path::absolute(path).map_err(|e| Error::io(path, e));
        Ok(RunConfig {
            data_dir: absolute(&self.data_dir)?,
            prepared_dir: absolute(&self.prepared_dir)?,
            run_dir: absolute(&self.run_dir)?,
            ..self.clone()
        })
    }
}

/// With `--resume`, refuse a run folder whose checkpoint was made with other settings, naming
/// each with both values ("cannot resume runs/x: its checkpoint was made with --seed 42, not
/// 7"), and an epoch limit below the epochs it has already completed. Only the progress output
/// may change freely, and the epoch limit may be raised. Without a checkpoint there is nothing
/// to resume and the run starts from scratch. `config` has absolute paths (as `config.json`);
/// `shown` is the run folder as the user wrote it.
pub fn check_resume(config: &RunConfig, shown: &Path) -> Result<()> {
    let checkpoint = config.run_dir.join("checkpoint");
    let Some(state) = read_resume_state(&checkpoint)? else {
        return Ok(());
    };
    let refuse = |why: String| Error::invalid(format!("cannot resume {}: {why}", shown.display()));
    let saved = read_run_config(&config.run_dir).map_err(|e| {
        refuse(format!(
            "its checkpoint has no readable config.json beside it, so its settings are unknown ({e})"
        ))
    })?;
    let mut differences = Vec::new();
    let mut differ = |flag: &str, was: String, now: String| {
        if was != now {
            differences.push(format!("{flag} {was}, not {now}"));
        }
    };
    let studies = |s: Option<usize>| s.map_or("(default)".to_string(), |n| n.to_string());
    differ(
        "--data",
        saved.data_dir.display().to_string(),
        config.data_dir.display().to_string(),
    );
    differ(
        "--studies",
        studies(saved.synth_studies),
        studies(config.synth_studies),
    );
    differ(
        "--protocol",
        saved.protocol.to_string(),
        config.protocol.to_string(),
    );
    differ(
        "--image-size",
        saved.image_size.to_string(),
        config.image_size.to_string(),
    );
    differ("--seed", saved.seed.to_string(), config.seed.to_string());
    differ(
        "--batch-size",
        saved.batch_size.to_string(),
        config.batch_size.to_string(),
    );
    differ(
        "--patience",
        saved.patience.to_string(),
        config.patience.to_string(),
    );
    if !differences.is_empty() {
        return Err(refuse(format!(
            "its checkpoint was made with {} (repeat the settings it was started with, or leave out --resume to train it again from scratch)",
            differences.join("; ")
        )));
    }
    if config.max_epochs < state.completed_epochs {
        return Err(refuse(format!(
            "it has already completed {} epochs, more than --epochs {} (pass --epochs {0} or more)",
            state.completed_epochs, config.max_epochs
        )));
    }
    Ok(())
}

/// Read the `config.json` a run wrote into its folder.
pub fn read_run_config(run_dir: &Path) -> Result<RunConfig> {
    let path = run_dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::format(path.display(), format!("not a run configuration: {e}")))
}

/// Run the whole study once and write everything into `config.run_dir`.
///
/// Every setting is checked first ([`RunConfig::check`], and [`check_resume`] with
/// `resume`), then the data; the run folder and its `config.json` are written only once the
/// prepared dataset has loaded, so a refused or failed start leaves no run folder behind (and
/// an existing one as it was).
pub fn run(config: &RunConfig) -> Result<RunMetrics> {
    let start = Instant::now();
    config.check()?;
    let shown_run_dir = config.run_dir.clone();
    // Absolute paths in config.json, so `lumbar evaluate --run` works from any folder.
    let config = &config.with_absolute_paths()?;
    if config.resume {
        check_resume(config, &shown_run_dir)?;
    }

    stage(
        config,
        1,
        &format!("dataset: {}", config.data_dir.display()),
    );
    let synth_summary = ensure_data(config)?;

    stage(
        config,
        2,
        &format!(
            "prepare ({} protocol, {} px)",
            config.protocol, config.image_size
        ),
    );
    let prepared = ensure_prepared(config)?;
    let data = load_prepared(&config.prepared_dir)?;
    let train = load_split(&data, Split::Train, config.image_size)?;
    let val = load_split(&data, Split::Val, config.image_size)?;
    std::fs::create_dir_all(&config.run_dir).map_err(|e| Error::io(&config.run_dir, e))?;
    let json = serde_json::to_string_pretty(config).expect("serialisable");
    write_atomic(config.run_dir.join("config.json"), json.as_bytes())?;

    stage(
        config,
        3,
        &format!("train the paper's network on {} images", train.len()),
    );
    // ANCHOR: train
    let mut model = paper_cnn(config.image_size, config.seed)?;
    let fit_config = FitConfig {
        batch_size: config.batch_size,
        max_epochs: config.max_epochs,
        patience: config.patience,
        seed: config.seed,
        checkpoint_dir: Some(config.run_dir.join("checkpoint")),
        resume: config.resume,
        progress: config.progress,
        max_steps: config.max_steps,
        ..FitConfig::default()
    };
    let train_start = Instant::now();
    let history = fit(&mut model, &train, &val, &fit_config)?;
    // ANCHOR_END: train
    let train_seconds = train_start.elapsed().as_secs_f64();
    save_model(
        &model,
        &Architecture::paper(config.image_size),
        &config.run_dir.join("model.safetensors"),
    )?;
    history.save(&config.run_dir)?;
    history.save_curves(&config.run_dir)?;

    stage(
        config,
        4,
        &format!("evaluate on {} held-out test images", data.test.len()),
    );
    let evaluation = evaluate_on_test(config, &mut model)?;
    super::report::draw_augmentation_samples(&config.prepared_dir, &config.run_dir, config.seed)?;

    stage(config, 5, "report");
    let epochs_run = history.epochs.len();
    let metrics = RunMetrics {
        run: config
            .run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        protocol: config.protocol,
        image_size: config.image_size,
        seed: config.seed,
        originals: prepared.originals,
        augmented: prepared.augmented,
        training: TrainingSummary {
            epochs_run,
            best_epoch: history.best_epoch,
            stopped_epoch: history.stopped_epoch,
            best_val_loss: history.best_val_loss(),
            seconds: train_seconds,
            images_per_second: history
                .epochs
                .iter()
                .map(|e| e.images_per_second)
                .sum::<f64>()
                / epochs_run.max(1) as f64,
            batch_size: config.batch_size,
            max_epochs: config.max_epochs,
            patience: config.patience,
        },
        test: evaluation,
        bayes_accuracy: synth_summary.as_ref().map(|s| s.bayes_accuracy),
        bayes_recall: synth_summary
            .as_ref()
            .map(SavedSynthSummary::bayes_recall_by_class),
        total_seconds: start.elapsed().as_secs_f64(),
    };
    write_report(&config.run_dir, &metrics)?;
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `config.json` as `lumbar run` wrote it before the protocol was typed.
    const SAVED_CONFIG: &str = r#"{
  "data_dir": "data/synthetic",
  "generate_if_missing": true,
  "synth_studies": null,
  "prepared_dir": "data/prepared/synthetic-paper-32px-seed42",
  "run_dir": "runs/paper-32px-seed42",
  "image_size": 32,
  "protocol": "paper",
  "seed": 42,
  "batch_size": 32,
  "max_epochs": 25,
  "patience": 5,
  "resume": false,
  "progress": true
}"#;

    #[test]
    fn saved_config_files_load_and_write_the_protocol_as_a_word() {
        let config: RunConfig = serde_json::from_str(SAVED_CONFIG).unwrap();
        assert_eq!(config.protocol, Protocol::Paper);
        let written = serde_json::to_string_pretty(&config).unwrap();
        assert_eq!(written, SAVED_CONFIG);
        let honest = RunConfig {
            protocol: Protocol::Honest,
            ..config
        };
        let written = serde_json::to_string(&honest).unwrap();
        assert!(written.contains(r#""protocol":"honest""#), "{written}");
    }

    #[test]
    fn an_unknown_protocol_in_a_config_file_is_refused() {
        let text = SAVED_CONFIG.replace(r#""paper""#, r#""leaky""#);
        let error = serde_json::from_str::<RunConfig>(&text).unwrap_err();
        assert!(error.to_string().contains("leaky"), "{error}");
    }
}
