//! `Flatten`: reshape `[N, H, W, C]` (or any `[N, …]`) to `[N, H·W·C]` in row-major (NHWC)
//! order, exactly as Keras' `Flatten` does for channels-last data. Backward reshapes back:
//! `dx = reshape(dy, x.shape)`.

use super::layer::{no_forward_error, shape_error, Layer, Pass, Tensor};
use crate::error::Result;
use ndarray::IxDyn;

/// Collapse every axis but the batch into one.
pub struct Flatten {
    name: String,
    /// Shape of the last input, to reshape the gradient back to.
    x_shape: Option<Vec<usize>>,
}

impl Flatten {
    /// A flatten layer.
    pub fn new(name: impl Into<String>) -> Self {
        Flatten {
            name: name.into(),
            x_shape: None,
        }
    }
}

impl Layer for Flatten {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "Flatten"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(vec![input.iter().product()])
    }

    fn forward(&mut self, x: &Tensor, _pass: Pass) -> Result<Tensor> {
        if x.ndim() < 2 || x.shape()[0] == 0 {
            return Err(shape_error(self, "[N ≥ 1, …]", x.shape()));
        }
        let n = x.shape()[0];
        let features = x.len() / n;
        self.x_shape = Some(x.shape().to_vec());
        Ok(x.as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&[n, features]))
            .expect("same number of elements"))
    }

    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let shape = self.x_shape.clone().ok_or_else(|| no_forward_error(self))?;
        let expected = [shape[0], shape[1..].iter().product()];
        if dy.shape() != expected {
            return Err(shape_error(self, expected, dy.shape()));
        }
        Ok(dy
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&shape))
            .expect("same number of elements"))
    }
}
