//! `BatchNorm`: batch normalisation over the last axis (Keras `BatchNormalization`).
//!
//! It works on any input whose last axis holds the features: NHWC feature maps
//! `[N, H, W, C]` (statistics over N·H·W values per channel) and dense features `[N, C]`
//! (statistics over N per feature). Both are viewed as an `[M, C]` matrix.
//!
//! **Train mode.** For each channel `c`, with `M` values `x_i`:
//! `μ = (1/M) Σ x_i`, `σ² = (1/M) Σ (x_i − μ)²` (biased), `x̂_i = (x_i − μ)/√(σ² + ε)`,
//! `y_i = γ x̂_i + β`. The running statistics follow Keras (momentum weights the *old* value):
//! `moving_mean ← m·moving_mean + (1−m)·μ`, `moving_variance ← m·moving_variance + (1−m)·σ²`.
//!
//! **Eval mode.** `y = γ (x − moving_mean)/√(moving_variance + ε) + β`.
//!
//! **Backward (train).** With `g_i = dL/dy_i`: `dγ = Σ g_i x̂_i`, `dβ = Σ g_i`, and
//! `dx_i = γ/(M √(σ²+ε)) · (M g_i − Σ_j g_j − x̂_i Σ_j g_j x̂_j)`
//! (the mean and variance depend on every `x_i`, hence the two sums).
//! **Backward (eval).** The statistics are constants: `dx_i = γ g_i / √(moving_variance + ε)`.
//!
//! Keras defaults: ε = 1e-3, momentum = 0.99, γ = 1, β = 0, running mean 0, variance 1.
//! (PyTorch differs: ε = 1e-5, momentum 0.1 weighting the *new* value, unbiased running var.)

use super::layer::{no_forward_error, shape_error, Layer, Mode, Param, Tensor};
use super::parallel_output::{parallel_output, parallel_output_with};
use crate::error::Result;
use ndarray::{Array1, IxDyn};
use rayon::prelude::*;

// ANCHOR: keras_defaults
/// Keras' default ε added to the variance.
pub const BN_EPSILON: f32 = 1e-3;
/// Keras' default momentum of the running statistics (weight of the old value).
pub const BN_MOMENTUM: f32 = 0.99;
// ANCHOR_END: keras_defaults

/// What the backward pass needs from the last forward pass.
struct BatchNormCache {
    /// x̂ as an `[M, C]` row-major vector.
    x_hat: Vec<f32>,
    /// `1/√(σ² + ε)` per channel (batch σ² in train mode, running variance in eval mode).
    inv_std: Vec<f32>,
    /// The mode of that forward pass.
    mode: Mode,
    /// The input's shape, to shape the input gradient.
    shape: Vec<usize>,
}

/// Batch normalisation over the last axis, Keras semantics (see the module docs).
pub struct BatchNorm {
    name: String,
    gamma: Param,
    beta: Param,
    moving_mean: Param,
    moving_variance: Param,
    epsilon: f32,
    momentum: f32,
    cache: Option<BatchNormCache>,
}

impl BatchNorm {
    /// Batch norm for `channels` features with Keras' defaults (ε 1e-3, momentum 0.99).
    pub fn new(name: impl Into<String>, channels: usize) -> Self {
        let ones = || Tensor::ones(IxDyn(&[channels]));
        let zeros = || Tensor::zeros(IxDyn(&[channels]));
        BatchNorm {
            name: name.into(),
            gamma: Param::trainable("gamma", ones()),
            beta: Param::trainable("beta", zeros()),
            moving_mean: Param::non_trainable("moving_mean", zeros()),
            moving_variance: Param::non_trainable("moving_variance", ones()),
            epsilon: BN_EPSILON,
            momentum: BN_MOMENTUM,
            cache: None,
        }
    }

    /// Number of channels (the size of the last axis).
    pub fn channels(&self) -> usize {
        self.gamma.value.len()
    }

    /// The running mean `[C]` used in eval mode.
    pub fn moving_mean(&self) -> &Tensor {
        &self.moving_mean.value
    }

    /// The running (biased) variance `[C]` used in eval mode.
    pub fn moving_variance(&self) -> &Tensor {
        &self.moving_variance.value
    }

