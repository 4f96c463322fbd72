//! The reference batch normalisation over the last axis: statistics, normalisation and
//! gradients as plain sums over the `M` values of each channel (in `f64`, on one thread).

use crate::nn::Tensor;
use ndarray::{Array2, IxDyn};

/// What a train forward pass computes besides `y`, per channel.
pub struct BatchStatistics {
    /// μ, the batch mean.
    pub mean: Vec<f64>,
    /// σ², the biased batch variance.
    pub variance: Vec<f64>,
    /// x̂ as an `[M, C]` matrix.
    pub x_hat: Array2<f32>,
}

/// A batch `[N, …, C]` as the `[M, C]` matrix of its rows.
fn rows(x: &Tensor) -> Array2<f32> {
    let c = x.shape()[x.ndim() - 1];
    let values: Vec<f32> = x.iter().copied().collect();
    Array2::from_shape_vec((values.len() / c, c), values).expect("the last axis has c values")
}

// ANCHOR: batch_norm_reference
/// Train pass: `μ = Σx/M`, `σ² = Σ(x − μ)²/M`, `x̂ = (x − μ)/√(σ² + ε)`, `y = γ x̂ + β`.
pub fn batch_norm_train_forward(
    x: &Tensor,
    gamma: &[f32],
    beta: &[f32],
    epsilon: f32,
) -> (Tensor, BatchStatistics) {
    let x_rows = rows(x);
    let (m, c) = x_rows.dim();
    let mut mean = vec![0.0f64; c];
    let mut variance = vec![0.0f64; c];
    for ch in 0..c {
        mean[ch] = (0..m).map(|i| x_rows[[i, ch]] as f64).sum::<f64>() / m as f64;
        variance[ch] = (0..m)
            .map(|i| (x_rows[[i, ch]] as f64 - mean[ch]).powi(2))
            .sum::<f64>()
            / m as f64;
    }
    let mut x_hat = Array2::zeros((m, c));
    let mut y = Array2::zeros((m, c));
    for i in 0..m {
        for ch in 0..c {
            let inv_std = 1.0 / (variance[ch] + epsilon as f64).sqrt();
            x_hat[[i, ch]] = ((x_rows[[i, ch]] as f64 - mean[ch]) * inv_std) as f32;
            y[[i, ch]] = gamma[ch] * x_hat[[i, ch]] + beta[ch];
        }
    }
    let y = y
        .into_shape_with_order(IxDyn(x.shape()))
        .expect("same size");
    let statistics = BatchStatistics {
        mean,
        variance,
        x_hat,
    };
    (y, statistics)
}

/// Eval pass: `y = γ (x − moving_mean)/√(moving_variance + ε) + β`.
pub fn batch_norm_eval_forward(
    x: &Tensor,
    (gamma, beta): (&[f32], &[f32]),
    (moving_mean, moving_variance): (&[f32], &[f32]),
    epsilon: f32,
) -> Tensor {
    let mut y = rows(x);
    for mut row in y.rows_mut() {
        for (ch, v) in row.iter_mut().enumerate() {
            let x_hat = (*v - moving_mean[ch]) / (moving_variance[ch] + epsilon).sqrt();
            *v = gamma[ch] * x_hat + beta[ch];
        }
    }
    y.into_shape_with_order(IxDyn(x.shape()))
        .expect("same size")
}

/// Train backward: `dγ = Σ g x̂`, `dβ = Σ g`,
/// `dx = γ/(M √(σ²+ε)) · (M g − Σ g − x̂ Σ g x̂)`. Returns `(dx, dγ, dβ)`.
pub fn batch_norm_train_backward(
    dy: &Tensor,
    statistics: &BatchStatistics,
    gamma: &[f32],
    epsilon: f32,
) -> (Tensor, Vec<f32>, Vec<f32>) {
    let g = rows(dy);
    let (m, c) = g.dim();
    let x_hat = &statistics.x_hat;
    let mut dx = Array2::zeros((m, c));
    let (mut dgamma, mut dbeta) = (vec![0.0f32; c], vec![0.0f32; c]);
    for ch in 0..c {
        let sum_g: f64 = (0..m).map(|i| g[[i, ch]] as f64).sum();
        let sum_g_xhat: f64 = (0..m).map(|i| (g[[i, ch]] * x_hat[[i, ch]]) as f64).sum();
        let inv_std = 1.0 / (statistics.variance[ch] + epsilon as f64).sqrt();
        let factor = gamma[ch] as f64 * inv_std / m as f64;
        for i in 0..m {
            let term = m as f64 * g[[i, ch]] as f64 - sum_g - x_hat[[i, ch]] as f64 * sum_g_xhat;
            dx[[i, ch]] = (factor * term) as f32;
        }
        dgamma[ch] = sum_g_xhat as f32;
        dbeta[ch] = sum_g as f32;
    }
    let dx = dx
        .into_shape_with_order(IxDyn(dy.shape()))
        .expect("same size");
    (dx, dgamma, dbeta)
}

