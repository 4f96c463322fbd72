//! The reference 2×2 / stride-2 max pooling: every window compared value by value, and the
//! gradient routed back to the window's (first) maximum.

use crate::nn::max_pool::POOL;
use crate::nn::Tensor;
use ndarray::IxDyn;

/// The position `(row, column)` of the first maximum (row-major order) of window `(i, j)` of
/// channel `ch` of image `n`.
fn arg_max(x: &Tensor, n: usize, (i, j): (usize, usize), ch: usize) -> (usize, usize) {
    let mut best = (POOL * i, POOL * j);
    for dy in 0..POOL {
        for dx in 0..POOL {
            let (r, c) = (POOL * i + dy, POOL * j + dx);
            if x[[n, r, c, ch]] > x[[n, best.0, best.1, ch]] {
                best = (r, c);
            }
        }
    }
    best
}

// ANCHOR: max_pool_reference
/// `y[n,i,j,c] = max of x[n, 2i..2i+2, 2j..2j+2, c]`; an odd last row or column is dropped.
pub fn max_pool_forward(x: &Tensor) -> Tensor {
    let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let mut y = Tensor::zeros(IxDyn(&[n, h / POOL, w / POOL, c]));
    for s in 0..n {
        for i in 0..h / POOL {
            for j in 0..w / POOL {
                for ch in 0..c {
                    let (r, col) = arg_max(x, s, (i, j), ch);
                    y[[s, i, j, ch]] = x[[s, r, col, ch]];
                }
            }
        }
    }
    y
}

/// `dx[arg max of each window] += dy`, zero elsewhere.
pub fn max_pool_backward(x: &Tensor, dy: &Tensor) -> Tensor {
    let mut dx = Tensor::zeros(x.raw_dim());
    for (index, &g) in dy.indexed_iter() {
        let (s, i, j, ch) = (index[0], index[1], index[2], index[3]);
        let (r, col) = arg_max(x, s, (i, j), ch);
        dx[[s, r, col, ch]] += g;
    }
    dx
}
// ANCHOR_END: max_pool_reference

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Layer, MaxPool2d, Pass};

    #[test]
    fn the_layer_computes_the_reference() {
        // Several images (parallel blocks), odd height and width, ties (values repeat).
        let shape = [3, 9, 11, 5];
        let x = Tensor::from_shape_fn(IxDyn(&shape), |i| {
            ((i[1] * 5 + i[2] * 3 + i[3] + i[0]) % 7) as f32
        });
        let dy = Tensor::from_shape_fn(IxDyn(&[3, 4, 5, 5]), |i| {
            (i[0] + i[1] * 2 + i[2] * 3 + i[3]) as f32 - 6.0
        });
        let mut layer = MaxPool2d::new("max_pooling2d");
        assert_eq!(layer.forward(&x, Pass::Eval).unwrap(), max_pool_forward(&x));
        assert_eq!(layer.backward(&dy).unwrap(), max_pool_backward(&x, &dy));
    }
}
