//! The reference dense layer: `y = x·W + b` and its gradients as sums, one value at a time.

use crate::nn::Tensor;
use ndarray::IxDyn;

// ANCHOR: dense_reference
/// `y[n, o] = b[o] + Σ_i x[n, i] · W[i, o]` for `x [N, in]`, `W [in, out]`, `b [out]`.
pub fn dense_forward(x: &Tensor, kernel: &Tensor, bias: &Tensor) -> Tensor {
    let (n, inputs, outputs) = (x.shape()[0], kernel.shape()[0], kernel.shape()[1]);
    let mut y = Tensor::zeros(IxDyn(&[n, outputs]));
    for s in 0..n {
        for o in 0..outputs {
            let mut sum = bias[[o]];
            for i in 0..inputs {
                sum += x[[s, i]] * kernel[[i, o]];
            }
            y[[s, o]] = sum;
        }
    }
    y
}

/// `(dx, dW, db)` for `g = dL/dy`: `dx = g·Wᵀ`, `dW = xᵀ·g`, `db = Σ_n g[n, :]`.
pub fn dense_backward(x: &Tensor, kernel: &Tensor, g: &Tensor) -> (Tensor, Tensor, Tensor) {
    let (n, inputs, outputs) = (x.shape()[0], kernel.shape()[0], kernel.shape()[1]);
    let mut dx = Tensor::zeros(IxDyn(&[n, inputs]));
    let mut dkernel = Tensor::zeros(IxDyn(&[inputs, outputs]));
    let mut dbias = Tensor::zeros(IxDyn(&[outputs]));
    for s in 0..n {
        for o in 0..outputs {
            dbias[[o]] += g[[s, o]];
            for i in 0..inputs {
                dx[[s, i]] += g[[s, o]] * kernel[[i, o]];
                dkernel[[i, o]] += x[[s, i]] * g[[s, o]];
            }
        }
    }
    (dx, dkernel, dbias)
}
// ANCHOR_END: dense_reference

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Dense, Layer, Pass};
    use rand::SeedableRng;

    fn close(a: &Tensor, b: &Tensor, what: &str) {
        assert_eq!(a.shape(), b.shape(), "{what}");
        for (p, q) in a.iter().zip(b) {
            assert!(
                (p - q).abs() <= 1e-4 * (1.0 + q.abs()),
                "{what}: {p} vs {q}"
            );
        }
    }

    #[test]
    fn the_layer_computes_the_reference() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        // Odd sizes, more rows and columns than one GEMM micro-tile.
        let (n, inputs, outputs) = (13, 37, 11);
        let mut layer = Dense::new("dense", inputs, outputs, &mut rng);
        layer.params_mut()[1].value =
            Tensor::from_shape_fn(IxDyn(&[outputs]), |i| i[0] as f32 * 0.1);
        let x = Tensor::from_shape_fn(IxDyn(&[n, inputs]), |i| {
            ((i[0] * 7 + i[1]) % 11) as f32 * 0.2 - 1.0
        });
        let g = Tensor::from_shape_fn(IxDyn(&[n, outputs]), |i| {
            ((i[0] + 3 * i[1]) % 5) as f32 - 2.0
        });
        let (kernel, bias) = (
            layer.params()[0].value.clone(),
            layer.params()[1].value.clone(),
        );
        close(
            &layer.forward(&x, Pass::Eval).unwrap(),
            &dense_forward(&x, &kernel, &bias),
            "y",
        );
        let dx = layer.backward(&g).unwrap();
        let (want_dx, want_dk, want_db) = dense_backward(&x, &kernel, &g);
        close(&dx, &want_dx, "dx");
        close(&layer.params()[0].grad, &want_dk, "dW");
        close(&layer.params()[1].grad, &want_db, "db");
    }
}
