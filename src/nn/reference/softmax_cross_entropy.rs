//! The reference softmax cross-entropy: `p = softmax(z)`, `L = mean(−ln clip(p[y]))`, and
//! `dL/dz = (p − onehot(y))/N` (zero for a clipped sample), written as sums over plain loops.

use crate::nn::softmax_cross_entropy::PROBABILITY_CLIP;
use crate::nn::Tensor;
use ndarray::IxDyn;

// ANCHOR: softmax_cross_entropy_reference
/// `p[n, k] = exp(z[n,k] − max z[n,:]) / Σ_j exp(z[n,j] − max z[n,:])` for logits `[N, K]`.
pub fn softmax_reference(logits: &Tensor) -> Tensor {
    let (n, k) = (logits.shape()[0], logits.shape()[1]);
    let mut p = Tensor::zeros(IxDyn(&[n, k]));
    for s in 0..n {
        let max = (0..k)
            .map(|j| logits[[s, j]])
            .fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = (0..k).map(|j| (logits[[s, j]] - max).exp()).sum();
        for j in 0..k {
            p[[s, j]] = (logits[[s, j]] - max).exp() / sum;
        }
    }
    p
}

/// `(L, dL/dz)`: the mean of `−ln clip(p[n, y_n])` and its gradient, `(p − onehot(y))/N` for a
/// sample whose true-class probability is inside the clip, zero for one outside it.
pub fn softmax_cross_entropy(logits: &Tensor, labels: &[usize]) -> (f32, Tensor) {
    let p = softmax_reference(logits);
    let n = labels.len();
    let mut loss = 0.0f64;
    let mut grad = Tensor::zeros(p.raw_dim());
    for (s, &y) in labels.iter().enumerate() {
        let p_true = p[[s, y]];
        loss -= (p_true.clamp(PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP) as f64).ln();
        let clipped = !(PROBABILITY_CLIP..=1.0 - PROBABILITY_CLIP).contains(&p_true);
        for k in 0..p.shape()[1] {
            let one_hot = if k == y { 1.0 } else { 0.0 };
            grad[[s, k]] = if clipped {
                0.0
            } else {
                (p[[s, k]] - one_hot) / n as f32
            };
        }
    }
    ((loss / n as f64) as f32, grad)
}
// ANCHOR_END: softmax_cross_entropy_reference

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::SoftmaxCrossEntropy;

    #[test]
    fn the_layer_computes_the_reference() {
        // Ordinary logits, and a sample so confident that its probability is clipped.
        let mut logits =
            Tensor::from_shape_fn(IxDyn(&[7, 3]), |i| (i[0] * 3 + i[1]) as f32 * 0.37 - 2.0);
        logits[[6, 1]] = 40.0;
        let labels = [0, 1, 2, 2, 1, 0, 1];
        let mut layer = SoftmaxCrossEntropy::new();
        let loss = layer.forward(&logits, &labels).unwrap();
        let (want_loss, want_grad) = softmax_cross_entropy(&logits, &labels);
        assert!(
            (loss - want_loss).abs() <= 1e-6 * want_loss.abs(),
            "{loss} vs {want_loss}"
        );
        let grad = layer.backward().unwrap();
        assert!(grad.row_is_zero(6), "the clipped sample has no gradient");
        for (g, w) in grad.iter().zip(&want_grad) {
            assert!((g - w).abs() <= 1e-7, "{g} vs {w}");
        }
    }

    trait RowIsZero {
        fn row_is_zero(&self, row: usize) -> bool;
    }

    impl RowIsZero for Tensor {
        fn row_is_zero(&self, row: usize) -> bool {
            (0..self.shape()[1]).all(|k| self[[row, k]] == 0.0)
        }
    }
}
