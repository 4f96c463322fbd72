//! `SoftmaxCrossEntropy`: softmax followed by sparse categorical cross-entropy, the paper's
//! output activation and loss (Keras `Dense(3, activation='softmax')` +
//! `sparse_categorical_crossentropy`).
//!
//! **Forward.** For logits `z[N, K]` and integer labels `y[N]`:
//! `p[n,k] = exp(z[n,k] − max_k z[n,:]) / Σ_j exp(z[n,j] − max z[n,:])` (the max is subtracted
//! for numerical safety and changes nothing), then, as Keras does, the probability of the true
//! class is clipped to `[1e-7, 1 − 1e-7]`: `L = (1/N) Σ_n −ln clip(p[n, y_n])`.
//!
//! **Backward.** For an unclipped sample `dL/dz[n,k] = (p[n,k] − [k = y_n]) / N`: the famous
//! "probabilities minus one-hot". Where the clip is active the loss is locally constant, so that
//! sample's gradient is exactly zero — the derivative of the function we actually compute.

use super::layer::Tensor;
use crate::error::{Error, Result};
use ndarray::{Array2, Ix2};

// ANCHOR: probability_clip
/// Keras' `epsilon()`: probabilities are clipped to `[EPS, 1 − EPS]` before the logarithm.
pub const PROBABILITY_CLIP: f32 = 1e-7;
// ANCHOR_END: probability_clip

// ANCHOR: softmax
/// Softmax of each row of a `[N, K]` logits matrix.
pub fn softmax(logits: &Tensor) -> Result<Array2<f32>> {
    let z = logits
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| Error::shape("softmax", "[N, K]", logits.shape()))?;
    let mut p = z.to_owned();
    for mut row in p.rows_mut() {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|v| (v - max).exp());
        let sum: f32 = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    Ok(p)
}
// ANCHOR_END: softmax

/// The loss layer: remembers the probabilities and labels of the last forward pass.
#[derive(Default)]
pub struct SoftmaxCrossEntropy {
    probabilities: Option<Array2<f32>>,
    labels: Vec<usize>,
}

impl SoftmaxCrossEntropy {
    /// A fresh loss.
    pub fn new() -> Self {
        Self::default()
    }

    // ANCHOR: forward
    /// Mean cross-entropy of `logits [N, K]` against `labels` (each in `0..K`).
    pub fn forward(&mut self, logits: &Tensor, labels: &[usize]) -> Result<f32> {
        if logits.ndim() != 2 || logits.shape()[0] != labels.len() || labels.is_empty() {
            return Err(Error::shape(
                "SoftmaxCrossEntropy",
                format!(
                    "logits [{}, K] for {} labels (N ≥ 1)",
                    labels.len(),
                    labels.len()
                ),
                logits.shape(),
            ));
        }
        let classes = logits.shape()[1];
        if let Some((i, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
            return Err(Error::invalid(format!(
                "SoftmaxCrossEntropy: label {label} of sample {i} is out of range 0..{classes}"
            )));
        }
        let p = softmax(logits)?;
        let total: f64 = labels
            .iter()
            .enumerate()
            .map(|(n, &y)| -(p[[n, y]].clamp(PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP) as f64).ln())
            .sum();
        self.probabilities = Some(p);
        self.labels = labels.to_vec();
        Ok((total / labels.len() as f64) as f32)
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    /// `dL/dlogits [N, K]` for the last forward pass.
    pub fn backward(&self) -> Result<Tensor> {
        let p = self
            .probabilities
            .as_ref()
            .ok_or_else(|| Error::invalid("SoftmaxCrossEntropy: backward called before forward"))?;
        let n = self.labels.len() as f32;
        let mut grad = p.clone();
        for (mut row, &y) in grad.rows_mut().into_iter().zip(&self.labels) {
            let p_true = row[y];
            if !(PROBABILITY_CLIP..=1.0 - PROBABILITY_CLIP).contains(&p_true) {
                row.fill(0.0); // clipped: the loss does not change with the logits here
            } else {
                row[y] -= 1.0;
                row.mapv_inplace(|v| v / n);
            }
        }
        Ok(grad.into_dyn())
    }
    // ANCHOR_END: backward

    /// The softmax probabilities `[N, K]` of the last forward pass.
    pub fn probabilities(&self) -> Option<&Array2<f32>> {
        self.probabilities.as_ref()
    }
}
