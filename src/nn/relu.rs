//! `Relu`: the rectified linear unit, applied element-wise.
//!
//! **Forward.** `y = max(0, x)` (a NaN stays NaN, so that bad input is caught by the loss check). **Backward.** `dx = dy · [x > 0]` (we take the derivative at
//! exactly 0 to be 0, as TensorFlow does).
//! In the paper's network the ReLU is the convolution's own activation, so it comes *before*
//! batch normalisation: Conv → ReLU → BN.

use super::layer::{no_forward_error, shape_error, Layer, Mode, Tensor};
use crate::error::Result;

/// Element-wise `max(0, x)`.
pub struct Relu {
    name: String,
    /// `x > 0` for every element of the last input.
    positive: Option<ndarray::ArrayD<bool>>,
}

impl Relu {
    /// A ReLU activation layer.
    pub fn new(name: impl Into<String>) -> Self {
        Relu {
            name: name.into(),
            positive: None,
        }
    }
}

impl Layer for Relu {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "ReLU"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor, _mode: Mode) -> Result<Tensor> {
        self.positive = Some(x.mapv(|v| v > 0.0));
        // `v.max(0.0)` would silently turn NaN into 0; a NaN must reach the loss and be reported.
        Ok(x.mapv(|v| if v > 0.0 || v.is_nan() { v } else { 0.0 }))
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let positive = self
            .positive
            .as_ref()
            .ok_or_else(|| no_forward_error(self))?;
        if dy.shape() != positive.shape() {
            return Err(shape_error(self, positive.shape(), dy.shape()));
        }
        let mut dx = dy.clone();
        dx.zip_mut_with(positive, |g, &p| {
            if !p {
                *g = 0.0
            }
        });
        Ok(dx)
    }
    // ANCHOR_END: backward
}
