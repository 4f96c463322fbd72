//! The convolution engine: forward pass, input gradient and kernel gradient of a stride-1 NHWC
//! convolution, on flat row-major slices, the way [`crate::nn::Conv2d`] calls them.
//!
//! - [`conv_forward`]: `y = bias + im2col(x) · K̂` (per image `Y = col(x)·K̂ + b`);
//! - [`conv_input_gradient`]: `dx` = `dy` convolved with the flipped kernel, by the same engine;
//! - [`conv_kernel_gradient`]: `dK̂ = im2col(x)ᵀ · dY`, summed over every output row.
//!
//! **Three engines for the matrix product.** [`conv_engine`] says which one a shape takes:
//! [`ConvEngine::Im2colGemm`] ([`conv_im2col_gemm`], the one to read first: fill a band's
//! im2col rows, multiply them with [`gemm`]) or, on x86-64 CPUs that have them, one of two
//! micro-kernels that read the im2col rows in place from the input:
//! [`ConvEngine::Avx512MicroKernel`] ([`super::micro_kernel_avx512`]) where the CPU has
//! AVX-512F, [`ConvEngine::Avx2MicroKernel`] ([`super::micro_kernel_avx2`]) where it has AVX2
//! and FMA. All compute the same sums; tests hold them to the definition, and the two
//! micro-kernels to each other bit for bit. [`conv_forward_on`] and [`conv_input_gradient_on`]
//! run a given engine instead of the chosen one, to compare them.

use super::bands::{band_rows, start_from_bias};
use super::channel_maps::{apply_channel_maps, ChannelMap};
use super::gemm::{gemm, par_gemm, Op};
use super::im2col::{im2col_rows, ConvGeometry};
use super::implicit_im2col::{automatic_micro_kernel, convolve_packed, MicroKernel, PackedKernel};
use super::implicit_kernel_gradient::{implicit_kernel_gradient, implicit_kernel_gradient_applies};
use super::parallel::{parallel_blocks, parallel_output, sum_in_order};
use super::winograd::{conv_winograd_prepared, winograd_applies, WinogradKernel};
use super::winograd_kernel_gradient::{winograd_kernel_gradient, winograd_kernel_gradient_applies};
use crate::error::{Error, Result};
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
    /// The AVX-512 micro-kernel reading im2col rows in place ([`super::micro_kernel_avx512`]).
    Avx512MicroKernel,
    /// The 6×16 AVX2/FMA micro-kernel reading im2col rows in place
    /// ([`super::micro_kernel_avx2`]).
    Avx2MicroKernel,
    /// Bands of im2col rows multiplied by `matrixmultiply`'s GEMM ([`conv_im2col_gemm`]).
    Im2colGemm,
}

impl ConvEngine {
    /// The micro-kernel this engine runs, if it is one.
    pub fn micro_kernel(self) -> Option<MicroKernel> {
        match self {
            ConvEngine::Avx512MicroKernel => Some(MicroKernel::Avx512),
            ConvEngine::Avx2MicroKernel => Some(MicroKernel::Avx2),
            ConvEngine::Im2colGemm => None,
        }
    }

    /// The engine that runs `micro_kernel`.
    pub fn of(micro_kernel: MicroKernel) -> Self {
        match micro_kernel {
            MicroKernel::Avx512 => ConvEngine::Avx512MicroKernel,
            MicroKernel::Avx2 => ConvEngine::Avx2MicroKernel,
        }
    }

    /// Whether the engine can run here at all: the portable one always, a micro-kernel on CPUs
    /// with its instructions ([`MicroKernel::cpu_has_it`]), whatever the environment variables.
    pub fn cpu_has_it(self) -> bool {
        self.micro_kernel().is_none_or(MicroKernel::cpu_has_it)
    }

    /// Its name as benches and `lumbar bench` print it, e.g. `AVX-512 micro-kernel 14×32` or
    /// `im2col + GEMM`.
    pub fn name(self) -> String {
        match self.micro_kernel() {
            Some(micro_kernel) => micro_kernel.name(),
            None => "im2col + GEMM".to_string(),
        }
    }
}