    fn check(&self, shape: &[usize]) -> Result<()> {
        let c = self.channels();
        if shape.len() < 2 || shape[shape.len() - 1] != c || shape[0] == 0 {
            return Err(shape_error(self, format!("[N ≥ 1, …, {c}]"), shape));
        }
        Ok(())
    }

    /// Per-channel mean and biased variance of an `[M, C]` matrix, accumulated in f64 over
    /// fixed blocks of rows in parallel, then added in block order (deterministic).
    fn batch_statistics(x: &[f32], c: usize) -> (Vec<f64>, Vec<f64>) {
        let m = (x.len() / c) as f64;
        let (sum, sum_squares) = channel_sums(x, x, c, |v, _| (v as f64, (v as f64) * (v as f64)));
        let mean: Vec<f64> = sum.iter().map(|s| s / m).collect();
        let var = sum_squares
            .iter()
            .zip(&mean)
            .map(|(sq, mu)| (sq / m - mu * mu).max(0.0))
            .collect();
        (mean, var)
    }
}

/// Rows of an `[M, C]` matrix handled by one rayon task in batch norm.
fn rows_per_task(c: usize) -> usize {
    (super::parallel_output::ELEMENTS_PER_TASK / c.max(1)).max(1)
}

/// Per-channel sums `(Σ f(a, b).0, Σ f(a, b).1)` over the rows of two `[M, C]` matrices,
/// in f64, computed over fixed row blocks in parallel and added in block order.
fn channel_sums(
    a: &[f32],
    b: &[f32],
    c: usize,
    f: impl Fn(f32, f32) -> (f64, f64) + Sync,
) -> (Vec<f64>, Vec<f64>) {
    let block = rows_per_task(c) * c;
    let partials: Vec<(Vec<f64>, Vec<f64>)> = a
        .par_chunks(block)
        .zip(b.par_chunks(block))
        .map(|(a_rows, b_rows)| {
            let (mut first, mut second) = (vec![0.0f64; c], vec![0.0f64; c]);
            for (a_row, b_row) in a_rows.chunks(c).zip(b_rows.chunks(c)) {
                for (((s1, s2), &va), &vb) in first
                    .iter_mut()
                    .zip(second.iter_mut())
                    .zip(a_row)
                    .zip(b_row)
                {
                    let (t1, t2) = f(va, vb);
                    *s1 += t1;
                    *s2 += t2;
                }
            }
            (first, second)
        })
        .collect();
    let (mut first, mut second) = (vec![0.0f64; c], vec![0.0f64; c]);
    for (p1, p2) in partials {
        first.iter_mut().zip(p1).for_each(|(s, v)| *s += v);
        second.iter_mut().zip(p2).for_each(|(s, v)| *s += v);
    }
    (first, second)
}

