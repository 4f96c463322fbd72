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
//! **The input gradient is itself a convolution**: `dx[n,y,x,c] = Σ_{ky,kx,o}
//! dy[n, y−ky+pt, x−kx+pl, o] · K[ky,kx,c,o]`, i.e. `dy` convolved with the kernel rotated by
//! 180° and with input and output channels swapped, padded by `(kh−1−pt, kw−1−pl)`. So forward
//! and backward-data share one engine, [`convolve`].
//!
//! **Bands and parallelism.** The im2col matrix of a whole batch would be `kh·kw` times the
//! size of the input (gigabytes at 256×256), so it is never built. The output rows are cut into
//! bands of [`band_rows`] rows; one rayon task fills the im2col rows of its band (a few hundred
//! kilobytes, which stay in the CPU cache) and multiplies them by the kernel straight away. Every
//! output value is computed by one task, so the result does not depend on the thread count. The
//! kernel gradient sums over all rows: it is split into a fixed number of partial sums
//! ([`WEIGHT_GRAD_PARTS`]) added in order, again independent of the thread count.
//!
//! **Two engines.** [`convolve_im2col`] is the one described here, the one to read first. On
//! CPUs with AVX2 and FMA, [`convolve`] takes the fast path of [`super::conv2d_avx2`] instead,
//! which computes the same sums without copying im2col rows at all.
//!
//! The plain nested-loop version lives in [`super::conv2d_naive`]; tests hold all three equal.

use super::conv2d_avx2::{convolve_packed, PackedKernel};
use super::gemm::{gemm, par_gemm, Op};
use super::im2col::{im2col_rows, ConvGeometry};
use super::init::glorot_uniform;
use super::layer::{no_forward_error, shape_error, Layer, Mode, Param, Tensor};
use super::parallel_output::{parallel_output, OutputChunk};
use crate::error::Result;
use ndarray::{Array1, IxDyn};
use rand::Rng;
use rayon::prelude::*;
use std::cell::RefCell;

/// Target size (in `f32` values) of one band of im2col rows: 256 KiB, an L2 cache's worth.
pub const BAND_FLOATS: usize = 1 << 16;
/// Fewest rows in a band, so that each GEMM call has enough rows to be efficient.
pub const MIN_BAND_ROWS: usize = 128;
/// Number of partial sums of the kernel gradient (fixed, for thread-independent results).
pub const WEIGHT_GRAD_PARTS: usize = 8;
/// Up to this many values, the kernel gradient builds the batch's whole im2col matrix and does
/// one GEMM with every row as the inner dimension (the deep layers, whose images are small).
pub const WHOLE_COL_FLOATS: usize = 1 << 22;

// ANCHOR: band_rows
/// Bands a convolution is cut into, at least, when it has enough rows: work for every core.
pub const MIN_BANDS: usize = 8;

/// Rows of the im2col matrix per band, for rows of `patch_len` values, `cout` output channels
/// and `total_rows` output rows in the batch.
///
/// A band of im2col rows should fit in the cache ([`BAND_FLOATS`]), but every GEMM call also
/// re-packs the whole `[patch_len, cout]` kernel, so a band must not be much shorter than the
/// kernel is wide: with at least `2·cout` rows, packing the kernel costs at most half as much
/// as packing the band. Bands stay short enough that there are [`MIN_BANDS`] of them. The
/// result depends on the shapes only, never on the thread count.
pub fn band_rows(patch_len: usize, cout: usize, total_rows: usize) -> usize {
    let cache_rows = (BAND_FLOATS / patch_len.max(1)).max(MIN_BAND_ROWS);
    let packing_rows = (2 * cout).min(total_rows.div_ceil(MIN_BANDS));
    cache_rows.max(packing_rows)
}
// ANCHOR_END: band_rows

/// The convolution engine: `y[rows, cout] = bias + im2col(x) · kernel`, where `x` is a batch
/// of `n` images with geometry `g` and `kernel` is `[kh·kw·g.c, cout]` row-major. Without a bias
/// the output starts from zero.
///
/// On CPUs with AVX2 and FMA (and `cout` a multiple of 16) it runs the fast path of
/// [`super::conv2d_avx2`], which reads the im2col rows in place; elsewhere the portable
/// [`convolve_im2col`]. Both compute the same sums, tested against the naive definition.
pub fn convolve(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    match PackedKernel::new(kernel, g.patch_len(), cout) {
        Some(packed) => convolve_packed(x, g, n, &packed, bias),
        None => convolve_im2col(x, g, n, kernel, cout, bias),
    }
}