/// The engine a product `[rows, patch_len] · [patch_len, cout]` takes: the micro-kernel of
/// [`automatic_micro_kernel`] (AVX-512 if the CPU has AVX-512F, else AVX2 if it has AVX2 and
/// FMA; none with `LUMBAR_PORTABLE_GEMM` set, AVX2 with `LUMBAR_NO_AVX512` set) when `cout` is
/// a multiple of 16 up to that micro-kernel's [`MicroKernel::max_channels`] and there is an
/// inner dimension at all (`patch_len ≥ 1`); otherwise im2col + GEMM. `patch_len` is
/// `kh·kw·cin` for the forward pass and `kh·kw·cout` for the input gradient (whose output has
/// `cin` channels).
pub fn conv_engine(patch_len: usize, cout: usize) -> ConvEngine {
    match automatic_micro_kernel() {
        Some(micro_kernel) if micro_kernel.takes(patch_len, cout) => ConvEngine::of(micro_kernel),
        _ => ConvEngine::Im2colGemm,
    }
}

/// The name of the engine a convolution with geometry `g` into `cout` channels runs on, as
/// `lumbar bench` prints it: `Winograd F(2×2, 3×3) + …` when [`winograd_applies`], else the
/// [`conv_engine`] of its product, e.g. `AVX-512 micro-kernel 14×32` or `im2col + GEMM`.
pub fn conv_engine_name(g: &ConvGeometry, cout: usize) -> String {
    if winograd_applies(g, cout) {
        let products = automatic_micro_kernel().map_or("matrixmultiply".into(), |m| m.name());
        return format!("Winograd F(2×2, 3×3) + {products}");
    }
    conv_engine(g.patch_len(), cout).name()
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
    conv_forward_then(x, g, n, kernel, cout, bias, &[])
}

/// [`conv_forward`] followed by the per-channel maps `then` ([`ChannelMap`]: ReLU, batch norm
/// with fixed statistics), applied to each band of the output right after it is computed,
/// while it is in the cache: the forward-only path's fusion
/// ([`crate::nn::Sequential::infer`]).
pub fn conv_forward_then(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
    then: &[ChannelMap],
) -> Vec<f32> {
    let prepared = PreparedKernel::new(g, kernel, cout);
    conv_forward_prepared(x, g, n, &prepared, bias, then)
}

/// A kernel prepared for the engine that will run a convolution of geometry `g`: transformed
/// and packed for Winograd's path, packed for a micro-kernel, or a plain copy for im2col +
/// GEMM. [`conv_forward_then`] prepares one at every call; inference can keep one for as long
/// as the weights stay the same (`Conv2d::infer` does).
pub enum PreparedKernel {
    /// For [`conv_winograd_prepared`].
    Winograd(WinogradKernel),
    /// For [`convolve_packed`].
    Packed(PackedKernel),
    /// For [`conv_im2col_gemm`]: the `[kh·kw·c, cout]` kernel and `cout`.
    Plain(Vec<f32>, usize),
}

impl PreparedKernel {
    /// Prepare `kernel` (`[kh·kw·g.c, cout]` row-major) for the engine a convolution of
    /// geometry `g` into `cout` channels takes ([`conv_engine_name`]).
    pub fn new(g: &ConvGeometry, kernel: &[f32], cout: usize) -> Self {
        if winograd_applies(g, cout) {
            return PreparedKernel::Winograd(WinogradKernel::new(
                automatic_micro_kernel(),
                kernel,
                g.c,
                cout,
            ));
        }
        match PackedKernel::new(kernel, g.patch_len(), cout) {
            Some(packed) => PreparedKernel::Packed(packed),
            None => PreparedKernel::Plain(kernel.to_vec(), cout),
        }
    }
}

/// `y = bias + x ⊛ kernel`, then the maps `then`, with a kernel prepared for geometry `g`
/// ([`PreparedKernel::new`]).
///
/// # Panics
/// If `prepared` was made for another geometry's engine or channel count (a bug in the
/// caller).
pub fn conv_forward_prepared(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    prepared: &PreparedKernel,
    bias: Option<&[f32]>,
    then: &[ChannelMap],
) -> Vec<f32> {
    match prepared {
        PreparedKernel::Winograd(kernel) => conv_winograd_prepared(kernel, x, g, n, bias, then),
        PreparedKernel::Packed(packed) => convolve_packed(x, g, n, packed, bias, then),
        PreparedKernel::Plain(kernel, cout) => conv_im2col_gemm(x, g, n, kernel, *cout, bias, then),
    }
}

