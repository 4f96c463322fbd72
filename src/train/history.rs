//! The training history: one record per epoch, as Keras' `History.history`, saved as CSV and
//! JSON.

use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What one epoch produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (weighted by batch size, train mode).
    pub loss: f32,
    /// Fraction of training images classified correctly during the epoch (train mode).
    pub accuracy: f32,
    /// Validation loss (eval mode), the quantity early stopping watches.
    pub val_loss: f32,
    /// Validation accuracy (eval mode).
    pub val_accuracy: f32,
    /// Wall time of the training part of the epoch, in seconds.
    pub train_seconds: f64,
    /// Training throughput: images per second.
    pub images_per_second: f64,
    /// Part of `train_seconds` the step spent waiting for the loader's next batch (0 in
    /// histories written before the loader ran ahead of the step).
    #[serde(default)]
    pub data_wait_seconds: f64,
}

/// All epochs of a training run, plus what early stopping decided.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per completed epoch, in order.
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose weights were restored (lowest validation loss), 1-based.
    pub best_epoch: usize,
    /// The epoch at which early stopping fired, if it did.
    pub stopped_epoch: Option<usize>,
}

/// Column names of `history.csv`.
pub const HISTORY_CSV_HEADER: &str =
    "epoch,loss,accuracy,val_loss,val_accuracy,train_seconds,images_per_second,data_wait_seconds";

impl History {
    /// The lowest validation loss of any epoch (+∞ if there is none).
    pub fn best_val_loss(&self) -> f32 {
        self.epochs
            .iter()
            .map(|e| e.val_loss)
            .fold(f32::INFINITY, f32::min)
    }

    /// The history as CSV text (header + one row per epoch).
    pub fn to_csv(&self) -> String {
        let mut out = format!("{HISTORY_CSV_HEADER}\n");
        for e in &self.epochs {
            out += &format!(
                "{},{},{},{},{},{:.3},{:.2},{:.3}\n",
                e.epoch,
                e.loss,
                e.accuracy,
                e.val_loss,
                e.val_accuracy,
                e.train_seconds,
                e.images_per_second,
                e.data_wait_seconds
            );
        }
        out
    }

    /// Write `history.csv` and `history.json` into `dir`, atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_atomic(dir.join("history.csv"), self.to_csv().as_bytes())?;
        let json = serde_json::to_string_pretty(self).expect("history serialises");
        write_atomic(dir.join("history.json"), json.as_bytes())
    }

    /// Draw the article's Figures 5 and 6 from this history: `accuracy.png` and `loss.png` in
    /// `dir`, training vs validation per epoch, with the restored (best) epoch marked.
    pub fn save_curves(&self, dir: &Path) -> Result<()> {
        self.save_curves_as(&dir.join("accuracy.png"), &dir.join("loss.png"))
    }

    /// Draw the accuracy and loss curves (the article's Figures 5–6, best epoch marked) as
    /// PNGs at the two given paths.
    pub fn save_curves_as(&self, accuracy_path: &Path, loss_path: &Path) -> Result<()> {
        let series = |f: fn(&EpochRecord) -> f32| self.epochs.iter().map(f).collect::<Vec<f32>>();
        let best = (self.best_epoch > 0).then_some(self.best_epoch);
        crate::plot::curves::plot_accuracy_curves(
            accuracy_path,
            &series(|e| e.accuracy),
            &series(|e| e.val_accuracy),
            best,
        )?;
        crate::plot::curves::plot_loss_curves(
            loss_path,
            &series(|e| e.loss),
            &series(|e| e.val_loss),
            best,
        )
    }

    /// Read a `history.json` written by [`History::save`].
    pub fn load_json(path: &Path) -> Result<History> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::format(path.display(), format!("not a training history: {e}")))
    }
}
