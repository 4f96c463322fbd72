//! `Conv2d`: a 2-D convolution (Keras `Conv2D`, stride 1), computed as im2col + GEMM.
//!
//! **Shapes.** Input `x[N, H, W, Cin]`, kernel `K[kh, kw, Cin, Cout]`, bias `b[Cout]`, output
//! `y[N, Ho, Wo, Cout]` with `Ho = H, Wo = W` for `same` padding and `Ho = H−kh+1,
//! Wo = W−kw+1` for `valid`.
//!
//! **Forward.** `y[n,oy,ox,o] = b[o] + Σ_{ky,kx,c} x[n, oy+ky−pt, ox+kx−pl, c] · K[ky,kx,c,o]`
//! (zero outside the image). Per image this is `Y = col(x) · K̂ + b`, where `col(x)` is the
//! `[Ho·Wo, kh·kw·Cin]` im2col matrix and `K̂` the kernel viewed as `[kh·kw·Cin, Cout]`.
//!
//! **Backward.** With `dY = dL/dy` of one image as a `[Ho·Wo, Cout]` matrix:
//! - `dK̂ = Σ_n col(x_n)ᵀ · dY_n` (the kernel gradient),
//! - `db[o] = Σ_{n,oy,ox} dY[n,oy,ox,o]`,
//! - `dx_n = col2im(dY_n · K̂ᵀ)` (the input gradient).
//!
//! **Parallelism.** Images are independent, so rayon processes them in parallel. The kernel
//! gradient is summed over fixed groups of [`IMAGES_PER_GROUP`] images and the group sums are
//! added in order, so the result does not depend on the number of threads. im2col is recomputed
//! in backward rather than stored: storing it for a batch would take gigabytes at 256×256.
//!
//! The plain nested-loop version lives in [`super::conv2d_naive`]; a test holds both equal.

use super::gemm::{gemm, Op};
use super::im2col::{col2im, im2col, ConvGeometry};
use super::init::glorot_uniform;
use super::layer::{no_forward_error, shape_error, Layer, Mode, Param, Tensor};
use crate::error::Result;
use ndarray::{Array1, IxDyn};
use rand::Rng;
use rayon::prelude::*;

/// How many images share one partial kernel-gradient buffer in the backward pass. Fixed (not
/// derived from the thread count) so that the floating-point sum is the same on any machine.
pub const IMAGES_PER_GROUP: usize = 4;

/// Keras' `padding` argument for a stride-1 convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Zero-pad so the output has the input's height and width (`(k−1)/2` before, the rest
    /// after, as TensorFlow does).
    Same,
    /// No padding: the output shrinks by `k−1` in each spatial axis.
    Valid,
}

/// A stride-1 2-D convolution layer with a bias, NHWC, Keras semantics.
pub struct Conv2d {
    name: String,
    padding: Padding,
    /// `[kh, kw, cin, cout]`.
    kernel: Param,
    /// `[cout]`.
    bias: Param,
    /// The input of the last forward pass, kept for backward.
    input: Option<Tensor>,
}

impl Conv2d {
    /// A `kh × kw` convolution from `cin` to `cout` channels, Glorot-uniform kernel, zero bias.
    pub fn new(
        name: impl Into<String>,
        (kh, kw): (usize, usize),
        cin: usize,
        cout: usize,
        padding: Padding,
        rng: &mut impl Rng,
    ) -> Self {
        let kernel = glorot_uniform(&[kh, kw, cin, cout], kh * kw * cin, kh * kw * cout, rng);
        Conv2d {
            name: name.into(),
            padding,
            kernel: Param::trainable("kernel", kernel),
            bias: Param::trainable("bias", Tensor::zeros(IxDyn(&[cout]))),
            input: None,
        }
    }

    /// The padding mode.
    pub fn padding(&self) -> Padding {
        self.padding
    }

    /// The kernel `[kh, kw, cin, cout]`.
    pub fn kernel(&self) -> &Tensor {
        &self.kernel.value
    }

    /// The bias `[cout]`.
    pub fn bias(&self) -> &Tensor {
        &self.bias.value
    }

    fn dims(&self) -> (usize, usize, usize, usize) {
        let s = self.kernel.value.shape();
        (s[0], s[1], s[2], s[3])
    }

    /// The geometry for one input image `[h, w, c]`, or a shape error.
    fn geometry(&self, image: &[usize]) -> Result<ConvGeometry> {
        let (kh, kw, cin, _) = self.dims();
        let expected = format!("[H, W, {cin}] with H ≥ {kh}, W ≥ {kw} for valid padding");
        if image.len() != 3 || image[2] != cin {
            return Err(shape_error(self, format!("[H, W, {cin}]"), image));
        }
        let (h, w) = (image[0], image[1]);
        let (pad_top, pad_left, ho, wo) = match self.padding {
            Padding::Same => ((kh - 1) / 2, (kw - 1) / 2, h, w),
            Padding::Valid => {
                if h < kh || w < kw {
                    return Err(shape_error(self, expected, image));
                }
                (0, 0, h - kh + 1, w - kw + 1)
            }
        };
        if h == 0 || w == 0 {
            return Err(shape_error(self, format!("[H ≥ 1, W ≥ 1, {cin}]"), image));
        }
        Ok(ConvGeometry {
            h,
            w,
            c: cin,
            kh,
            kw,
            pad_top,
            pad_left,
            ho,
            wo,
        })
    }

