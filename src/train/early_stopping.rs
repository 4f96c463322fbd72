//! Early stopping with Keras' exact rule:
//! `EarlyStopping(monitor='val_loss', patience=5, min_delta=0, restore_best_weights=True)`.
//!
//! After every epoch: `wait += 1`; if `val_loss < best − min_delta` (a strict improvement)
//! then `best = val_loss`, remember this epoch's weights and set `wait = 0`; otherwise, if
//! `wait ≥ patience`, stop. At the end of training the best epoch's weights are put back.
//! So with patience 5, a best epoch `e` is followed by exactly five epochs without
//! improvement before training stops at epoch `e + 5`.

use crate::nn::Tensor;
use serde::{Deserialize, Serialize};

/// The state of the early-stopping rule (serialisable, to resume training).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement tolerated before stopping (Keras' `patience`).
    pub patience: usize,
    /// An improvement must beat the best by more than this (Keras' `min_delta`, 0).
    pub min_delta: f32,
    /// The lowest validation loss so far (+∞ before the first epoch).
    pub best: f32,
    /// The 1-based epoch that reached `best` (0 before the first epoch).
    pub best_epoch: usize,
    /// Epochs since the last improvement.
    pub wait: usize,
    /// The 1-based epoch at which training was stopped, if it was.
    pub stopped_epoch: Option<usize>,
    /// The weights of the best epoch (not serialised: saved as a checkpoint file instead).
    #[serde(skip)]
    pub best_weights: Option<Vec<Tensor>>,
}

impl EarlyStopping {
    /// Keras' rule with the given patience and `min_delta = 0`.
    pub fn new(patience: usize) -> Self {
        EarlyStopping {
            patience,
            min_delta: 0.0,
            best: f32::INFINITY,
            best_epoch: 0,
            wait: 0,
            stopped_epoch: None,
            best_weights: None,
        }
    }

    // ANCHOR: on_epoch_end
    /// Record the validation loss of 1-based `epoch`. `weights` is called to copy the model's
    /// weights only when this epoch is the new best. Returns `true` when training must stop.
    pub fn on_epoch_end(
        &mut self,
        epoch: usize,
        val_loss: f32,
        weights: impl FnOnce() -> Vec<Tensor>,
    ) -> bool {
        self.wait += 1;
        if val_loss < self.best - self.min_delta {
            self.best = val_loss;
            self.best_epoch = epoch;
            self.best_weights = Some(weights());
            self.wait = 0;
            return false;
        }
        if self.wait >= self.patience {
            self.stopped_epoch = Some(epoch);
            return true;
        }
        false
    }
    // ANCHOR_END: on_epoch_end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_patience_epochs_after_the_best_and_only_strict_improvements_count() {
        let mut rule = EarlyStopping::new(2);
        let losses = [1.0, 0.8, 0.8, 0.9, 0.7];
        let mut stopped_at = None;
        for (i, &loss) in losses.iter().enumerate() {
            if rule.on_epoch_end(i + 1, loss, Vec::new) {
                stopped_at = Some(i + 1);
                break;
            }
        }
        // Epoch 3 equals the best (not an improvement), epoch 4 is worse: stop at 4.
        assert_eq!(stopped_at, Some(4));
        assert_eq!(rule.best_epoch, 2);
        assert_eq!(rule.best, 0.8);
    }

    #[test]
    fn keeps_going_while_improving() {
        let mut rule = EarlyStopping::new(1);
        for epoch in 1..=10 {
            assert!(!rule.on_epoch_end(epoch, 1.0 / epoch as f32, Vec::new));
        }
        assert_eq!(rule.best_epoch, 10);
        assert_eq!(rule.stopped_epoch, None);
    }
}