/// Eval backward: the statistics are constants, `dx = γ g /√(moving_variance + ε)`.
pub fn batch_norm_eval_backward(
    dy: &Tensor,
    gamma: &[f32],
    moving_variance: &[f32],
    epsilon: f32,
) -> Tensor {
    let mut dx = rows(dy);
    for mut row in dx.rows_mut() {
        for (ch, g) in row.iter_mut().enumerate() {
            *g *= gamma[ch] / (moving_variance[ch] + epsilon).sqrt();
        }
    }
    dx.into_shape_with_order(IxDyn(dy.shape()))
        .expect("same size")
}
// ANCHOR_END: batch_norm_reference

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::batch_norm::{BN_EPSILON, BN_MOMENTUM};
    use crate::nn::engine::channel_sums::rows_per_block;
    use crate::nn::{BatchNorm, Layer, Pass};
    use ndarray::Dimension;

    fn close(a: &[f32], b: &[f32], tolerance: f32, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            assert!(
                (p - q).abs() <= tolerance * (1.0 + q.abs()),
                "{what}[{i}]: {p} vs {q}"
            );
        }
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.iter().copied().collect()
    }

    fn check(shape: &[usize]) {
        let c = shape[shape.len() - 1];
        let x = Tensor::from_shape_fn(IxDyn(shape), |i| {
            let k = i.as_array_view().iter().fold(0usize, |h, &v| h * 13 + v);
            (k % 23) as f32 * 0.3 - 2.0 + (k % c) as f32
        });
        let dy = x.mapv(|v| (v * 1.7).sin());
        let mut layer = BatchNorm::new("batch_normalization", c);
        let gamma: Vec<f32> = (0..c).map(|i| 1.0 + 0.1 * i as f32).collect();
        let beta: Vec<f32> = (0..c).map(|i| 0.2 * i as f32 - 0.3).collect();
        layer.params_mut()[0]
            .value
            .assign(&Tensor::from_shape_vec(IxDyn(&[c]), gamma.clone()).unwrap());
        layer.params_mut()[1]
            .value
            .assign(&Tensor::from_shape_vec(IxDyn(&[c]), beta.clone()).unwrap());

        // Train pass and its backward.
        let y = layer.forward(&x, Pass::Train { step: 0 }).unwrap();
        let (want_y, statistics) = batch_norm_train_forward(&x, &gamma, &beta, BN_EPSILON);
        close(&values(&y), &values(&want_y), 1e-5, "train y");
        let moved: Vec<f32> = statistics
            .mean
            .iter()
            .map(|&mu| (1.0 - BN_MOMENTUM) * mu as f32)
            .collect();
        close(&values(layer.moving_mean()), &moved, 1e-6, "moving_mean");
        let dx = layer.backward(&dy).unwrap();
        let (want_dx, dgamma, dbeta) =
            batch_norm_train_backward(&dy, &statistics, &gamma, BN_EPSILON);
        close(&values(&dx), &values(&want_dx), 1e-4, "train dx");
        close(&values(&layer.params()[0].grad), &dgamma, 1e-5, "dgamma");
        close(&values(&layer.params()[1].grad), &dbeta, 1e-5, "dbeta");

        // Eval pass and its backward, with the running statistics the train pass left.
        let (mm, mv) = (values(layer.moving_mean()), values(layer.moving_variance()));
        let y = layer.forward(&x, Pass::Eval).unwrap();
        let want_y = batch_norm_eval_forward(&x, (&gamma, &beta), (&mm, &mv), BN_EPSILON);
        close(&values(&y), &values(&want_y), 1e-5, "eval y");
        let dx = layer.backward(&dy).unwrap();
        let want_dx = batch_norm_eval_backward(&dy, &gamma, &mv, BN_EPSILON);
        close(&values(&dx), &values(&want_dx), 1e-5, "eval dx");
    }

    #[test]
    fn the_layer_computes_the_reference_on_feature_maps() {
        let shape = [2, 67, 129, 5]; // 17,286 rows: several row blocks and a remainder
        assert!(shape[..3].iter().product::<usize>() > 2 * rows_per_block(5));
        check(&shape);
    }

    #[test]
    fn the_layer_computes_the_reference_on_features() {
        check(&[37, 4]);
    }
}
