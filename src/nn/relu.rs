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
use super::parallel_output::{parallel_output, parallel_output_with, ELEMENTS_PER_TASK};
use crate::error::Result;

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
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout");
        // The mask keeps its buffer from the last step: same size, nothing allocated.
        self.positive.resize(xs.len(), false);
        let y = parallel_output_with(
            xs.len(),
            ELEMENTS_PER_TASK,
            &mut self.positive,
            |_, out, positive| {
                let x_block = &xs[out.range()];
                for (p, &v) in positive.iter_mut().zip(x_block) {
                    *p = v > 0.0;
                }
                // `v.max(0.0)` would silently turn NaN into 0; NaN must reach the loss check.
                // Written as a select, not a branch, so the compiler vectorises the loop.
                out.push_iter(
                    x_block
                        .iter()
                        .map(|&v| if v > 0.0 || v.is_nan() { v } else { 0.0 }),
                );
            },
        );
        self.input_shape = Some(x.shape().to_vec());
        Ok(Tensor::from_shape_vec(x.raw_dim(), y).expect("same size"))
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
        let dy = dy.as_standard_layout();
        let dys = dy.as_slice().expect("standard layout");
        let dx = parallel_output(dys.len(), ELEMENTS_PER_TASK, |_, out| {
            let range = out.range();
            let (grads, positive) = (&dys[range.clone()], &self.positive[range]);
            out.push_iter(
                grads
                    .iter()
                    .zip(positive)
                    .map(|(&g, &p)| if p { g } else { 0.0 }),
            );
        });
        Ok(Tensor::from_shape_vec(dy.raw_dim(), dx).expect("same size"))
    }
    // ANCHOR_END: backward
}
