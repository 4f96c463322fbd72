//! `BatchNorm`: batch normalisation over the last axis (Keras `BatchNormalization`).
//!
//! It works on any input whose last axis holds the features: NHWC feature maps
//! `[N, H, W, C]` (statistics over N·H·W values per channel) and dense features `[N, C]`
//! (statistics over N per feature). Both are viewed as an `[M, C]` matrix.
//!
//! **Train pass.** For each channel `c`, with `M` values `x_i`:
//! `μ = (1/M) Σ x_i`, `σ² = (1/M) Σ (x_i − μ)²` (biased), `x̂_i = (x_i − μ)/√(σ² + ε)`,
//! `y_i = γ x̂_i + β`. The running statistics follow Keras (momentum weights the *old* value):
//! `moving_mean ← m·moving_mean + (1−m)·μ`, `moving_variance ← m·moving_variance + (1−m)·σ²`.
//!
//! **Eval pass.** `y = γ (x − moving_mean)/√(moving_variance + ε) + β`.
//!
//! **Backward (train).** With `g_i = dL/dy_i`: `dγ = Σ g_i x̂_i`, `dβ = Σ g_i`, and
//! `dx_i = γ/(M √(σ²+ε)) · (M g_i − Σ_j g_j − x̂_i Σ_j g_j x̂_j)`
//! (the mean and variance depend on every `x_i`, hence the two sums).
//! **Backward (eval).** The statistics are constants: `dx_i = γ g_i / √(moving_variance + ε)`.
//!
//! γ and β are [`Param`]s (learned); `moving_mean` and `moving_variance` are [`State`] (updated
//! by the train pass itself, never by the optimiser). The per-channel sums are the engine's
//! [`channel_sums`], in `f64` over fixed blocks (the same on any number of threads); the
//! element-wise parts are ndarray's parallel `Zip`. The plain loops are
//! [`super::reference::batch_norm`].
//!
//! Keras defaults: ε = 1e-3, momentum = 0.99, γ = 1, β = 0, running mean 0, variance 1.
//! (PyTorch differs: ε = 1e-5, momentum 0.1 weighting the *new* value, unbiased running var.)

use super::engine::channel_maps::ChannelMap;
use super::engine::channel_sums::channel_sums;
use super::layer::{
    apply_maps_on_last_axis, no_forward_error, shape_error, Layer, Param, Pass, State, Tensor,
};
use crate::error::Result;
use ndarray::{Array1, Array2, ArrayView2, Ix1, IxDyn, Zip};

// ANCHOR: keras_defaults
/// Keras' default ε added to the variance.
pub const BN_EPSILON: f32 = 1e-3;
/// Keras' default momentum of the running statistics (weight of the old value).
pub const BN_MOMENTUM: f32 = 0.99;
// ANCHOR_END: keras_defaults

/// What the backward pass needs from the last forward pass.
struct BatchNormCache {
    /// x̂ as an `[M, C]` matrix.
    x_hat: Array2<f32>,
    /// `1/√(σ² + ε)` per channel (batch σ² in a train pass, running variance in an eval pass).
    inv_std: Array1<f32>,
    /// Whether that forward pass was a train pass (batch statistics).
    train: bool,
    /// The input's shape, to shape the input gradient.
    shape: Vec<usize>,
}