/// [`conv_forward`] on `engine` instead of the one [`conv_engine`] chooses, to compare engines
/// (tests, benches). A micro-kernel runs any `cout` that is a multiple of 16, also above its
/// [`MicroKernel::max_channels`].
///
/// # Errors
/// When this CPU lacks the engine's instructions, or it is a micro-kernel and `cout` is not a
/// positive multiple of 16 (or the kernel is empty).
pub fn conv_forward_on(
    engine: ConvEngine,
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let Some(micro_kernel) = engine.micro_kernel() else {
        return Ok(conv_im2col_gemm(x, g, n, kernel, cout, bias, &[]));
    };
    let k = g.patch_len();
    match PackedKernel::for_micro_kernel(micro_kernel, kernel, k, cout) {
        Some(packed) => Ok(convolve_packed(x, g, n, &packed, bias, &[])),
        None if !micro_kernel.cpu_has_it() => Err(Error::invalid(format!(
            "the {} cannot run: this CPU lacks its instructions",
            engine.name()
        ))),
        None => Err(Error::invalid(format!(
            "the {} cannot compute a [{k}, {cout}] kernel: it needs a positive multiple of 16 output channels and at least one kernel row",
            engine.name()
        ))),
    }
}

// ANCHOR: convolve
/// The portable engine, the one to read first: band by band in parallel, fill the band's
/// im2col rows, then multiply them by the kernel with [`gemm`] (and apply the per-channel maps
/// `then`, none in training).
pub fn conv_im2col_gemm(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
    then: &[ChannelMap],
) -> Vec<f32> {
    let band = band_rows(g.patch_len(), cout, n * g.out_pixels());
    conv_im2col_gemm_in_bands(x, g, n, kernel, cout, bias, then, band)
}

/// [`conv_im2col_gemm`] in bands of `band` output rows instead of [`band_rows`]' (chapter 13's
/// example times the rule before its change 2 with it). The result does not depend on `band`
/// beyond rounding: each output value is one product of the same row and column.
#[allow(clippy::too_many_arguments)]
pub fn conv_im2col_gemm_in_bands(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
    then: &[ChannelMap],
    band: usize,
) -> Vec<f32> {
    let k = g.patch_len();
    let band = band.max(1);
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
        apply_channel_maps(y_band.written_mut(), cout, then);
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
    let (backward, flipped) = input_gradient_convolution(g, kernel, (cin, cout));
    conv_forward(dy, &backward, n, &flipped, cin, None)
}

/// [`conv_input_gradient`] on `engine` instead of the one [`conv_engine`] chooses (the
/// engine of a convolution of `kh·kw·cout`-value rows into `cin` channels), to compare
/// engines.
///
/// # Errors
/// As [`conv_forward_on`], for `cin` output channels.
pub fn conv_input_gradient_on(
    engine: ConvEngine,
    dy: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    (cin, cout): (usize, usize),
) -> Result<Vec<f32>> {
    let (backward, flipped) = input_gradient_convolution(g, kernel, (cin, cout));
    conv_forward_on(engine, dy, &backward, n, &flipped, cin, None)
}

/// The convolution that computes the input gradient of one with geometry `g` and kernel
/// `[kh, kw, cin, cout]`: its geometry (`dy`'s `ho × wo × cout` in, `h × w` out, padded by
/// `(kh−1−pt, kw−1−pl)`) and its kernel ([`flipped_kernel`]).
fn input_gradient_convolution(
    g: &ConvGeometry,
    kernel: &[f32],
    (cin, cout): (usize, usize),
) -> (ConvGeometry, Vec<f32>) {
    let backward = g.for_input_gradient(cout);
    (backward, flipped_kernel(kernel, (g.kh, g.kw, cin, cout)))
}