    /// Check a batch `[N, H, W, Cin]` and return its geometry.
    fn batch_geometry(&self, x: &Tensor) -> Result<ConvGeometry> {
        let (_, _, cin, _) = self.dims();
        if x.ndim() != 4 || x.shape()[0] == 0 {
            return Err(shape_error(
                self,
                format!("[N ≥ 1, H, W, {cin}]"),
                x.shape(),
            ));
        }
        self.geometry(&x.shape()[1..])
    }
}

impl Layer for Conv2d {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "Conv2D"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let g = self.geometry(input)?;
        Ok(vec![g.ho, g.wo, self.dims().3])
    }

    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor, _mode: Mode) -> Result<Tensor> {
        let g = self.batch_geometry(x)?;
        let (_, _, _, cout) = self.dims();
        let n = x.shape()[0];
        let x = x.as_standard_layout().into_owned();
        let kernel = self
            .kernel
            .value
            .as_slice()
            .expect("parameters are contiguous");
        let bias = self
            .bias
            .value
            .as_slice()
            .expect("parameters are contiguous");
        let (in_len, out_len) = (g.h * g.w * g.c, g.out_pixels() * cout);
        let mut y = vec![0.0f32; n * out_len];
        y.par_chunks_mut(out_len)
            .zip(x.as_slice().expect("standard layout").par_chunks(in_len))
            .for_each(|(y_n, x_n)| {
                let mut col = vec![0.0f32; g.out_pixels() * g.patch_len()];
                im2col(x_n, &g, &mut col);
                for row in y_n.chunks_mut(cout) {
                    row.copy_from_slice(bias);
                }
                gemm(
                    g.out_pixels(),
                    g.patch_len(),
                    cout,
                    &col,
                    Op::N,
                    kernel,
                    Op::N,
                    1.0,
                    y_n,
                );
            });
        self.input = Some(x);
        Ok(Tensor::from_shape_vec(IxDyn(&[n, g.ho, g.wo, cout]), y).expect("output size"))
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let x = self.input.as_ref().ok_or_else(|| no_forward_error(self))?;
        let g = self.batch_geometry(x)?;
        let (_, _, _, cout) = self.dims();
        let n = x.shape()[0];
        let expected = [n, g.ho, g.wo, cout];
        if dy.shape() != expected {
            return Err(shape_error(self, expected, dy.shape()));
        }
        let dy = dy.as_standard_layout();
        let dy = dy.as_slice().expect("standard layout");
        let kernel = self
            .kernel
            .value
            .as_slice()
            .expect("parameters are contiguous");
        let (in_len, out_len) = (g.h * g.w * g.c, g.out_pixels() * cout);
        let (m, k) = (g.out_pixels(), g.patch_len());

        // db: sum of dy over batch and pixels.
        let mut db = Array1::<f32>::zeros(cout);
        for row in dy.chunks(cout) {
            for (d, v) in db.iter_mut().zip(row) {
                *d += v;
            }
        }

        // dx and per-group partial kernel gradients, in parallel over groups of images.
        let mut dx = vec![0.0f32; n * in_len];
        let partial_kernel_grads: Vec<Vec<f32>> = dx
            .par_chunks_mut(IMAGES_PER_GROUP * in_len)
            .zip(
                x.as_slice()
                    .expect("stored contiguous")
                    .par_chunks(IMAGES_PER_GROUP * in_len),
            )
            .zip(dy.par_chunks(IMAGES_PER_GROUP * out_len))
            .map(|((dx_group, x_group), dy_group)| {
                let mut dkernel = vec![0.0f32; k * cout];
                let mut col = vec![0.0f32; m * k];
                let mut dcol = vec![0.0f32; m * k];
                for ((dx_n, x_n), dy_n) in dx_group
                    .chunks_mut(in_len)
                    .zip(x_group.chunks(in_len))
                    .zip(dy_group.chunks(out_len))
                {
                    im2col(x_n, &g, &mut col);
                    // dK̂ += colᵀ · dY        [k, m] · [m, cout]
                    gemm(k, m, cout, &col, Op::T, dy_n, Op::N, 1.0, &mut dkernel);
                    // dcol = dY · K̂ᵀ          [m, cout] · [cout, k]
                    gemm(m, cout, k, dy_n, Op::N, kernel, Op::T, 0.0, &mut dcol);
                    col2im(&dcol, &g, dx_n);
                }
                dkernel
            })
            .collect();

        let mut dkernel = vec![0.0f32; k * cout];
        for partial in &partial_kernel_grads {
            for (d, p) in dkernel.iter_mut().zip(partial) {
                *d += p;
            }
        }
        self.kernel.grad =
            Tensor::from_shape_vec(self.kernel.value.raw_dim(), dkernel).expect("kernel size");
        self.bias.grad = db.into_dyn();
        Ok(Tensor::from_shape_vec(IxDyn(&[n, g.h, g.w, g.c]), dx).expect("input size"))
    }
    // ANCHOR_END: backward

    fn params(&self) -> Vec<&Param> {
        vec![&self.kernel, &self.bias]
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![&mut self.kernel, &mut self.bias]
    }
}
