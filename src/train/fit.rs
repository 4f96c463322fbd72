//! `fit`: the training loop, mirroring Keras' `model.fit(..., callbacks=[EarlyStopping])`.
//!
//! For each epoch: shuffle the training indices (a permutation seeded by `(seed, epoch)`), and
//! for each batch run forward (train mode) → softmax cross-entropy → backward → Adam step. Then
//! evaluate the validation set (eval mode), record the epoch in the [`History`], let
//! [`EarlyStopping`] decide, and — when a checkpoint folder is given — save everything needed
//! to resume. At the end the best epoch's weights are restored.
//!
//! **Reproducibility.** Initial weights come from the model's seed; shuffling from
//! `(seed, epoch)`; dropout masks from `(layer seed, global step)`. Every parallel sum in the
//! layers is split in a fixed way, so the same seed gives bit-identical histories on any
//! number of threads, and a resumed run continues exactly as an uninterrupted one.

use super::dataset::Dataset;
use super::early_stopping::EarlyStopping;
use super::history::{EpochRecord, History};
use super::prefetch::for_each_batch;
use super::progress::Progress;
use super::resume_state::{load_resume_state, save_resume_state};
use crate::error::{Error, Result};
use crate::nn::{Pass, Sequential, SoftmaxCrossEntropy};
use crate::optim::{Adam, Optimizer};
use crate::seed::mix_seed;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::PathBuf;
use std::time::Instant;

/// Settings of a training run; `Default` is the article's (Keras') configuration.
#[derive(Clone, Debug)]
pub struct FitConfig {
    /// Images per batch (Keras' default 32).
    pub batch_size: usize,
    /// Upper bound on epochs (the article: 25).
    pub max_epochs: usize,
    /// Early-stopping patience on the validation loss (the article: 5).
    pub patience: usize,
    /// Adam's learning rate (Keras' default 1e-3).
    pub learning_rate: f32,
    /// Seed of the shuffling (the model's weights and dropout have their own, from the model).
    pub seed: u64,
    /// Folder for the after-every-epoch checkpoint that `resume` continues from.
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue from the checkpoint in `checkpoint_dir` if there is one.
    pub resume: bool,
    /// Show a progress bar (or plain lines when not on a terminal) and one line per epoch.
    pub progress: bool,
    /// Stop after this many training steps in all (the last epoch cut short, then validated
    /// as usual): for rehearsals and memory measurements on a large dataset. `None` (the
    /// default): train whole epochs.
    pub max_steps: Option<usize>,
}

// ANCHOR: keras_defaults
impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            batch_size: 32,
            max_epochs: 25,
            patience: 5,
            learning_rate: 1e-3,
            seed: 0,
            checkpoint_dir: None,
            resume: false,
            progress: true,
            max_steps: None,
        }
    }
}
// ANCHOR_END: keras_defaults

/// Training steps timed (after a first, untimed one) for the estimate of an epoch's time.
const TIMED_STEPS: usize = 3;

/// `about 21 min per epoch (151 training steps of 8.2 s, validation ≈ 1 min) on this machine`:
/// the estimate `lumbar run` prints after its first few steps. A validation batch is
/// costed at a third of a training step (forward only).
fn epoch_estimate(step_seconds: f64, train_batches: usize, val_batches: usize) -> String {
    let validation = val_batches as f64 * step_seconds / 3.0;
    let total = train_batches as f64 * step_seconds + validation;
    format!(
        "about {} per epoch on this machine ({train_batches} training steps of {:.2} s, validation ≈ {}), from {TIMED_STEPS} timed steps",
        duration(total),
        step_seconds,
        duration(validation)
    )
}

/// A duration for people: `42 s`, `7.5 min`, `3.2 h`.
fn duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// Loss and accuracy of a model on a dataset, plus its softmax probabilities `[N, classes]`.
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f32,
    /// Fraction classified correctly.
    pub accuracy: f32,
    /// Predicted class probabilities, one row per image in dataset order.
    pub probabilities: ndarray::Array2<f32>,
}

