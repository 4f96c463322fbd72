//! The model folder `lumbar predict --model` reads: a run folder written by `lumbar run`
//! (`model.safetensors`, `model.json`, and `config.json` for the run's seed), checked before
//! anything is predicted.

use super::Predictor;
use crate::error::{Error, Result};
use crate::experiment::run::read_run_config;
use crate::model::checkpoint::{architecture_path, load_architecture, load_model};
use crate::model::paper_cnn::{CHANNELS, CLASSES};
use std::path::Path;

/// The seed of `lumbar run` when none is given; used for the level assignment when the model
/// folder has no `config.json` to read the run's seed from.
pub const DEFAULT_RUN_SEED: u64 = 42;

impl Predictor {
    /// Load the model of a run folder written by `lumbar run` (`model.safetensors` and
    /// `model.json`; the run's seed from `config.json` when present, else
    /// [`DEFAULT_RUN_SEED`]). Errors name the folder or file: a missing folder or file, an
    /// architecture that is not the paper's network, weights that do not fit it.
    pub fn load(model_dir: &Path) -> Result<Predictor> {
        if !model_dir.is_dir() {
            return Err(Error::invalid(format!(
                "--model {}: no such folder; pass a run folder written by `lumbar run` (it holds model.safetensors and model.json)",
                model_dir.display()
            )));
        }
        let weights = model_dir.join("model.safetensors");
        for file in [weights.clone(), architecture_path(&weights)] {
            if !file.is_file() {
                return Err(Error::invalid(format!(
                    "--model {}: {} is missing; a run folder written by `lumbar run` holds model.safetensors and model.json",
                    model_dir.display(),
                    file.file_name().unwrap_or_default().to_string_lossy()
                )));
            }
        }
        let architecture = load_architecture(&weights)?;
        if architecture.name != "paper_cnn"
            || architecture.channels != CHANNELS
            || architecture.classes != CLASSES
        {
            return Err(Error::format(
                architecture_path(&weights).display(),
                format!(
                    "the model is {:?} with {} channels and {} classes, not the paper's network (paper_cnn, {CHANNELS} channels, {CLASSES} classes)",
                    architecture.name, architecture.channels, architecture.classes
                ),
            ));
        }
        let (model, architecture) = load_model(&weights)?;
        let run_seed = if model_dir.join("config.json").is_file() {
            read_run_config(model_dir)?.seed
        } else {
            DEFAULT_RUN_SEED
        };
        Ok(Predictor {
            model,
            architecture,
            run_seed,
        })
    }

    /// Side of the square images the model takes, pixels.
    pub fn image_size(&self) -> usize {
        self.architecture.image_size
    }
}
