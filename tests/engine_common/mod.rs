//! What the engine tests share: random tensors, and the comparison of a fast path with the
//! reference convolution within the rounding of its sums.
#![allow(dead_code)]

use lumbar_cnn::nn::Tensor;
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::Rng;

/// A tensor of `shape` with values uniform in `[-1, 1)`.
pub fn random(shape: &[usize], rng: &mut StdRng) -> Tensor {
    let len = shape.iter().product();
    Tensor::from_shape_vec(
        IxDyn(shape),
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
    )
    .expect("shape and count agree")
}

/// Compare `fast` with `exact` value by value within `1e-5 · scale + 1e-6`, `scale` being the
/// reference computed on absolute values (the sum of the absolute products behind each
/// value); `what` names the case in a failure. Returns the worst error as a fraction of the
/// tolerance.
pub fn assert_close(fast: &[f32], exact: &Tensor, scale: &Tensor, what: &str) -> f32 {
    assert_eq!(fast.len(), exact.len(), "{what}: length");
    let mut worst = 0.0f32;
    for (i, ((f, e), s)) in fast.iter().zip(exact.iter()).zip(scale.iter()).enumerate() {
        let tolerance = 1e-5 * s + 1e-6;
        let error = (f - e).abs();
        assert!(
            error <= tolerance,
            "{what}: value {i}: {f} against {e} (tolerance {tolerance})"
        );
        worst = worst.max(error / tolerance);
    }
    worst
}
