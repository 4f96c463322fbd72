//! `Relu`: the rectified linear unit, applied element-wise.
//!
//! **Forward.** `y = max(0, x)` (a NaN stays NaN, so that bad input is caught by the loss check).
//! **Backward.** `dx = dy · [x > 0]` (we take the derivative at exactly 0 to be 0, as
//! TensorFlow does).
//! In the paper's network the ReLU is the convolution's own activation, so it comes *before*
//! batch normalisation: Conv → ReLU → BN.
//!
//! Both passes work on blocks of [`ELEMENTS_PER_TASK`] values in parallel (rayon).

use super::layer::{no_forward_error, shape_error, Layer, Mode, Tensor};
use crate::error::Result;
use rayon::prelude::*;

/// Values per rayon task in element-wise layers: big enough to amortise scheduling.
pub const ELEMENTS_PER_TASK: usize = 1 << 15;

/// Element-wise `max(0, x)`.
pub struct Relu {
    name: String,
    /// `x > 0` for every element of the last input (the derivative, 1 or 0).
    positive: Vec<bool>,
    /// Shape of the last input.
    input_shape: Option<Vec<usize>>,
}

impl Relu {
    /// A ReLU activation layer.
    pub fn new(name: impl Into<String>) -> Self {
        Relu {
            name: name.into(),
            positive: Vec::new(),
            input_shape: None,
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
        let mut y = x.as_standard_layout().into_owned();
        self.positive.resize(y.len(), false);
        y.as_slice_mut()
            .expect("standard layout")
            .par_chunks_mut(ELEMENTS_PER_TASK)
            .zip(self.positive.par_chunks_mut(ELEMENTS_PER_TASK))
            .for_each(|(values, positive)| {
                for (v, p) in values.iter_mut().zip(positive) {
                    *p = *v > 0.0;
                    // `v.max(0.0)` would silently turn NaN into 0; NaN must reach the loss check.
                    // Written as a select, not a branch, so the compiler vectorises the loop.
                    *v = if *p || v.is_nan() { *v } else { 0.0 };
                }
            });
        self.input_shape = Some(x.shape().to_vec());
        Ok(y)
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let shape = self
            .input_shape
            .as_ref()
            .ok_or_else(|| no_forward_error(self))?;
        if dy.shape() != shape.as_slice() {
            return Err(shape_error(self, shape, dy.shape()));
        }
        let mut dx = dy.as_standard_layout().into_owned();
        dx.as_slice_mut()
            .expect("standard layout")
            .par_chunks_mut(ELEMENTS_PER_TASK)
            .zip(self.positive.par_chunks(ELEMENTS_PER_TASK))
            .for_each(|(grads, positive)| {
                for (g, &p) in grads.iter_mut().zip(positive) {
                    *g = if p { *g } else { 0.0 };
                }
            });
        Ok(dx)
    }
    // ANCHOR_END: backward
}
