//! The reference ReLU: `y = max(0, x)` with `mask = [x > 0]`, and `dx = dy ⊙ mask`, value by
//! value on one thread.

use crate::nn::relu::relu;
use crate::nn::Tensor;
use ndarray::ArrayD;

// ANCHOR: relu_reference
/// `(y, mask)`: `y = max(0, x)` (NaN stays NaN) and `mask = [x > 0]`.
pub fn relu_forward(x: &Tensor) -> (Tensor, ArrayD<bool>) {
    let mut y = x.clone();
    let mut mask = ArrayD::from_elem(x.raw_dim(), false);
    for (index, &value) in x.indexed_iter() {
        y[&index] = relu(value);
        mask[&index] = value > 0.0;
    }
    (y, mask)
}

/// `dx = dy ⊙ mask`: the gradient passes where the input was positive.
pub fn relu_backward(dy: &Tensor, mask: &ArrayD<bool>) -> Tensor {
    let mut dx = dy.clone();
    for (index, &g) in dy.indexed_iter() {
        dx[&index] = if mask[&index] { g } else { 0.0 };
    }
    dx
}
// ANCHOR_END: relu_reference

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::engine::parallel::ELEMENTS_PER_TASK;
    use crate::nn::{Layer, Pass, Relu};
    use ndarray::Dimension;
    use ndarray::IxDyn;

    /// Values around 0, exact zeros and NaNs, in an odd shape of several parallel blocks.
    fn input(shape: &[usize], salt: usize) -> Tensor {
        Tensor::from_shape_fn(IxDyn(shape), |i| {
            let k = i.as_array_view().iter().fold(salt, |h, &v| h * 31 + v);
            match k % 17 {
                0 => 0.0,
                1 => f32::NAN,
                r => r as f32 * 0.25 - 2.0,
            }
        })
    }

    #[test]
    fn the_layer_computes_the_reference() {
        let shape = [3, 101, 111, 3]; // 100,899 values: three full blocks and a remainder
        assert!(shape.iter().product::<usize>() > 3 * ELEMENTS_PER_TASK);
        let (x, dy) = (
            input(&shape, 1),
            input(&shape, 2).mapv(|v| if v.is_nan() { 1.5 } else { v }),
        );
        let (want_y, mask) = relu_forward(&x);
        let mut layer = Relu::new("re_lu");
        let y = layer.forward(&x, Pass::Train { step: 0 }).unwrap();
        let same = |a: &Tensor, b: &Tensor| {
            a.shape() == b.shape() && a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits())
        };
        assert!(same(&y, &want_y), "forward");
        assert!(
            same(&layer.backward(&dy).unwrap(), &relu_backward(&dy, &mask)),
            "backward"
        );
        // A transposed (non-contiguous) input gives the same values.
        let xt = x.clone().permuted_axes(IxDyn(&[2, 1, 0, 3]));
        let (want_t, _) = relu_forward(&xt);
        assert!(
            same(&layer.forward(&xt, Pass::Eval).unwrap(), &want_t),
            "transposed"
        );
    }
}
