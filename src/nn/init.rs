//! Weight initialisation: Glorot (Xavier) uniform, Keras' default for `Conv2D` and `Dense`.
//!
//! Weights are drawn from `U(−l, l)` with `l = sqrt(6 / (fan_in + fan_out))`, which keeps the
//! variance of activations and of gradients roughly constant from layer to layer. For a conv
//! kernel `[kh, kw, cin, cout]`, `fan_in = kh·kw·cin` and `fan_out = kh·kw·cout`; for a dense
//! kernel `[in, out]`, `fan_in = in` and `fan_out = out`. Biases start at zero.

use super::layer::Tensor;
use ndarray::IxDyn;
use rand::Rng;
use rand_distr::{Distribution, Uniform};

/// The Glorot-uniform limit `l = sqrt(6 / (fan_in + fan_out))`.
pub fn glorot_limit(fan_in: usize, fan_out: usize) -> f32 {
    (6.0 / (fan_in + fan_out) as f64).sqrt() as f32
}

// ANCHOR: glorot_uniform
/// A tensor of `shape` filled from `U(−l, l)` with the Glorot limit for the given fans.
pub fn glorot_uniform(
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
    rng: &mut impl Rng,
) -> Tensor {
    let limit = glorot_limit(fan_in, fan_out);
    let uniform =
        Uniform::new_inclusive(-limit, limit).expect("Glorot limit is finite and positive");
    let count = shape.iter().product();
    let values: Vec<f32> = (0..count).map(|_| uniform.sample(rng)).collect();
    Tensor::from_shape_vec(IxDyn(shape), values).expect("shape and value count agree")
}
// ANCHOR_END: glorot_uniform
