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
//! **Batching and parallelism.** Images are processed in groups: the im2col matrices of a
//! group's images are stacked into one tall matrix `[G·Ho·Wo, kh·kw·Cin]`, so each GEMM has
//! plenty of rows even in the last blocks where an image has only 4×4 pixels. The group size
//! `G` depends only on the layer's shape (a workspace of about [`WORKSPACE_FLOATS`] values), so
//! results do not depend on the machine. im2col/col2im run one image per rayon task and the
//! GEMMs split their output rows across threads ([`par_gemm`]). im2col is recomputed in
//! backward rather than stored: storing it for a batch would take gigabytes at 256×256.
//!
//! The plain nested-loop version lives in [`super::conv2d_naive`]; a test holds both equal.

use super::gemm::{par_gemm, Op};
use super::im2col::{col2im, im2col, ConvGeometry};
use super::init::glorot_uniform;
use super::layer::{no_forward_error, shape_error, Layer, Mode, Param, Tensor};
use crate::error::Result;
use ndarray::{Array1, IxDyn};
use rand::Rng;
use rayon::prelude::*;

/// Target size (in `f32` values) of the stacked im2col matrix of one group of images.
/// A group holds `max(1, WORKSPACE_FLOATS / (Ho·Wo·kh·kw·Cin))` images.
pub const WORKSPACE_FLOATS: usize = 1 << 23;

/// How many images to stack into one im2col matrix of `per_image` values (at least 1, at most
/// the batch): about [`WORKSPACE_FLOATS`] values per group.
fn images_per_group(per_image: usize, batch: usize) -> usize {
    (WORKSPACE_FLOATS / per_image.max(1)).clamp(1, batch.max(1))
}

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
    /// Reused im2col buffer (kept between calls so a training step does not reallocate it).
    workspace: Vec<f32>,
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
            workspace: Vec::new(),
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

    fn forward(&mut self, x: &Tensor, _mode: Mode) -> Result<Tensor> {
        let g = self.batch_geometry(x)?;
        let (_, _, _, cout) = self.dims();
        let n = x.shape()[0];
        let x = x.as_standard_layout().into_owned();
        let (m, k) = (g.out_pixels(), g.patch_len());
        let (in_len, out_len) = (g.h * g.w * g.c, m * cout);
        let group = images_per_group(m * k, n);
        let mut col = std::mem::take(&mut self.workspace);
        col.resize(group * m * k, 0.0);
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

        let mut y = vec![0.0f32; n * out_len];
        let xs = x.as_slice().expect("standard layout");
        for (y_group, x_group) in y.chunks_mut(group * out_len).zip(xs.chunks(group * in_len)) {
            let rows = (x_group.len() / in_len) * m;
            let col = &mut col[..rows * k];
            // 1. im2col of every image of the group, stacked: [rows, k].
            col.par_chunks_mut(m * k)
                .zip(x_group.par_chunks(in_len))
                .for_each(|(col_n, x_n)| im2col(x_n, &g, col_n));
            // 2. Y = b + col · K̂          [rows, k] · [k, cout]
            for row in y_group.chunks_mut(cout) {
                row.copy_from_slice(bias);
            }
            par_gemm(rows, k, cout, col, Op::N, kernel, Op::N, 1.0, y_group);
        }
        self.workspace = col;
        self.input = Some(x);
        Ok(Tensor::from_shape_vec(IxDyn(&[n, g.ho, g.wo, cout]), y).expect("output size"))
    }

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
        let (m, k) = (g.out_pixels(), g.patch_len());
        let (in_len, out_len) = (g.h * g.w * g.c, m * cout);
        let group = images_per_group(m * k, n);
        let mut col = std::mem::take(&mut self.workspace);
        col.resize(group * m * k, 0.0);
        let kernel = self
            .kernel
            .value
            .as_slice()
            .expect("parameters are contiguous");

        // db: sum of dy over batch and pixels.
        let mut db = Array1::<f32>::zeros(cout);
        for row in dy.chunks(cout) {
            for (d, v) in db.iter_mut().zip(row) {
                *d += v;
            }
        }

        let mut dkernel = vec![0.0f32; k * cout];
        let mut dx = vec![0.0f32; n * in_len];
        let xs = x.as_slice().expect("stored contiguous");
        for ((dx_group, x_group), dy_group) in dx
            .chunks_mut(group * in_len)
            .zip(xs.chunks(group * in_len))
            .zip(dy.chunks(group * out_len))
        {
            let rows = (x_group.len() / in_len) * m;
            let col = &mut col[..rows * k];
            col.par_chunks_mut(m * k)
                .zip(x_group.par_chunks(in_len))
                .for_each(|(col_n, x_n)| im2col(x_n, &g, col_n));
            // dK̂ += colᵀ · dY          [k, rows] · [rows, cout]
            par_gemm(
                k,
                rows,
                cout,
                col,
                Op::T,
                dy_group,
                Op::N,
                1.0,
                &mut dkernel,
            );
            // dcol = dY · K̂ᵀ            [rows, cout] · [cout, k]   (reusing the col buffer)
            par_gemm(rows, cout, k, dy_group, Op::N, kernel, Op::T, 0.0, col);
            dx_group
                .par_chunks_mut(in_len)
                .zip(col.par_chunks(m * k))
                .for_each(|(dx_n, dcol_n)| col2im(dcol_n, &g, dx_n));
        }
        self.workspace = col;
        self.kernel.grad =
            Tensor::from_shape_vec(self.kernel.value.raw_dim(), dkernel).expect("kernel size");
        self.bias.grad = db.into_dyn();
        Ok(Tensor::from_shape_vec(IxDyn(&[n, g.h, g.w, g.c]), dx).expect("input size"))
    }

    fn params(&self) -> Vec<&Param> {
        vec![&self.kernel, &self.bias]
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![&mut self.kernel, &mut self.bias]
    }
}