// ANCHOR: convolve
/// The portable convolution engine, the one to read first: band by band in parallel, fill the
/// band's im2col rows, then multiply them by the kernel with [`gemm`].
pub fn convolve_im2col(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let k = g.patch_len();
    let band = band_rows(k, cout, n * g.out_pixels());
    parallel_output(n * g.out_pixels() * cout, band * cout, |index, y_band| {
        let rows = y_band.len() / cout;
        // y starts as the bias in every row (β = 1 below adds the product to it), or as zeros.
        start_from_bias(y_band, bias);
        let beta = if bias.is_some() { 1.0 } else { 0.0 };
        COL_BAND.with_borrow_mut(|col| {
            col.resize(rows * k, 0.0);
            im2col_rows(x, g, index * band, col);
            gemm(
                rows,
                k,
                cout,
                col,
                Op::N,
                kernel,
                Op::N,
                beta,
                y_band.written_mut(),
            );
        });
    })
}

/// Fill a band of the output with the bias in every row (rows of `bias.len()` values), or with
/// zeros without a bias: the value the band's matrix product is then added to.
pub fn start_from_bias(y_band: &mut OutputChunk, bias: Option<&[f32]>) {
    match bias {
        Some(bias) => (0..y_band.len() / bias.len()).for_each(|_| y_band.push_slice(bias)),
        None => y_band.push_iter(std::iter::repeat(0.0)),
    }
}

thread_local! {
    /// Each worker thread's im2col band, kept from one band (and one step) to the next, so a
    /// convolution allocates nothing per band.
    static COL_BAND: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}
// ANCHOR_END: convolve

/// The kernel gradient `dK̂ = im2col(x)ᵀ · dy` (`[kh·kw·g.c, cout]`), a sum over every output
/// row of the batch. Small im2col matrices (up to [`WHOLE_COL_FLOATS`]) are built whole and
/// multiplied once, the GEMM split over the rows of `dK̂`; larger ones are summed band by band
/// in [`WEIGHT_GRAD_PARTS`] partial sums computed in parallel and added in order.
pub fn kernel_gradient(x: &[f32], g: &ConvGeometry, n: usize, dy: &[f32], cout: usize) -> Vec<f32> {
    let k = g.patch_len();
    let rows = n * g.out_pixels();
    let band = band_rows(k, cout, rows);
    if rows * k <= WHOLE_COL_FLOATS {
        let mut col = vec![0.0f32; rows * k];
        col.par_chunks_mut(band * k)
            .enumerate()
            .for_each(|(index, col_band)| im2col_rows(x, g, index * band, col_band));
        let mut dkernel = vec![0.0f32; k * cout];
        // dK̂ = colᵀ · dY     [k, rows] · [rows, cout]
        par_gemm(k, rows, cout, &col, Op::T, dy, Op::N, 0.0, &mut dkernel);
        return dkernel;
    }
    let bands = rows.div_ceil(band);
    let parts = bands.min(WEIGHT_GRAD_PARTS);
    let bands_per_part = bands.div_ceil(parts);
    let partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|part| {
            let mut dkernel = vec![0.0f32; k * cout];
            let mut col = Vec::new();
            for b in part * bands_per_part..((part + 1) * bands_per_part).min(bands) {
                let first = b * band;
                let count = band.min(rows - first);
                col.resize(count * k, 0.0);
                im2col_rows(x, g, first, &mut col);
                // dK̂ += colᵀ · dY     [k, count] · [count, cout]
                let dy_band = &dy[first * cout..(first + count) * cout];
                gemm(
                    k,
                    count,
                    cout,
                    &col,
                    Op::T,
                    dy_band,
                    Op::N,
                    1.0,
                    &mut dkernel,
                );
            }
            dkernel
        })
        .collect();
    let mut total = vec![0.0f32; k * cout];
    for partial in &partials {
        total.iter_mut().zip(partial).for_each(|(t, p)| *t += p);
    }
    total
}