impl Layer for BatchNorm {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "BatchNormalization"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let mut with_batch = vec![1];
        with_batch.extend_from_slice(input);
        self.check(&with_batch)?;
        Ok(input.to_vec())
    }

    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.check(x.shape())?;
        let c = self.channels();
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout");
        let (mean, inv_std): (Vec<f32>, Vec<f32>) = match mode {
            Mode::Train => {
                let (mean, var) = Self::batch_statistics(xs, c);
                let momentum = self.momentum;
                for ((running, &mu), (running_var, &v)) in self
                    .moving_mean
                    .value
                    .iter_mut()
                    .zip(&mean)
                    .zip(self.moving_variance.value.iter_mut().zip(&var))
                {
                    *running = momentum * *running + (1.0 - momentum) * mu as f32;
                    *running_var = momentum * *running_var + (1.0 - momentum) * v as f32;
                }
                let inv_std = var
                    .iter()
                    .map(|&v| (1.0 / (v + self.epsilon as f64).sqrt()) as f32);
                (mean.iter().map(|&m| m as f32).collect(), inv_std.collect())
            }
            Mode::Eval => (
                self.moving_mean.value.iter().copied().collect(),
                self.moving_variance
                    .value
                    .iter()
                    .map(|&v| 1.0 / (v + self.epsilon).sqrt())
                    .collect(),
            ),
        };
        let gamma = self.gamma.value.as_slice().expect("contiguous");
        let beta = self.beta.value.as_slice().expect("contiguous");
        // Reuse the previous step's x̂ buffer: no fresh allocation in a training step.
        let mut x_hat = self
            .cache
            .take()
            .map(|cache| cache.x_hat)
            .unwrap_or_default();
        x_hat.resize(xs.len(), 0.0);
        let block = rows_per_task(c) * c;
        let y = parallel_output_with(xs.len(), block, &mut x_hat, |_, out, hat_rows| {
            let x_rows = &xs[out.range()];
            for (row, hat_row) in x_rows.chunks(c).zip(hat_rows.chunks_mut(c)) {
                // x̂ = (x − μ)·inv_std, then y = γ·x̂ + β, channel by channel.
                for ((h, &v), (&mu, &is)) in
                    hat_row.iter_mut().zip(row).zip(mean.iter().zip(&inv_std))
                {
                    *h = (v - mu) * is;
                }
                out.push_iter(
                    hat_row
                        .iter()
                        .zip(gamma.iter().zip(beta))
                        .map(|(&h, (&g, &b))| g * h + b),
                );
            }
        });
        self.cache = Some(BatchNormCache {
            x_hat,
            inv_std,
            mode,
            shape: x.shape().to_vec(),
        });
        Ok(Tensor::from_shape_vec(IxDyn(x.shape()), y).expect("same size"))
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let cache = self.cache.as_ref().ok_or_else(|| no_forward_error(self))?;
        if dy.shape() != cache.shape.as_slice() {
            return Err(shape_error(self, &cache.shape, dy.shape()));
        }
        let c = self.channels();
        let dy_std = dy.as_standard_layout();
        let g = dy_std.as_slice().expect("standard layout");
        let m = (g.len() / c) as f64;

        // Σ g and Σ g·x̂ per channel (these are also dβ and dγ).
        let (sum_g, sum_g_xhat) =
            channel_sums(g, &cache.x_hat, c, |gv, h| (gv as f64, (gv * h) as f64));
        let gamma = self.gamma.value.as_slice().expect("contiguous");
        // Train: dx = γ·inv_std·(g − mean(g) − x̂·mean(g·x̂)); eval: dx = γ·inv_std·g.
        let (mean_g, mean_gx): (Vec<f32>, Vec<f32>) = match cache.mode {
            Mode::Train => (
                sum_g.iter().map(|&s| (s / m) as f32).collect(),
                sum_g_xhat.iter().map(|&s| (s / m) as f32).collect(),
            ),
            Mode::Eval => (vec![0.0; c], vec![0.0; c]),
        };
        let scale: Vec<f32> = gamma
            .iter()
            .zip(&cache.inv_std)
            .map(|(g, s)| g * s)
            .collect();
        let block = rows_per_task(c) * c;
        let dx = parallel_output(g.len(), block, |_, out| {
            let g_rows = &g[out.range()];
            let hat_rows = &cache.x_hat[out.range()];
            for (g_row, hat_row) in g_rows.chunks(c).zip(hat_rows.chunks(c)) {
                let per_channel = scale.iter().zip(&mean_g).zip(&mean_gx);
                out.push_iter(
                    g_row
                        .iter()
                        .zip(hat_row)
                        .zip(per_channel)
                        .map(|((&gv, &h), ((&sc, &mg), &mgx))| sc * (gv - mg - h * mgx)),
                );
            }
        });
        self.gamma.grad = Array1::from_iter(sum_g_xhat.iter().map(|&s| s as f32)).into_dyn();
        self.beta.grad = Array1::from_iter(sum_g.iter().map(|&s| s as f32)).into_dyn();
        Ok(Tensor::from_shape_vec(IxDyn(&cache.shape), dx).expect("same size"))
    }
    // ANCHOR_END: backward

    fn params(&self) -> Vec<&Param> {
        vec![
            &self.gamma,
            &self.beta,
            &self.moving_mean,
            &self.moving_variance,
        ]
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![
            &mut self.gamma,
            &mut self.beta,
            &mut self.moving_mean,
            &mut self.moving_variance,
        ]
    }
}