/// Batch normalisation over the last axis, Keras semantics (see the module docs).
pub struct BatchNorm {
    name: String,
    gamma: Param,
    beta: Param,
    moving_mean: State,
    moving_variance: State,
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
            gamma: Param::new("gamma", ones()),
            beta: Param::new("beta", zeros()),
            moving_mean: State::new("moving_mean", zeros()),
            moving_variance: State::new("moving_variance", ones()),
            epsilon: BN_EPSILON,
            momentum: BN_MOMENTUM,
            cache: None,
        }
    }

    /// Number of channels (the size of the last axis).
    pub fn channels(&self) -> usize {
        self.gamma.value.len()
    }

    /// The running mean `[C]` used in eval passes.
    pub fn moving_mean(&self) -> &Tensor {
        &self.moving_mean.value
    }

    /// The running (biased) variance `[C]` used in eval passes.
    pub fn moving_variance(&self) -> &Tensor {
        &self.moving_variance.value
    }

    /// The eval pass as one affine map per channel, for the forward-only path:
    /// `y = γ (x − μ)/√(σ² + ε) + β = s·x + t` with `s = γ/√(σ² + ε)` and `t = β − μ·s`
    /// (`μ`, `σ²` the running statistics).
    pub fn eval_affine(&self) -> ChannelMap {
        let eps = self.epsilon;
        let scale: Vec<f32> = (self.gamma.value.iter())
            .zip(&self.moving_variance.value)
            .map(|(&gamma, &variance)| gamma / (variance + eps).sqrt())
            .collect();
        let shift = (self.beta.value.iter())
            .zip(&self.moving_mean.value)
            .zip(&scale)
            .map(|((&beta, &mean), &s)| beta - mean * s)
            .collect();
        ChannelMap::Affine { scale, shift }
    }

    fn check(&self, shape: &[usize]) -> Result<()> {
        let c = self.channels();
        if shape.len() < 2 || shape[shape.len() - 1] != c || shape[0] == 0 {
            return Err(shape_error(self, format!("[N ≥ 1, …, {c}]"), shape));
        }
        Ok(())
    }

    /// Per-channel mean μ and biased variance σ² of an `[M, C]` matrix (in `f64`), and
    /// the running statistics moved towards them.
    fn batch_statistics(&mut self, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let c = self.channels();
        let m = (x.len() / c) as f64;
        let (sum, sum_squares) = channel_sums(x, x, c, |v, _| (v as f64, (v as f64) * (v as f64)));
        // μ = Σx / M,  σ² = Σx² / M − μ²
        let mean: Vec<f64> = sum.iter().map(|s| s / m).collect();
        let var: Vec<f64> = sum_squares
            .iter()
            .zip(&mean)
            .map(|(sq, mu)| (sq / m - mu * mu).max(0.0))
            .collect();
        // moving ← m·moving + (1 − m)·batch
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
        (mean, var)
    }
}

/// A batch `[N, …, C]` viewed as the `[M, C]` matrix of its rows.
fn as_rows(x: &[f32], c: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((x.len() / c, c), x).expect("the last axis has c values")
}

/// A `[C]` parameter tensor viewed as a vector.
fn per_channel_view(t: &Tensor) -> ndarray::ArrayView1<'_, f32> {
    t.view().into_dimensionality::<Ix1>().expect("[C]")
}

