//! `MaxPool2d`: 2×2 max pooling with stride 2 and `valid` padding (Keras `MaxPooling2D()`).
//!
//! **Forward.** `y[n,i,j,c] = max(x[n,2i,2j,c], x[n,2i,2j+1,c], x[n,2i+1,2j,c], x[n,2i+1,2j+1,c])`;
//! an odd last row or column is dropped (`valid`), so `[N,H,W,C] → [N,⌊H/2⌋,⌊W/2⌋,C]`.
//!
//! **Backward.** The max is locally the identity on the winning input and constant in the
//! other three, so each `dy` goes entirely to the arg-max position: `dx[argmax] += dy`,
//! zero elsewhere. (At a tie the first maximum in row-major window order wins.)

use super::layer::{no_forward_error, shape_error, Layer, Mode, Tensor};
use super::parallel_output::{parallel_output, parallel_output_with};
use crate::error::Result;
use ndarray::IxDyn;

/// Window size and stride of the pooling (2 in the paper's network).
pub const POOL: usize = 2;

/// 2×2 / stride-2 max pooling over NHWC feature maps.
pub struct MaxPool2d {
    name: String,
    /// For every output element, the index of its winning input element within its image.
    argmax: Vec<u32>,
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
        let (in_len, out_len) = (h * w * c, ho * wo * c);
        self.argmax.resize(n * out_len, 0);
        // Images are independent: one rayon task per image. Within a pixel, all channels are
        // compared at once (a select per channel, no branch), so the loop vectorises.
        let y = parallel_output_with(
            n * out_len,
            out_len,
            &mut self.argmax,
            |image, y, argmax| {
                let x = &xs[image * in_len..][..in_len];
                for i in 0..ho {
                    for j in 0..wo {
                        let out_start = (i * wo + j) * c;
                        let argmax = &mut argmax[out_start..out_start + c];
                        // Start from the window's top-left pixel, then let the others challenge it.
                        let corner = (POOL * i * w + POOL * j) * c;
                        y.push_slice(&x[corner..corner + c]);
                        let best = &mut y.written_mut()[out_start..];
                        for (ch, a) in argmax.iter_mut().enumerate() {
                            *a = (corner + ch) as u32;
                        }
                        for dy in 0..POOL {
                            for dx in 0..POOL {
                                let start = ((POOL * i + dy) * w + POOL * j + dx) * c;
                                let pixel = x[start..start + c].iter().enumerate();
                                for ((b, a), (ch, &v)) in
                                    best.iter_mut().zip(argmax.iter_mut()).zip(pixel)
                                {
                                    // Strictly greater: at a tie the first maximum keeps its place.
                                    let wins = v > *b;
                                    *b = if wins { v } else { *b };
                                    *a = if wins { (start + ch) as u32 } else { *a };
                                }
                            }
                        }
                    }
                }
            },
        );
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
        let in_len: usize = input_shape[1..].iter().product();
        let out_len = self.argmax.len() / input_shape[0];
        let dy = dy.as_standard_layout();
        let dy = dy.as_slice().expect("standard layout");
        // One rayon task per image: zero its input gradient, then route each dy to its winner.
        let dx = parallel_output(input_shape[0] * in_len, in_len, |image, out| {
            out.push_iter(std::iter::repeat(0.0));
            let dx = out.written_mut();
            let dy = &dy[image * out_len..][..out_len];
            let argmax = &self.argmax[image * out_len..][..out_len];
            for (&g, &index) in dy.iter().zip(argmax) {
                dx[index as usize] += g;
            }
        });
        let dx = Tensor::from_shape_vec(IxDyn(&input_shape), dx).expect("input size");
        Ok(dx)
    }
    // ANCHOR_END: backward
}
