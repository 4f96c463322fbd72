//! The reference dropout: the mask drawn value by value on one thread, block after block, then
//! `y = x ⊙ mask` and `dx = dy ⊙ mask`.

use crate::nn::dropout::mix_seed;
use crate::nn::engine::parallel::ELEMENTS_PER_TASK;
use crate::nn::Tensor;
use ndarray::IxDyn;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

// ANCHOR: dropout_reference
/// The mask of training step `step` for an input of `shape`, row-major: each value is `1/p`
/// with probability `p = 1 − rate`, else 0. Values are drawn in blocks of
/// [`ELEMENTS_PER_TASK`]: block `b` from an RNG seeded with `(seed, step, b)`.
pub fn dropout_mask(shape: &[usize], rate: f32, seed: u64, step: u64) -> Tensor {
    let keep = 1.0 - rate;
    let len: usize = shape.iter().product();
    let mut values = Vec::with_capacity(len);
    let mut rng = SmallRng::seed_from_u64(0);
    for i in 0..len {
        if i % ELEMENTS_PER_TASK == 0 {
            let block = (i / ELEMENTS_PER_TASK) as u64;
            rng = SmallRng::seed_from_u64(mix_seed(mix_seed(seed, step), block));
        }
        values.push(if rng.random::<f32>() < keep {
            1.0 / keep
        } else {
            0.0
        });
    }
    Tensor::from_shape_vec(IxDyn(shape), values).expect("len values")
}

/// `y = x ⊙ mask`.
pub fn dropout_forward(x: &Tensor, mask: &Tensor) -> Tensor {
    x * mask
}

/// `dx = dy ⊙ mask`.
pub fn dropout_backward(dy: &Tensor, mask: &Tensor) -> Tensor {
    dy * mask
}
// ANCHOR_END: dropout_reference

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Dropout, Layer, Pass};

    #[test]
    fn the_layer_computes_the_reference() {
        let shape = [5, 77, 91, 2]; // 70,070 values: two full blocks and a remainder
        assert!(shape.iter().product::<usize>() > 2 * ELEMENTS_PER_TASK);
        let x = Tensor::from_shape_fn(IxDyn(&shape), |i| (i[1] * 3 + i[2] + i[3]) as f32 - 50.0);
        let dy = x.mapv(|v| 0.5 - v * 0.01);
        let (rate, seed) = (0.3, 42);
        let mut layer = Dropout::new("dropout", rate, seed).unwrap();
        for step in [0, 7] {
            let mask = dropout_mask(&shape, rate, seed, step);
            let y = layer.forward(&x, Pass::Train { step }).unwrap();
            assert_eq!(y, dropout_forward(&x, &mask), "forward, step {step}");
            let dx = layer.backward(&dy).unwrap();
            assert_eq!(dx, dropout_backward(&dy, &mask), "backward, step {step}");
        }
        // Evaluation: the identity, both ways.
        assert_eq!(layer.forward(&x, Pass::Eval).unwrap(), x);
        assert_eq!(layer.backward(&dy).unwrap(), dy);
    }
}