/// A per-channel vector of `f32` as an ndarray vector (to broadcast over rows).
fn per_channel(values: impl IntoIterator<Item = f32>) -> Array1<f32> {
    values.into_iter().collect()
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

    /// In place: `y = s·x + t` per channel ([`BatchNorm::eval_affine`]), keeping no `x̂`.
    fn infer(&mut self, x: Tensor) -> Result<Tensor> {
        self.check(x.shape())?;
        self.cache = None;
        let affine = self.eval_affine();
        apply_maps_on_last_axis((self.name(), self.kind()), x, &[affine])
    }

    fn inference_maps(&self) -> Option<Vec<ChannelMap>> {
        Some(vec![self.eval_affine()])
    }

    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor, pass: Pass) -> Result<Tensor> {
        self.check(x.shape())?;
        // Last step's x̂ buffer is reused when the shape is the same (nothing allocated).
        let reused = self.cache.take().map(|cache| cache.x_hat);
        let c = self.channels();
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout");
        let (mean, inv_std) = if pass.is_train() {
            // Batch statistics μ, σ²; inv_std = 1/√(σ² + ε).
            let (mean, var) = self.batch_statistics(xs);
            let eps = self.epsilon as f64;
            let inv_std = var.iter().map(|&v| (1.0 / (v + eps).sqrt()) as f32);
            (
                per_channel(mean.iter().map(|&m| m as f32)),
                per_channel(inv_std),
            )
        } else {
            // Running statistics.
            let eps = self.epsilon;
            let inv_std = self
                .moving_variance
                .value
                .iter()
                .map(|&v| 1.0 / (v + eps).sqrt());
            (
                per_channel(self.moving_mean.value.iter().copied()),
                per_channel(inv_std),
            )
        };
        let (gamma, beta) = (
            per_channel_view(&self.gamma.value),
            per_channel_view(&self.beta.value),
        );
        let rows = as_rows(xs, c);
        let mut x_hat = reused
            .filter(|x_hat| x_hat.dim() == rows.dim())
            .unwrap_or_else(|| Array2::zeros(rows.dim()));
        // Per channel, (μ, inv_std) and (γ, β) side by side, to broadcast over the rows.
        let statistics: Array1<(f32, f32)> =
            mean.iter().copied().zip(inv_std.iter().copied()).collect();
        let affine: Array1<(f32, f32)> = gamma.iter().copied().zip(beta.iter().copied()).collect();
        // x̂ = (x − μ) · inv_std (kept for backward) and y = γ x̂ + β, in one pass over x.
        let y = Zip::from(&mut x_hat)
            .and(rows)
            .and_broadcast(&statistics)
            .and_broadcast(&affine)
            .par_map_collect(|x_hat, &x, &(mu, inv_std), &(gamma, beta)| {
                *x_hat = (x - mu) * inv_std;
                gamma * *x_hat + beta
            });
        self.cache = Some(BatchNormCache {
            x_hat,
            inv_std,
            train: pass.is_train(),
            shape: x.shape().to_vec(),
        });
        Ok(y.into_shape_with_order(IxDyn(x.shape()))
            .expect("same size"))
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
        let x_hat = cache.x_hat.as_standard_layout();
        let x_hat = x_hat.as_slice().expect("standard layout");

        // Σ g and Σ g·x̂ per channel (these are also dβ and dγ).
        let (sum_g, sum_g_xhat) = channel_sums(g, x_hat, c, |gv, h| (gv as f64, (gv * h) as f64));
        // Train: dx = γ·inv_std·(g − mean(g) − x̂·mean(g·x̂)); eval: dx = γ·inv_std·g.
        let (mean_g, mean_g_xhat) = if cache.train {
            let mean = |sums: &[f64]| per_channel(sums.iter().map(|&s| (s / m) as f32));
            (mean(&sum_g), mean(&sum_g_xhat))
        } else {
            (Array1::zeros(c), Array1::zeros(c))
        };
        let gamma = per_channel_view(&self.gamma.value);
        let scale = &gamma * &cache.inv_std;
        let dx = Zip::from(as_rows(g, c))
            .and(&cache.x_hat)
            .and_broadcast(&scale)
            .and_broadcast(&mean_g)
            .and_broadcast(&mean_g_xhat)
            .par_map_collect(|&g, &x_hat, &scale, &mean_g, &mean_g_xhat| {
                scale * (g - mean_g - x_hat * mean_g_xhat)
            });
        self.gamma.grad = per_channel(sum_g_xhat.iter().map(|&s| s as f32)).into_dyn();
        self.beta.grad = per_channel(sum_g.iter().map(|&s| s as f32)).into_dyn();
        Ok(dx
            .into_shape_with_order(IxDyn(&cache.shape))
            .expect("same size"))
    }
    // ANCHOR_END: backward

    fn params(&self) -> Vec<&Param> {
        vec![&self.gamma, &self.beta]
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![&mut self.gamma, &mut self.beta]
    }

    fn state(&self) -> Vec<&State> {
        vec![&self.moving_mean, &self.moving_variance]
    }

    fn state_mut(&mut self) -> Vec<&mut State> {
        vec![&mut self.moving_mean, &mut self.moving_variance]
    }
}
