//! `Relu`: the rectified linear unit, applied element-wise.
//!
//! **Forward.** `y = max(0, x)`, and the layer keeps `mask = [x > 0]` (a NaN stays NaN, so that
//! bad input is caught by the loss check).
//! **Backward.** `dx = dy ⊙ mask` (the derivative at exactly 0 is taken to be 0, as TensorFlow
//! does).
//! In the paper's network the ReLU is the convolution's own activation, so it comes *before*
//! batch normalisation: Conv → ReLU → BN.
//!
//! Both passes are ndarray's parallel `Zip` (`par_map_collect`): every value is computed on its
//! own, so the result is the same on any number of threads. The plain loops are
//! [`super::reference::relu`].

use super::engine::channel_maps::ChannelMap;
use super::layer::{no_forward_error, shape_error, Layer, Pass, Tensor};
use crate::error::Result;
use ndarray::{ArrayD, Zip};

/// Element-wise `max(0, x)`.
pub struct Relu {
    name: String,
    /// `[x > 0]` for every value of the last input: the derivative, 1 or 0.
    mask: Option<ArrayD<bool>>,
}

impl Relu {
    /// A ReLU activation layer.
    pub fn new(name: impl Into<String>) -> Self {
        Relu {
            name: name.into(),
            mask: None,
        }
    }
}

// ANCHOR: relu
/// `max(0, x)`, except that a NaN stays NaN (`f32::max` would silently turn it into 0, and a
/// NaN must reach the loss check). A select, not a branch, so loops over it vectorise.
pub fn relu(x: f32) -> f32 {
    if x > 0.0 || x.is_nan() {
        x
    } else {
        0.0
    }
}
// ANCHOR_END: relu

impl Layer for Relu {
    fn name(&self) -> &str {
        &self.name
    }

    /// In place, keeping no mask.
    fn infer(&mut self, mut x: Tensor) -> Result<Tensor> {
        self.mask = None;
        x.par_mapv_inplace(relu);
        Ok(x)
    }

    fn inference_maps(&self) -> Option<Vec<ChannelMap>> {
        Some(vec![ChannelMap::Relu])
    }

    fn kind(&self) -> &'static str {
        "ReLU"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor, _pass: Pass) -> Result<Tensor> {
        // Last step's mask buffer is reused when the shape is the same (nothing allocated).
        let mut mask = (self.mask.take())
            .filter(|mask| mask.shape() == x.shape())
            .unwrap_or_else(|| ArrayD::from_elem(x.raw_dim(), false));
        // mask = [x > 0] and y = max(0, x), in one pass over x.
        let y = Zip::from(&mut mask).and(x).par_map_collect(|mask, &x| {
            *mask = x > 0.0;
            relu(x)
        });
        self.mask = Some(mask);
        Ok(y)
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let mask = self.mask.as_ref().ok_or_else(|| no_forward_error(self))?;
        if dy.shape() != mask.shape() {
            return Err(shape_error(self, mask.shape(), dy.shape()));
        }
        // dx = dy ⊙ mask
        let dx = Zip::from(dy)
            .and(mask)
            .par_map_collect(|&dy, &positive| if positive { dy } else { 0.0 });
        Ok(dx)
    }
    // ANCHOR_END: backward
}