/// Evaluate `model` on every image of `data` in eval mode, `batch_size` at a time.
pub fn evaluate(
    model: &mut Sequential,
    data: &dyn Dataset,
    batch_size: usize,
) -> Result<Evaluation> {
    if data.is_empty() {
        return Err(Error::invalid("cannot evaluate on an empty dataset"));
    }
    let mut loss_fn = SoftmaxCrossEntropy::new();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut rows = Vec::with_capacity(data.len());
    let indices: Vec<usize> = (0..data.len()).collect();
    for_each_batch(data, &indices, batch_size, 0, |_, chunk, x| {
        let labels: Vec<usize> = chunk.iter().map(|&i| data.labels()[i]).collect();
        let logits = model.infer(&x)?;
        loss_sum += loss_fn.forward(&logits, &labels)? as f64 * chunk.len() as f64;
        let p = loss_fn.probabilities().expect("set by forward");
        correct += count_correct(p, &labels);
        rows.extend(p.rows().into_iter().map(|r| r.to_vec()));
        Ok(())
    })?;
    let classes = rows[0].len();
    let probabilities =
        ndarray::Array2::from_shape_vec((rows.len(), classes), rows.concat()).expect("rows agree");
    Ok(Evaluation {
        loss: (loss_sum / data.len() as f64) as f32,
        accuracy: correct as f32 / data.len() as f32,
        probabilities,
    })
}

/// How many rows of `probabilities` have their maximum at the label.
fn count_correct(probabilities: &ndarray::Array2<f32>, labels: &[usize]) -> usize {
    crate::model::argmax_rows(probabilities)
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count()
}

