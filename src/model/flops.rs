//! How many floating-point operations the paper's network does, computed from its layer shapes:
//! the yardstick that turns a measured time into GFLOP/s and a share of the machine's FMA peak
//! (`lumbar bench`).
//!
//! Only the convolutions and the dense layers are counted, as multiply-adds (one multiply-add =
//! 2 FLOP, the convention of every GEMM benchmark): the element-wise layers (batch norm, ReLU,
//! pooling, dropout) do a few operations per activation, under 1 % of the total.
//!
//! A convolution with a \\(3 \times 3\\) kernel, \\(C_{in}\\) input and \\(C_{out}\\) output
//! channels on an \\(H \times W\\) output ("same" padding, stride 1) does
//! \\(H W \cdot 9 C_{in} \cdot C_{out}\\) multiply-adds forward. Its backward does as many again
//! for the input gradient and as many for the kernel gradient, except the first layer, whose
//! input gradient nothing needs. A dense layer \\(n \to m\\) does \\(n m\\) forward and the same
//! two backward products.

use crate::model::paper_cnn::{BLOCK_FILTERS, CHANNELS, CLASSES, DENSE_UNITS};

/// Multiply-adds of one image through the network, forward only, and of one training step's
/// backward pass, per image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiplyAdds {
    /// Forward pass (inference), per image.
    pub forward: f64,
    /// Backward pass (input and kernel gradients), per image.
    pub backward: f64,
}

impl MultiplyAdds {
    /// FLOP of one training step (forward + backward) on `batch` images.
    pub fn training_flops(&self, batch: usize) -> f64 {
        2.0 * (self.forward + self.backward) * batch as f64
    }

    /// FLOP of one inference batch of `batch` images.
    pub fn inference_flops(&self, batch: usize) -> f64 {
        2.0 * self.forward * batch as f64
    }
}

/// The multiply-adds of the paper's network at `image_size` × `image_size` (a multiple of 32,
/// as the network requires).
pub fn paper_cnn_multiply_adds(image_size: usize) -> MultiplyAdds {
    let (mut forward, mut backward) = (0.0, 0.0);
    let mut side = image_size as f64;
    let mut cin = CHANNELS as f64;
    let mut first = true;
    for &filters in &BLOCK_FILTERS {
        for _ in 0..2 {
            let cout = filters as f64;
            let layer = side * side * 9.0 * cin * cout;
            forward += layer;
            backward += if first { layer } else { 2.0 * layer };
            first = false;
            cin = cout;
        }
        side /= 2.0;
    }
    let mut inputs = side * side * cin;
    for units in DENSE_UNITS.iter().chain(std::iter::once(&CLASSES)) {
        let layer = inputs * *units as f64;
        forward += layer;
        backward += 2.0 * layer;
        inputs = *units as f64;
    }
    MultiplyAdds { forward, backward }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_matches_the_layers_worked_by_hand() {
        // At 32 px: block 1 at 32², ..., block 5 at 2², then 1·1·512 → 512 → 256 → 3.
        let mut forward = 0.0;
        let mut backward = 0.0;
        let convs = [
            (32.0, 3.0, 32.0),
            (32.0, 32.0, 32.0),
            (16.0, 32.0, 64.0),
            (16.0, 64.0, 64.0),
            (8.0, 64.0, 128.0),
            (8.0, 128.0, 128.0),
            (4.0, 128.0, 256.0),
            (4.0, 256.0, 256.0),
            (2.0, 256.0, 512.0),
            (2.0, 512.0, 512.0),
        ];
        for (i, (side, cin, cout)) in convs.iter().enumerate() {
            let m = side * side * 9.0 * cin * cout;
            forward += m;
            backward += if i == 0 { m } else { 2.0 * m };
        }
        for (n, m) in [(512.0, 512.0), (512.0, 256.0), (256.0, 3.0)] {
            forward += n * m;
            backward += 2.0 * n * m;
        }
        let counted = paper_cnn_multiply_adds(32);
        assert_eq!(counted, MultiplyAdds { forward, backward });
        // 256 px: 64 times the convolutions of 32 px: 4.30 G multiply-adds, 8.60 GFLOP forward per
        // image (the hand sum: 56.6 M for the first layer, 604 M for the second, 906 M per block
        // after it, 16.9 M for the dense layers).
        let big = paper_cnn_multiply_adds(256);
        assert!(
            (big.forward * 2.0 / 1e9 - 8.60).abs() < 0.01,
            "{}",
            big.forward
        );
        assert_eq!(
            big.training_flops(2),
            2.0 * 2.0 * (big.forward + big.backward)
        );
    }
}
