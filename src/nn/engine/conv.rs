//! The convolution engine: forward pass, input gradient and kernel gradient of a stride-1 NHWC
//! convolution, on flat row-major slices, the way [`crate::nn::Conv2d`] calls them.
//!
//! - [`conv_forward`]: `y = bias + im2col(x) · K̂` (per image `Y = col(x)·K̂ + b`);
//! - [`conv_input_gradient`]: `dx` = `dy` convolved with the flipped kernel, by the same engine;
//! - [`conv_kernel_gradient`]: `dK̂ = im2col(x)ᵀ · dY`, summed over every output row.
//!
//! **Two engines for the matrix product.** [`conv_engine`] says which one a shape takes:
//! [`ConvEngine::Im2colGemm`] ([`conv_im2col_gemm`], the one to read first: fill a band's
//! im2col rows, multiply them with [`gemm`]) or, on CPUs with AVX2 and FMA,
//! [`ConvEngine::Avx2MicroKernel`] ([`super::micro_kernel_avx2`], which reads the im2col rows
//! in place from the input). Both compute the same sums; tests hold them to the definition.

use super::bands::{band_rows, start_from_bias};
use super::gemm::{gemm, par_gemm, Op};
use super::im2col::{im2col_rows, ConvGeometry};
use super::micro_kernel_avx2::{convolve_packed, takes_shape, PackedKernel};
use super::parallel::parallel_output;
use rayon::prelude::*;
use std::cell::RefCell;

/// Number of partial sums of the kernel gradient (fixed, for thread-independent results).
pub const WEIGHT_GRAD_PARTS: usize = 8;
/// Up to this many values, the kernel gradient builds the batch's whole im2col matrix and does
/// one GEMM with every row as the inner dimension (the deep layers, whose images are small).
pub const WHOLE_COL_FLOATS: usize = 1 << 22;

/// Which engine computes a convolution's matrix product `im2col(x) · K̂`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvEngine {
    /// The 6×16 AVX2/FMA micro-kernel reading im2col rows in place
    /// ([`super::micro_kernel_avx2`]).
    Avx2MicroKernel,
    /// Bands of im2col rows multiplied by `matrixmultiply`'s GEMM ([`conv_im2col_gemm`]).
    Im2colGemm,
}

/// The engine a product `[rows, patch_len] · [patch_len, cout]` takes: the micro-kernel when
/// the CPU has AVX2 and FMA (and `LUMBAR_PORTABLE_GEMM` is not set), `cout` is a multiple of
/// 16 up to [`MAX_CHANNELS`](super::micro_kernel_avx2::MAX_CHANNELS) and there is an inner dimension at all (`patch_len ≥ 1`);
/// otherwise im2col + GEMM. `patch_len` is `kh·kw·cin` for the forward pass and `kh·kw·cout`
/// for the input gradient (whose output has `cin` channels).
pub fn conv_engine(patch_len: usize, cout: usize) -> ConvEngine {
    if takes_shape(patch_len, cout) {
        ConvEngine::Avx2MicroKernel
    } else {
        ConvEngine::Im2colGemm
    }
}

/// `y[rows, cout] = bias + im2col(x) · kernel`, where `x` is a batch of `n` images with
/// geometry `g` and `kernel` is `[kh·kw·g.c, cout]` row-major; without a bias the output starts
/// from zero. Runs the engine [`conv_engine`] chooses.
pub fn conv_forward(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    match PackedKernel::new(kernel, g.patch_len(), cout) {
        Some(packed) => convolve_packed(x, g, n, &packed, bias),
        None => conv_im2col_gemm(x, g, n, kernel, cout, bias),
    }
}

// ANCHOR: convolve
/// The portable engine, the one to read first: band by band in parallel, fill the band's
/// im2col rows, then multiply them by the kernel with [`gemm`].
pub fn conv_im2col_gemm(
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

thread_local! {
    /// Each worker thread's im2col band, kept from one band (and one step) to the next, so a
    /// convolution allocates nothing per band.
    static COL_BAND: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}
// ANCHOR_END: convolve

/// The input gradient `dx` (`[n, g.h, g.w, cin]`) of a convolution with geometry `g` and
/// kernel `[kh, kw, cin, cout]` (row-major), for the output gradient `dy` (`[n, g.ho, g.wo,
/// cout]`).
///
/// `dx[n,y,x,c] = Σ_{ky,kx,o} dy[n, y−ky+pt, x−kx+pl, o] · K[ky,kx,c,o]`: `dy` convolved with
/// the kernel rotated by 180° with input and output channels swapped ([`flipped_kernel`]),
/// padded by `(kh−1−pt, kw−1−pl)`, by the forward engine [`conv_forward`].
pub fn conv_input_gradient(
    dy: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    (cin, cout): (usize, usize),
) -> Vec<f32> {
    let backward = ConvGeometry {
        h: g.ho,
        w: g.wo,
        c: cout,
        kh: g.kh,
        kw: g.kw,
        pad_top: g.kh - 1 - g.pad_top,
        pad_left: g.kw - 1 - g.pad_left,
        ho: g.h,
        wo: g.w,
    };
    let flipped = flipped_kernel(kernel, (g.kh, g.kw, cin, cout));
    conv_forward(dy, &backward, n, &flipped, cin, None)
}

/// The kernel for the input gradient: rotated by 180° in space, input and output channels
/// swapped: `flipped[ky, kx, o, c] = K[kh−1−ky, kw−1−kx, c, o]`, as a `[kh·kw·cout, cin]`
/// matrix, for a row-major kernel `K` of shape `[kh, kw, cin, cout]`.
pub fn flipped_kernel(
    kernel: &[f32],
    (kh, kw, cin, cout): (usize, usize, usize, usize),
) -> Vec<f32> {
    let mut flipped = vec![0.0f32; kernel.len()];
    for ky in 0..kh {
        for kx in 0..kw {
            for c in 0..cin {
                for o in 0..cout {
                    let source = (((kh - 1 - ky) * kw + (kw - 1 - kx)) * cin + c) * cout + o;
                    flipped[((ky * kw + kx) * cout + o) * cin + c] = kernel[source];
                }
            }
        }
    }
    flipped
}

/// The kernel gradient `dK̂ = im2col(x)ᵀ · dy` (`[kh·kw·g.c, cout]`), a sum over every output
/// row of the batch. Small im2col matrices (up to [`WHOLE_COL_FLOATS`]) are built whole and
/// multiplied once, the GEMM split over the rows of `dK̂`; larger ones are summed band by band
/// in [`WEIGHT_GRAD_PARTS`] partial sums computed in parallel and added in order.
pub fn conv_kernel_gradient(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    dy: &[f32],
    cout: usize,
) -> Vec<f32> {
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