/// Train `model` on `train`, watching `val`, and return the history. On return the model holds
/// the weights of the epoch with the lowest validation loss.
pub fn fit(
    model: &mut Sequential,
    train: &dyn Dataset,
    val: &dyn Dataset,
    config: &FitConfig,
) -> Result<History> {
    if train.is_empty() || val.is_empty() {
        return Err(Error::invalid(format!(
            "training needs images in both sets: {} training, {} validation",
            train.len(),
            val.len()
        )));
    }
    if config.batch_size == 0 || config.max_epochs == 0 {
        return Err(Error::invalid("batch size and epochs must be at least 1"));
    }
    let mut adam = Adam::new(config.learning_rate);
    let mut history = History::default();
    let mut stopping = EarlyStopping::new(config.patience);
    let mut first_epoch = 1;
    if let (true, Some(dir)) = (config.resume, &config.checkpoint_dir) {
        if let Some(state) = load_resume_state(dir, model, &mut adam, &mut stopping)? {
            if state.completed_epochs > config.max_epochs {
                let (done, limit) = (state.completed_epochs, config.max_epochs);
                return Err(Error::invalid(format!(
                    "cannot resume from {}: it has completed {done} epochs, more than the limit of {limit} (raise the limit to at least {done})",
                    dir.display()
                )));
            }
            if config.progress {
                eprintln!(
                    "resuming after epoch {} from {}",
                    state.completed_epochs,
                    dir.display()
                );
            }
            first_epoch = state.completed_epochs + 1;
            history = state.history;
            if stopping.stopped_epoch.is_some() {
                first_epoch = config.max_epochs + 1; // it had already stopped
            }
        }
    }

    let batches_per_epoch = train.len().div_ceil(config.batch_size);
    let mut loss_fn = SoftmaxCrossEntropy::new();
    for epoch in first_epoch..=config.max_epochs {
        // ANCHOR: shuffle
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(mix_seed(
            config.seed,
            epoch as u64,
        )));
        // ANCHOR_END: shuffle
        let steps_done = (epoch - 1) * batches_per_epoch;
        let last_epoch = match config.max_steps {
            Some(limit) if steps_done + batches_per_epoch >= limit => {
                order.truncate(limit.saturating_sub(steps_done) * config.batch_size);
                true
            }
            _ => false,
        };
        if order.is_empty() {
            break;
        }

        let mut progress = Progress::new(
            format!("epoch {epoch}/{}", config.max_epochs),
            batches_per_epoch as u64,
            config.progress,
        );
        let start = Instant::now();
        let mut after_first_step = start;
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let wait = for_each_batch(
            train,
            &order,
            config.batch_size,
            epoch,
            |batch_index, chunk, x| {
                // ANCHOR: batch_step
                let step = ((epoch - 1) * batches_per_epoch + batch_index) as u64;
                let labels: Vec<usize> = chunk.iter().map(|&i| train.labels()[i]).collect();
                let logits = model.forward(&x, Pass::Train { step })?;
                let loss = loss_fn.forward(&logits, &labels)?;
                if !loss.is_finite() {
                    return Err(Error::NonFinite {
                        location: format!(
                            "the training loss of epoch {epoch}, batch {}/{batches_per_epoch}: training diverged, or a training image is not finite{}",
                            batch_index + 1,
                            match &config.checkpoint_dir {
                                Some(dir) => format!(
                                    " (the last good checkpoint is kept in {})",
                                    dir.display()
                                ),
                                None => String::new(),
                            }
                        ),
                        value: loss,
                    });
                }
                model.backward_params(&loss_fn.backward()?)?;
                adam.step(&mut model.params_mut())?;
                // ANCHOR_END: batch_step

                loss_sum += loss as f64 * chunk.len() as f64;
                correct += count_correct(loss_fn.probabilities().expect("set by forward"), &labels);
                seen += chunk.len();
                // The estimate of an epoch's time, from the steps after the first (which also
                // pays for the first allocations), once, in the first epoch this call trains.
                if epoch == first_epoch && batch_index == 0 {
                    after_first_step = Instant::now();
                }
                if epoch == first_epoch && batch_index == TIMED_STEPS && config.progress {
                    let step_seconds =
                        after_first_step.elapsed().as_secs_f64() / TIMED_STEPS as f64;
                    progress.note(&epoch_estimate(
                        step_seconds,
                        batches_per_epoch,
                        val.len().div_ceil(config.batch_size),
                    ));
                }
                let rate = seen as f64 / start.elapsed().as_secs_f64().max(1e-9);
                progress.step(format!(
                    "loss {:.4} acc {:.3} {:.1} img/s",
                    loss_sum / seen as f64,
                    correct as f64 / seen as f64,
                    rate
                ));
                Ok(())
            },
        )?;
        progress.finish();
        let train_seconds = start.elapsed().as_secs_f64();
        let validation = evaluate(model, val, config.batch_size)?;
        if !validation.loss.is_finite() {
            return Err(Error::NonFinite {
                location: format!(
                    "the validation loss after epoch {epoch}: the model diverged, or a validation image is not finite"
                ),
                value: validation.loss,
            });
        }
        let record = EpochRecord {
            epoch,
            loss: (loss_sum / seen as f64) as f32,
            accuracy: correct as f32 / seen as f32,
            val_loss: validation.loss,
            val_accuracy: validation.accuracy,
            train_seconds,
            images_per_second: seen as f64 / train_seconds.max(1e-9),
            data_wait_seconds: wait.waited.as_secs_f64(),
        };
        if config.progress {
            eprintln!(
                "epoch {epoch}/{}: loss {:.4} acc {:.4} | val_loss {:.4} val_acc {:.4} | {:.1} s, {:.1} img/s",
                config.max_epochs,
                record.loss,
                record.accuracy,
                record.val_loss,
                record.val_accuracy,
                train_seconds,
                record.images_per_second
            );
        }
        history.epochs.push(record);
        let stop = stopping.on_epoch_end(epoch, validation.loss, || model.weights());
        history.best_epoch = stopping.best_epoch;
        history.stopped_epoch = stopping.stopped_epoch;
        if let Some(dir) = &config.checkpoint_dir {
            save_resume_state(dir, model, &adam, &stopping, &history, epoch)?;
        }
        if last_epoch && !stop {
            if config.progress {
                eprintln!(
                    "stopping after {} training steps (the step limit)",
                    config.max_steps.unwrap_or(0)
                );
            }
            break;
        }
        if stop {
            if config.progress {
                eprintln!(
                    "early stopping at epoch {epoch}: no improvement of val_loss for {} epochs; restoring epoch {}",
                    config.patience, stopping.best_epoch
                );
            }
            break;
        }
    }
    if let Some(best) = &stopping.best_weights {
        model.set_weights(best)?;
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_estimate_adds_training_steps_and_a_forward_only_validation() {
        // 150 steps of 8 s = 1200 s; 30 validation batches at 8/3 s = 80 s; 1280 s = 21.3 min.
        let text = epoch_estimate(8.0, 150, 30);
        assert!(text.starts_with("about 21.3 min per epoch"), "{text}");
        assert!(text.contains("150 training steps of 8.00 s"), "{text}");
        assert!(text.contains("validation ≈ 80 s"), "{text}");
        assert_eq!(duration(4.2), "4 s");
        assert_eq!(duration(7200.0), "2.0 h");
    }
}
