//! `MaxPool2d`: 2×2 max pooling with stride 2 and `valid` padding (Keras `MaxPooling2D()`).
//!
//! **Forward.** `y[n,i,j,c] = max(x[n,2i,2j,c], x[n,2i,2j+1,c], x[n,2i+1,2j,c], x[n,2i+1,2j+1,c])`;
//! an odd last row or column is dropped (`valid`), so `[N,H,W,C] → [N,⌊H/2⌋,⌊W/2⌋,C]`.
//!
//! **Backward.** The max is locally the identity on the winning input and constant in the
//! other three, so each `dy` goes entirely to the arg-max position: `dx[argmax] += dy`,
//! zero elsewhere. (At a tie the first maximum in row-major window order wins.)

use super::layer::{no_forward_error, shape_error, Layer, Mode, Tensor};
use crate::error::Result;
use ndarray::IxDyn;

/// Window size and stride of the pooling (2 in the paper's network).
pub const POOL: usize = 2;

/// 2×2 / stride-2 max pooling over NHWC feature maps.
pub struct MaxPool2d {
    name: String,
    /// For every output element, the flat index of its winning input element.
    argmax: Vec<usize>,
    /// Shape of the last input, for the input gradient.
    input_shape: Option<Vec<usize>>,
}

impl MaxPool2d {
    /// A 2×2, stride-2 max pooling layer.
    pub fn new(name: impl Into<String>) -> Self {
        MaxPool2d {
            name: name.into(),
            argmax: Vec::new(),
            input_shape: None,
        }
    }
}

impl Layer for MaxPool2d {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "MaxPooling2D"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.len() != 3 || input[0] < POOL || input[1] < POOL {
            return Err(shape_error(self, "[H ≥ 2, W ≥ 2, C]", input));
        }
        Ok(vec![input[0] / POOL, input[1] / POOL, input[2]])
    }

    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor, _mode: Mode) -> Result<Tensor> {
        if x.ndim() != 4 || x.shape()[0] == 0 {
            return Err(shape_error(self, "[N ≥ 1, H, W, C]", x.shape()));
        }
        let out = self.output_shape(&x.shape()[1..])?;
        let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let (ho, wo) = (out[0], out[1]);
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout");
        let mut y = vec![0.0f32; n * ho * wo * c];
        self.argmax = vec![0; y.len()];
        for b in 0..n {
            for i in 0..ho {
                for j in 0..wo {
                    for ch in 0..c {
                        let out_index = ((b * ho + i) * wo + j) * c + ch;
                        let mut best_index = ((b * h + POOL * i) * w + POOL * j) * c + ch;
                        for dy in 0..POOL {
                            for dx in 0..POOL {
                                let index = ((b * h + POOL * i + dy) * w + POOL * j + dx) * c + ch;
                                if xs[index] > xs[best_index] {
                                    best_index = index;
                                }
                            }
                        }
                        y[out_index] = xs[best_index];
                        self.argmax[out_index] = best_index;
                    }
                }
            }
        }
        self.input_shape = Some(x.shape().to_vec());
        Ok(Tensor::from_shape_vec(IxDyn(&[n, ho, wo, c]), y).expect("output size"))
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let input_shape = self
            .input_shape
            .clone()
            .ok_or_else(|| no_forward_error(self))?;
        if dy.len() != self.argmax.len() || dy.ndim() != 4 {
            let out = self.output_shape(&input_shape[1..])?;
            return Err(shape_error(
                self,
                [input_shape[0], out[0], out[1], out[2]],
                dy.shape(),
            ));
        }
        let mut dx = Tensor::zeros(IxDyn(&input_shape));
        let dx_slice = dx.as_slice_mut().expect("fresh array");
        for (&g, &index) in dy.as_standard_layout().iter().zip(&self.argmax) {
            dx_slice[index] += g;
        }
        Ok(dx)
    }
    // ANCHOR_END: backward
}