/// The kernel for the input gradient: rotated by 180° in space, input and output channels
/// swapped: `flipped[ky, kx, o, c] = K[kh−1−ky, kw−1−kx, c, o]`, as a `[kh·kw·cout, cin]` matrix.
pub fn flipped_kernel(kernel: &Tensor) -> Vec<f32> {
    let s = kernel.shape();
    let (kh, kw, cin, cout) = (s[0], s[1], s[2], s[3]);
    let mut flipped = vec![0.0f32; kernel.len()];
    for ky in 0..kh {
        for kx in 0..kw {
            for c in 0..cin {
                for o in 0..cout {
                    flipped[((ky * kw + kx) * cout + o) * cin + c] =
                        kernel[[kh - 1 - ky, kw - 1 - kx, c, o]];
                }
            }
        }
    }
    flipped
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
        // ANCHOR: same_padding
        let (pad_top, pad_left, ho, wo) = match self.padding {
            Padding::Same => ((kh - 1) / 2, (kw - 1) / 2, h, w),
            Padding::Valid => {
                if h < kh || w < kw {
                    return Err(shape_error(self, expected, image));
                }
                (0, 0, h - kh + 1, w - kw + 1)
            }
        };
        // ANCHOR_END: same_padding
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

    // ANCHOR: parameter_gradients
    /// Check the upstream gradient `dy` `[N, Ho, Wo, Cout]` and store `dK` and `db` for it.
    fn parameter_gradients(&mut self, dy: &Tensor) -> Result<()> {
        let x = self.input.as_ref().ok_or_else(|| no_forward_error(self))?;
        let g = self.batch_geometry(x)?;
        let cout = self.dims().3;
        let n = x.shape()[0];
        let expected = [n, g.ho, g.wo, cout];
        if dy.shape() != expected {
            return Err(shape_error(self, expected, dy.shape()));
        }
        let dy = dy.as_standard_layout();
        let dy_values = dy.as_slice().expect("standard layout");

        // db[o] = Σ over batch and pixels of dy[…, o].
        let mut db = Array1::<f32>::zeros(cout);
        for row in dy_values.chunks(cout) {
            db.iter_mut().zip(row).for_each(|(d, v)| *d += v);
        }
        // dK̂ = im2col(x)ᵀ · dY.
        let x_values = x.as_slice().expect("stored contiguous");
        let dkernel = kernel_gradient(x_values, &g, n, dy_values, cout);
        self.kernel.grad =
            Tensor::from_shape_vec(self.kernel.value.raw_dim(), dkernel).expect("kernel size");
        self.bias.grad = db.into_dyn();
        Ok(())
    }
    // ANCHOR_END: parameter_gradients

    /// Keep a copy of the input `xs` (of `shape`) for the backward pass, copied in parallel
    /// into the previous step's copy when the shape is unchanged (nothing allocated).
    fn keep_input(&mut self, xs: &[f32], shape: &[usize]) {
        const CHUNK: usize = super::parallel_output::ELEMENTS_PER_TASK;
        match &mut self.input {
            Some(kept) if kept.shape() == shape => {
                let kept = kept.as_slice_mut().expect("stored contiguous");
                kept.par_chunks_mut(CHUNK)
                    .zip(xs.par_chunks(CHUNK))
                    .for_each(|(to, from)| to.copy_from_slice(from));
            }
            _ => {
                let copy = parallel_output(xs.len(), CHUNK, |_, out| {
                    let range = out.range();
                    out.push_slice(&xs[range])
                });
                self.input = Some(Tensor::from_shape_vec(IxDyn(shape), copy).expect("same size"));
            }
        }
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
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout");
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
        let y = convolve(xs, &g, n, kernel, cout, Some(bias));
        self.keep_input(xs, x.shape());
        Ok(Tensor::from_shape_vec(IxDyn(&[n, g.ho, g.wo, cout]), y).expect("output size"))
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        self.parameter_gradients(dy)?;
        let x = self.input.as_ref().ok_or_else(|| no_forward_error(self))?;
        let g = self.batch_geometry(x)?;
        let (kh, kw, cin, cout) = self.dims();
        let n = x.shape()[0];
        // dx = dy convolved with the flipped kernel, padded by (kh−1−pt, kw−1−pl).
        let backward_geometry = ConvGeometry {
            h: g.ho,
            w: g.wo,
            c: cout,
            kh,
            kw,
            pad_top: kh - 1 - g.pad_top,
            pad_left: kw - 1 - g.pad_left,
            ho: g.h,
            wo: g.w,
        };
        let flipped = flipped_kernel(&self.kernel.value);
        let dy = dy.as_standard_layout();
        let dy = dy.as_slice().expect("standard layout");
        let dx = convolve(dy, &backward_geometry, n, &flipped, cin, None);
        Ok(Tensor::from_shape_vec(IxDyn(&[n, g.h, g.w, g.c]), dx).expect("input size"))
    }
    // ANCHOR_END: backward

    fn backward_params_only(&mut self, dy: &Tensor) -> Result<()> {
        self.parameter_gradients(dy)
    }

    fn params(&self) -> Vec<&Param> {
        vec![&self.kernel, &self.bias]
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![&mut self.kernel, &mut self.bias]
    }
}
