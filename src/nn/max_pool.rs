//! `MaxPool2d`: 2×2 max pooling with stride 2 and `valid` padding (Keras `MaxPooling2D()`).
//!
//! **Forward.** `y[n,i,j,c] = max(x[n,2i,2j,c], x[n,2i,2j+1,c], x[n,2i+1,2j,c], x[n,2i+1,2j+1,c])`;
//! an odd last row or column is dropped (`valid`), so `[N,H,W,C] → [N,⌊H/2⌋,⌊W/2⌋,C]`. The
//! layer keeps `arg_max`: for every output value, where in its image the winning input is.
//!
//! **Backward.** The max is locally the identity on the winning input and constant in the
//! other three, so each `dy` goes entirely to the arg-max position: `dx[arg_max] += dy`,
//! zero elsewhere. (At a tie the first maximum in row-major window order wins.)
//!
//! Images are independent: the engine's [`parallel_blocks_with`] hands each image's output (and
//! its part of `arg_max`) to one rayon task. The plain loops are [`super::reference::max_pool`].

use super::engine::parallel::{parallel_blocks, parallel_blocks_with};
use super::layer::{no_forward_error, shape_error, Layer, Pass, Tensor};
use crate::error::Result;
use ndarray::IxDyn;

/// Window size and stride of the pooling (2 in the paper's network).
pub const POOL: usize = 2;

/// 2×2 / stride-2 max pooling over NHWC feature maps.
pub struct MaxPool2d {
    name: String,
    /// For every output value, the index (within its image) of its winning input value.
    arg_max: Vec<u32>,
    /// Shape of the last input, for the input gradient.
    x_shape: Option<Vec<usize>>,
}

impl MaxPool2d {
    /// A 2×2, stride-2 max pooling layer.
    pub fn new(name: impl Into<String>) -> Self {
        MaxPool2d {
            name: name.into(),
            arg_max: Vec::new(),
            x_shape: None,
        }
    }
}

// ANCHOR: pool_image
/// Max pooling of one image `x` (`[h, w, c]` row-major) into `y` (`[h/2, w/2, c]`, as many
/// output pixels as `y` holds), writing for each output value the index in `x` of its maximum
/// into `arg_max` (as long as `y`).
///
/// Within a window, all `c` channels are compared at once (a select per channel, no branch),
/// so the loop vectorises.
pub fn pool_image(x: &[f32], (w, c): (usize, usize), y: &mut [f32], arg_max: &mut [u32]) {
    let wo = w / POOL;
    for (pixel, (y, arg_max)) in y.chunks_mut(c).zip(arg_max.chunks_mut(c)).enumerate() {
        let (i, j) = (pixel / wo, pixel % wo);
        // Start from the window's top-left pixel, then let the others challenge it.
        let corner = (POOL * i * w + POOL * j) * c;
        y.copy_from_slice(&x[corner..corner + c]);
        for (ch, a) in arg_max.iter_mut().enumerate() {
            *a = (corner + ch) as u32;
        }
        for dy in 0..POOL {
            for dx in 0..POOL {
                let start = ((POOL * i + dy) * w + POOL * j + dx) * c;
                let pixel = x[start..start + c].iter().enumerate();
                for ((best, a), (ch, &v)) in y.iter_mut().zip(arg_max.iter_mut()).zip(pixel) {
                    // Strictly greater: at a tie the first maximum keeps its place.
                    let wins = v > *best;
                    *best = if wins { v } else { *best };
                    *a = if wins { (start + ch) as u32 } else { *a };
                }
            }
        }
    }
}
// ANCHOR_END: pool_image

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
    fn forward(&mut self, x: &Tensor, _pass: Pass) -> Result<Tensor> {
        if x.ndim() != 4 || x.shape()[0] == 0 {
            return Err(shape_error(self, "[N ≥ 1, H, W, C]", x.shape()));
        }
        let out = self.output_shape(&x.shape()[1..])?;
        let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let (ho, wo) = (out[0], out[1]);
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout");
        let (in_len, out_len) = (h * w * c, ho * wo * c);
        self.arg_max.resize(n * out_len, 0);
        // y = max over each 2×2 window, image by image.
        let y = parallel_blocks_with(
            n * out_len,
            out_len,
            &mut self.arg_max,
            |image, y, arg_max| pool_image(&xs[image * in_len..][..in_len], (w, c), y, arg_max),
        );
        self.x_shape = Some(x.shape().to_vec());
        Ok(Tensor::from_shape_vec(IxDyn(&[n, ho, wo, c]), y).expect("output size"))
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let x_shape = self.x_shape.clone().ok_or_else(|| no_forward_error(self))?;
        if dy.len() != self.arg_max.len() || dy.ndim() != 4 {
            let out = self.output_shape(&x_shape[1..])?;
            return Err(shape_error(
                self,
                [x_shape[0], out[0], out[1], out[2]],
                dy.shape(),
            ));
        }
        let in_len: usize = x_shape[1..].iter().product();
        let out_len = self.arg_max.len() / x_shape[0];
        let dy = dy.as_standard_layout();
        let dy = dy.as_slice().expect("standard layout");
        // dx = 0, then dx[arg_max] += dy, image by image.
        let dx = parallel_blocks(x_shape[0] * in_len, in_len, |image, dx| {
            let dy = &dy[image * out_len..][..out_len];
            let arg_max = &self.arg_max[image * out_len..][..out_len];
            for (&g, &index) in dy.iter().zip(arg_max) {
                dx[index as usize] += g;
            }
        });
        Ok(Tensor::from_shape_vec(IxDyn(&x_shape), dx).expect("input size"))
    }
    // ANCHOR_END: backward
}