/// The kernel for the input gradient: rotated by 180° in space, input and output channels
/// swapped: `flipped[ky, kx, o, c] = K[kh−1−ky, kw−1−kx, c, o]`, as a `[kh·kw·cout, cin]`
/// matrix, for a row-major kernel `K` of shape `[kh, kw, cin, cout]`.
///
/// For each kernel position this is the transpose of a `[cin, cout]` matrix, done every
/// backward pass: for `conv2d_9` (512 → 512) 2.4 million values. Written value after value, as
/// [`crate::nn::reference::conv2d::flipped_kernel`] does, each write lands `cin` values after
/// the last, in another cache line: the flip of `conv2d_9` took 6.4–6.9 ms, longer than some
/// whole convolutions of a 64×64 step. So it is transposed in [`FLIP_TILE`] × [`FLIP_TILE`]
/// tiles, whose rows and columns both stay in the L1 cache, by blocks of output rows in
/// parallel: the network's ten kernels in 3.8 ms on one thread instead of 9.7. The same values
/// land in the same places (tests/engine_flipped_kernel.rs).
pub fn flipped_kernel(
    kernel: &[f32],
    (kh, kw, cin, cout): (usize, usize, usize, usize),
) -> Vec<f32> {
    assert_eq!(
        kernel.len(),
        kh * kw * cin * cout,
        "flipped_kernel: kernel length"
    );
    let rows = flip_rows_per_block(cout);
    let blocks_per_position = cout / rows;
    // Block `b`: output rows `first..first + rows` (output channels) of kernel position
    // `b / blocks_per_position`, each row `cin` values.
    parallel_blocks(kernel.len(), rows * cin, |block, out| {
        let position = block / blocks_per_position;
        let first = (block % blocks_per_position) * rows;
        let (ky, kx) = (position / kw, position % kw);
        let source_position = (kh - 1 - ky) * kw + (kw - 1 - kx);
        let source = &kernel[source_position * cin * cout..][..cin * cout];
        for c0 in (0..cin).step_by(FLIP_TILE) {
            let columns = c0..(c0 + FLIP_TILE).min(cin);
            for (row, o) in (first..first + rows).enumerate() {
                for c in columns.clone() {
                    out[row * cin + c] = source[c * cout + o];
                }
            }
        }
    })
}

/// Side of the square tiles [`flipped_kernel`] transposes: 16 rows of 16 values read and 16
/// written. The rows of a tile lie `cout` (or `cin`) values apart, 2 KiB for 512 channels, and
/// such power-of-two strides share a few sets of the L1 cache; with 32-value tiles they evicted
/// each other (512 → 512 took 3.6 ms on one thread, 2.0 ms with 16, 2.1 ms with 8; the plain
/// loop 6.4 ms; AMD EPYC Zen 4).
pub const FLIP_TILE: usize = 16;

/// Output rows per parallel block of [`flipped_kernel`]: the largest divisor of `cout` up to
/// [`FLIP_TILE`], so that a block never spans two kernel positions (1 when `cout` is 0: there
/// is nothing to flip).
fn flip_rows_per_block(cout: usize) -> usize {
    (1..=FLIP_TILE.min(cout))
        .rev()
        .find(|rows| cout.is_multiple_of(*rows))
        .unwrap_or(1)
}

/// The kernel gradient `dK̂ = im2col(x)ᵀ · dy` (`[kh·kw·g.c, cout]`), a sum over every output
/// row of the batch: by Winograd's transforms where [`winograd_kernel_gradient_applies`], else
/// by the AVX-512 micro-kernel of [`super::implicit_kernel_gradient`] where
/// [`implicit_kernel_gradient_applies`], else by [`conv_kernel_gradient_direct`].
pub fn conv_kernel_gradient(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    dy: &[f32],
    cout: usize,
) -> Vec<f32> {
    if winograd_kernel_gradient_applies(g, cout) {
        return winograd_kernel_gradient(x, g, n, dy, cout);
    }
    if implicit_kernel_gradient_applies(g, cout) {
        return implicit_kernel_gradient(x, g, n, dy, cout);
    }
    conv_kernel_gradient_direct(x, g, n, dy, cout)
}

/// [`conv_kernel_gradient`] by im2col and GEMM, also where Winograd's transforms would be
/// taken (chapter 13's example compares the two with it). Small im2col matrices (up to
/// [`WHOLE_COL_FLOATS`]) are built whole and multiplied once, the GEMM split over the rows of
/// `dK̂`; larger ones are summed band by band in [`WEIGHT_GRAD_PARTS`] partial sums computed in
/// parallel and added in order.
pub fn conv_kernel_gradient_direct(
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
    sum_in_order(&partials, k * cout)
}
