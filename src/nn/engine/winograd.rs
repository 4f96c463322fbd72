//! Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
//! Neural Networks", CVPR 2016): the same "same"-padded 3×3 convolution as
//! [`super::conv::conv_im2col_gemm`], with 2.25 times fewer multiplications.
//!
//! **The idea in one dimension.** Two outputs of a 3-tap filter `g` over four inputs `d`,
//! `y0 = d0 g0 + d1 g1 + d2 g2` and `y1 = d1 g0 + d2 g1 + d3 g2`, take 6 multiplications.
//! Winograd's F(2, 3) takes 4: with `m1 = (d0 − d2) g0`, `m2 = (d1 + d2)(g0 + g1 + g2)/2`,
//! `m3 = (d2 − d1)(g0 − g1 + g2)/2`, `m4 = (d1 − d3) g2`, the outputs are `y0 = m1 + m2 + m3`
//! and `y1 = m2 − m3 − m4`. In matrices, `y = Aᵀ [(G g) ⊙ (Bᵀ d)]` with
//!
//! ```text
//!      ⎡1  0 −1  0⎤        ⎡ 1    0    0 ⎤
//! Bᵀ = ⎢0  1  1  0⎥    G = ⎢1/2  1/2  1/2⎥    Aᵀ = ⎡1  1  1  0⎤
//!      ⎢0 −1  1  0⎥        ⎢1/2 −1/2  1/2⎥         ⎣0  1 −1 −1⎦
//!      ⎣0  1  0 −1⎦        ⎣ 0    0    1 ⎦
//! ```
//!
//! **In two dimensions** a 2×2 block of outputs comes from a 4×4 tile of inputs `d`:
//! `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, 16 multiplications instead of 36. Summed over input
//! channels, the 16 element-wise products become 16 matrix products, one per position `ξ` of
//! the 4×4 tile: `M_ξ[tiles, cout] = V_ξ[tiles, cin] · U_ξ[cin, cout]`, where `V = Bᵀ d B` is
//! the transformed input and `U = G g Gᵀ` the transformed kernel. So the work is 16·cin·cout
//! multiply-adds per 4 output pixels, against 9·cin·cout per pixel for the direct convolution.
//!
//! **How this file does it.** The output is cut into bands of whole tile rows (two image rows
//! each); each rayon task computes one band, [`tiles_per_block`] tiles at a time: transform
//! their inputs into 16 matrices `V_ξ` (`transform_input`), multiply each by `U_ξ` with the
//! engine's micro-kernel ([`super::implicit_im2col::PackedKernel::multiply_add`], or
//! `matrixmultiply` on CPUs without one), and transform the 16 products back into 2×2 output
//! blocks, adding the bias (`transform_output`). The transforms work on 16 channels at a time
//! (NHWC keeps them contiguous), compiled for AVX-512 or AVX2 where the CPU has them.
//!
//! **Exactness.** In exact arithmetic the result is the convolution's; in `f32` the
//! transforms add rounding (the matrices' entries are 0, ±1 and ±1/2, so it stays small). The
//! tests (`tests/engine_winograd.rs`) hold it to the reference convolution within `1e-5` of
//! the sum of absolute products behind each output (the direct engines, which only reorder the
//! same products, are held to a tighter, random-walk bound in `tests/engine_branches.rs`).
//!
//! **When it is used** ([`winograd_applies`]): 3×3 kernels, stride 1, one pixel of padding on
//! every side, even height and width, and at least [`MIN_CHANNELS`] input and output channels,
//! multiples of 16. In the paper's network: the forward passes and input gradients of
//! `conv2d_3` (block 2's second layer) to `conv2d_9`; block 1 and `conv2d_2` (32 channels in or
//! out) stay direct. The kernel gradient has its own module and threshold
//! ([`super::winograd_kernel_gradient`]). `LUMBAR_NO_WINOGRAD=1` turns both off.

use super::bands::MIN_BANDS;
use super::channel_maps::{apply_channel_maps, ChannelMap};
use super::gemm::{gemm, Op};
use super::im2col::ConvGeometry;
use super::implicit_im2col::{automatic_micro_kernel, MicroKernel, PackedKernel};
use super::parallel::parallel_output;
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::OnceLock;

/// Channels the transforms handle at once (one AVX-512 register of `f32`, two AVX2 ones).
pub const LANES: usize = 16;

/// Fewest input and output channels for which [`winograd_applies`]: with fewer, each of the 16
/// products has too short an inner dimension to pay for the transforms.
pub const MIN_CHANNELS: usize = 64;

/// Target size, in `f32`, of one block's transformed inputs and products together
/// (`16·tiles·(cin + cout)`): 1.5 MiB, within a 2 MiB L2 cache.
pub const BLOCK_FLOATS: usize = 3 << 17;

/// Fewest tiles in a block, so that each row of `U_ξ` read from the cache serves enough
/// multiply-adds even in the 512-channel layers.
pub const MIN_TILES_PER_BLOCK: usize = 64;

/// Environment variable that turns the Winograd path off (any value but empty or `0`).
pub const NO_WINOGRAD_ENV: &str = "LUMBAR_NO_WINOGRAD";

/// Whether a convolution with geometry `g` and `cout` output channels takes the Winograd path:
/// the path can compute it ([`winograd_can_compute`]), it has at least [`MIN_CHANNELS`] input
/// and output channels, and `LUMBAR_NO_WINOGRAD` is unset.
pub fn winograd_applies(g: &ConvGeometry, cout: usize) -> bool {
    winograd_can_compute(g, cout)
        && g.c >= MIN_CHANNELS
        && cout >= MIN_CHANNELS
        && !winograd_turned_off()
}

/// The shapes the Winograd path computes: a 3×3 kernel with one pixel of padding on every side
/// (output as large as the input), even height and width, and input and output channels
/// positive multiples of [`LANES`].
pub fn winograd_can_compute(g: &ConvGeometry, cout: usize) -> bool {
    let channels_fit = |c: usize| c > 0 && c.is_multiple_of(LANES);
    g.kh == 3
        && g.kw == 3
        && g.pad_top == 1
        && g.pad_left == 1
        && g.ho == g.h
        && g.wo == g.w
        && g.h >= 2
        && g.w >= 2
        && g.h.is_multiple_of(2)
        && g.w.is_multiple_of(2)
        && channels_fit(g.c)
        && channels_fit(cout)
}

/// Whether `LUMBAR_NO_WINOGRAD` is set (read once).
fn winograd_turned_off() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| {
        std::env::var(NO_WINOGRAD_ENV).is_ok_and(|value| !value.is_empty() && value != "0")
    })
}

/// Tiles transformed and multiplied together: as many as fit [`BLOCK_FLOATS`], at least
/// [`MIN_TILES_PER_BLOCK`].
pub fn tiles_per_block(cin: usize, cout: usize) -> usize {
    (BLOCK_FLOATS / (16 * (cin + cout)).max(1)).max(MIN_TILES_PER_BLOCK)
}

/// Whole tile rows per band, for `tiles_per_row` tiles in a row, `tile_rows` rows in the batch
/// and blocks of `block_tiles` tiles: about one block, cut so that there are [`MIN_BANDS`]
/// bands, but never below [`MIN_TILES_PER_BLOCK`] tiles per band (in block 5 at 64×64 a batch
/// has only 128 tiles; eight bands of 16 would stream each megabyte-sized `U_ξ` for 16 rows).
/// Shapes alone decide it, never the thread count.
pub fn tile_rows_per_band(tiles_per_row: usize, tile_rows: usize, block_tiles: usize) -> usize {
    let per_block = (block_tiles / tiles_per_row).max(1);
    let for_bands = tile_rows.div_ceil(MIN_BANDS);
    let fewest = MIN_TILES_PER_BLOCK.div_ceil(tiles_per_row);
    per_block.min(for_bands.max(fewest)).max(1)
}

// ANCHOR: kernel_transform
/// The matrix `G` of F(2, 3): row `i` says how the three kernel taps combine into value `i` of
/// the transformed kernel.
pub(super) const G: [[f32; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];

/// One of the 16 matrices of the transformed kernel `U = G g Gᵀ` of a `[3, 3, cin, cout]`
/// row-major kernel: `U_ξ[cin, cout]` for position `ξ = 4·i + j` (row `i`, column `j` of the
/// 4×4 tile), `U_ξ = Σ_{a,b} G[i][a] · G[j][b] · g[a][b]`, each `g[a][b]` being the
/// `[cin, cout]` matrix of kernel tap `(a, b)`.
pub fn transform_kernel_at(kernel: &[f32], cin: usize, cout: usize, xi: usize) -> Vec<f32> {
    let plane = cin * cout;
    assert!(
        kernel.len() >= 9 * plane,
        "kernel must be [3, 3, cin, cout]"
    );
    assert!(xi < 16, "a 4×4 tile has 16 positions");
    let (i, j) = (xi / 4, xi % 4);
    let mut u = vec![0.0f32; plane];
    for a in 0..3 {
        for b in 0..3 {
            let weight = G[i][a] * G[j][b];
            if weight != 0.0 {
                let g_ab = &kernel[(3 * a + b) * plane..][..plane];
                u.iter_mut().zip(g_ab).for_each(|(u, g)| *u += weight * g);
            }
        }
    }
    u
}

/// All 16 matrices of the transformed kernel ([`transform_kernel_at`]), `[16, cin, cout]`
/// row-major.
pub fn transform_kernel(kernel: &[f32], cin: usize, cout: usize) -> Vec<f32> {
    (0..16)
        .flat_map(|xi| transform_kernel_at(kernel, cin, cout, xi))
        .collect()
}
// ANCHOR_END: kernel_transform

/// How the 16 products `V_ξ · U_ξ` are computed: with the micro-kernel (one packed matrix per
/// `ξ`) or, on CPUs without one, with `matrixmultiply`.
enum Products {
    Packed(Vec<PackedKernel>),
    Portable(Vec<f32>),
}

/// A `[3, 3, cin, cout]` kernel prepared for the Winograd path: its 16 transformed matrices
/// `U_ξ` ([`transform_kernel_at`]), packed for a micro-kernel or kept plain for
/// `matrixmultiply`. A training step prepares it at every call (the kernel changes); inference
/// can prepare it once and keep it (`Conv2d::infer` does), which in block 5 saves 16 MiB of
/// transforms and copies per batch.
pub struct WinogradKernel {
    micro_kernel: Option<MicroKernel>,
    cin: usize,
    cout: usize,
    products: Products,
}

impl WinogradKernel {
    /// Transform (and, for `micro_kernel`, pack) `kernel`, the 16 matrices in parallel.
    ///
    /// # Panics
    /// If `kernel` holds fewer than `9·cin·cout` values, or the channels are not positive
    /// multiples of 16 for a micro-kernel that this CPU runs (bugs in the caller).
    pub fn new(micro_kernel: Option<MicroKernel>, kernel: &[f32], cin: usize, cout: usize) -> Self {
        let products = match micro_kernel {
            Some(micro_kernel) => Products::Packed(
                (0..16)
                    .into_par_iter()
                    .map(|xi| {
                        let u_xi = transform_kernel_at(kernel, cin, cout, xi);
                        PackedKernel::for_micro_kernel(micro_kernel, &u_xi, cin, cout)
                            .expect("the micro-kernel runs here and takes multiples of 16")
                    })
                    .collect(),
            ),
            None => Products::Portable(transform_kernel(kernel, cin, cout)),
        };
        WinogradKernel {
            micro_kernel,
            cin,
            cout,
            products,
        }
    }
}

/// `y[n·h·w, cout] = bias + x ⊛ kernel` for a batch `x` of `n` images with geometry `g`
/// (which must satisfy [`winograd_can_compute`]) and a `[3, 3, g.c, cout]` kernel, computed with
/// Winograd's F(2×2, 3×3) and the micro-kernel `micro_kernel` for the 16 products (`None`:
/// `matrixmultiply`), followed band by band by the per-channel maps `then` (none in training).
///
/// # Panics
/// If the shape does not fit the Winograd path or the slices are too short (bugs in the
/// caller), or `micro_kernel` cannot run on this CPU.
#[allow(clippy::too_many_arguments)]
pub fn conv_winograd_on(
    micro_kernel: Option<MicroKernel>,
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
    then: &[ChannelMap],
) -> Vec<f32> {
    // conv_winograd_prepared checks the shape and the input.
    let prepared = WinogradKernel::new(micro_kernel, kernel, g.c, cout);
    conv_winograd_prepared(&prepared, x, g, n, bias, then)
}

/// [`conv_winograd_on`] with a kernel prepared beforehand ([`WinogradKernel::new`]).
///
/// # Panics
/// If the shape does not fit the Winograd path, the kernel was prepared for other channels,
/// or the slices are too short (bugs in the caller).
pub fn conv_winograd_prepared(
    prepared: &WinogradKernel,
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    bias: Option<&[f32]>,
    then: &[ChannelMap],
) -> Vec<f32> {
    let (micro_kernel, cin, cout) = (prepared.micro_kernel, prepared.cin, prepared.cout);
    assert!(
        winograd_can_compute(g, cout) && g.c == cin,
        "Winograd: unsupported shape {g:?}, cout {cout}"
    );
    assert!(x.len() >= n * g.image_len(), "Winograd: input too short");
    let products = &prepared.products;
    let tiles_per_row = g.w / 2;
    let tile_rows = n * g.h / 2;
    let block_tiles = tiles_per_block(cin, cout);
    let rows_per_band = tile_rows_per_band(tiles_per_row, tile_rows, block_tiles);
    let band_len = rows_per_band * 2 * g.w * cout;
    parallel_output(n * g.h * g.w * cout, band_len, |band, y_band| {
        y_band.push_iter(std::iter::repeat(0.0));
        let first_tile_row = band * rows_per_band;
        let rows = y_band.len() / (2 * g.w * cout);
        let tiles = rows * tiles_per_row;
        WORKSPACE.with_borrow_mut(|(v, m)| {
            v.resize(16 * matrix_step(block_tiles.min(tiles), cin), 0.0);
            m.resize(16 * matrix_step(block_tiles.min(tiles), cout), 0.0);
            for t0 in (0..tiles).step_by(block_tiles) {
                let count = block_tiles.min(tiles - t0);
                let block = Block {
                    first_tile_row,
                    t0,
                    count,
                };
                transform_block_inputs(micro_kernel, x, g, block, v);
                for xi in 0..16 {
                    let v_xi = &v[xi * matrix_step(count, cin)..][..count * cin];
                    let m_xi = &mut m[xi * matrix_step(count, cout)..][..count * cout];
                    match products {
                        Products::Packed(packed) => {
                            m_xi.fill(0.0);
                            packed[xi].multiply_add(count, v_xi, m_xi);
                        }
                        Products::Portable(u) => {
                            let u_xi = &u[xi * cin * cout..][..cin * cout];
                            gemm(count, cin, cout, v_xi, Op::N, u_xi, Op::N, 0.0, m_xi);
                        }
                    }
                }
                let y = y_band.written_mut();
                transform_block_outputs(micro_kernel, m, g, block, (cout, bias), y);
            }
        });
        apply_channel_maps(y_band.written_mut(), cout, then);
    })
}

/// Values from one of a block's 16 matrices (`V_ξ` or `M_ξ`, `count` rows of `channels`) to
/// the next: the matrix plus one cache line. Without the extra line the 16 matrices would often
/// start a multiple of 4 KiB apart, and the 16 values a transform reads or writes for one tile
/// would compete for the same few sets of the L1 cache (measured on one thread, 8 images of
/// 128×128×64: the input transform took 14.4 ms without the extra line, 12.0 ms with it).
#[inline(always)]
fn matrix_step(count: usize, channels: usize) -> usize {
    count * channels + LANES
}

/// Which tiles of a band one block holds: tiles `t0 .. t0 + count` of the band that starts at
/// tile row `first_tile_row` (tile `t` of a band is column `t % (w/2)` of its row `t / (w/2)`).
#[derive(Clone, Copy)]
struct Block {
    first_tile_row: usize,
    t0: usize,
    count: usize,
}

/// Transform the inputs of every tile of `block` into `v` ([`transform_input`]), compiled for
/// the vector extension of `micro_kernel` (the portable build for `None`).
fn transform_block_inputs(
    micro_kernel: Option<MicroKernel>,
    x: &[f32],
    g: &ConvGeometry,
    block: Block,
    v: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(x: &[f32], g: &ConvGeometry, block: Block, v: &mut [f32]) {
            block_inputs(x, g, block, v)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(x: &[f32], g: &ConvGeometry, block: Block, v: &mut [f32]) {
            block_inputs(x, g, block, v)
        }
        match micro_kernel {
            // SAFETY: a micro-kernel is only handed in when the CPU has its instructions
            // (`conv_winograd_on` packs a kernel for it, which checks).
            Some(MicroKernel::Avx512) => return unsafe { avx512(x, g, block, v) },
            Some(MicroKernel::Avx2) => return unsafe { avx2(x, g, block, v) },
            None => {}
        }
    }
    block_inputs(x, g, block, v)
}

#[inline(always)]
fn block_inputs(x: &[f32], g: &ConvGeometry, block: Block, v: &mut [f32]) {
    let tiles_per_row = g.w / 2;
    for t in 0..block.count {
        let (row, column) = (
            (block.t0 + t) / tiles_per_row,
            (block.t0 + t) % tiles_per_row,
        );
        let tile_row = block.first_tile_row + row;
        let (image, ty) = (tile_row / (g.h / 2), tile_row % (g.h / 2));
        let steps = (t * g.c, matrix_step(block.count, g.c));
        transform_input(x, g, (image, ty, column), steps, v);
    }
}

/// Transform the products of every tile of `block` back into its 2×2 outputs in the band `y`
/// ([`transform_output`]), compiled for the vector extension of `micro_kernel`.
fn transform_block_outputs(
    micro_kernel: Option<MicroKernel>,
    m: &[f32],
    g: &ConvGeometry,
    block: Block,
    output: (usize, Option<&[f32]>),
    y: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        type Output<'a> = (usize, Option<&'a [f32]>);
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(m: &[f32], g: &ConvGeometry, block: Block, o: Output, y: &mut [f32]) {
            block_outputs(m, g, block, o, y)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(m: &[f32], g: &ConvGeometry, block: Block, o: Output, y: &mut [f32]) {
            block_outputs(m, g, block, o, y)
        }
        match micro_kernel {
            // SAFETY: as in `transform_block_inputs`.
            Some(MicroKernel::Avx512) => return unsafe { avx512(m, g, block, output, y) },
            Some(MicroKernel::Avx2) => return unsafe { avx2(m, g, block, output, y) },
            None => {}
        }
    }
    block_outputs(m, g, block, output, y)
}

#[inline(always)]
fn block_outputs(
    m: &[f32],
    g: &ConvGeometry,
    block: Block,
    (cout, bias): (usize, Option<&[f32]>),
    y: &mut [f32],
) {
    let tiles_per_row = g.w / 2;
    for t in 0..block.count {
        let (row, column) = (
            (block.t0 + t) / tiles_per_row,
            (block.t0 + t) % tiles_per_row,
        );
        let out = &mut y[(row * 2 * g.w + 2 * column) * cout..];
        transform_output(m, (t, block.count), cout, g.w * cout, bias, out);
    }
}

thread_local! {
    /// Each worker thread's transformed inputs `V` and products `M` for one block of tiles,
    /// kept from one block (and one step) to the next.
    static WORKSPACE: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// [`conv_winograd_on`] with the [`automatic_micro_kernel`].
pub fn conv_winograd(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
    then: &[ChannelMap],
) -> Vec<f32> {
    conv_winograd_on(automatic_micro_kernel(), x, g, n, kernel, cout, bias, then)
}

// ANCHOR: input_transform
/// Transform the 4×4 input tile under output tile `(image, ty, tx)` (output rows `2·ty,
/// 2·ty + 1`, columns `2·tx, 2·tx + 1`; input rows `2·ty − 1 ..= 2·ty + 2`, zeros outside the
/// image): `V = Bᵀ d B` for every channel, value `(ξ, c)` written at `v[ξ·xi_step + offset +
/// c]` (row `t` of 16 matrices `V_ξ[count, cin]` for the forward pass: `offset = t·cin`,
/// `xi_step` = [`matrix_step`]; one tile's `[16, cin]` slot for the kernel gradient).
#[inline(always)]
pub(super) fn transform_input(
    x: &[f32],
    g: &ConvGeometry,
    (image, ty, tx): (usize, usize, usize),
    (offset, xi_step): (usize, usize),
    v: &mut [f32],
) {
    let cin = g.c;
    let image_start = image * g.image_len();
    // Where each of the tile's 16 input pixels starts in `x` (row-major), or None where the
    // tile hangs over the padding. Plain loops, not closures: they are compiled inside the
    // vector-extension wrappers of `transform_block_inputs` only when inlined there.
    let mut starts = [None; 16];
    for (k, start) in starts.iter_mut().enumerate() {
        let (y, x_) = (2 * ty + k / 4, 2 * tx + k % 4);
        if (1..=g.h).contains(&y) && (1..=g.w).contains(&x_) {
            *start = Some(image_start + ((y - 1) * g.w + (x_ - 1)) * cin);
        }
    }
    let mut d = [[0.0f32; LANES]; 16];
    for c0 in (0..cin).step_by(LANES) {
        for (k, start) in starts.iter().enumerate() {
            match start {
                Some(start) => d[k].copy_from_slice(&x[start + c0..][..LANES]),
                None => d[k] = [0.0; LANES],
            }
        }
        let transformed = bt_d_b(&d);
        for (xi, values) in transformed.iter().enumerate() {
            v[xi * xi_step + offset + c0..][..LANES].copy_from_slice(values);
        }
    }
}

/// `Bᵀ d B` for a 4×4 tile `d` (row-major) of [`LANES`] channels at once.
#[inline(always)]
fn bt_d_b(d: &[[f32; LANES]; 16]) -> [[f32; LANES]; 16] {
    // Bᵀ on the columns (rows of the tile combined), then B on the rows.
    let mut columns = [[0.0f32; LANES]; 16];
    for b in 0..4 {
        for l in 0..LANES {
            let (d0, d1, d2, d3) = (d[b][l], d[4 + b][l], d[8 + b][l], d[12 + b][l]);
            columns[b][l] = d0 - d2;
            columns[4 + b][l] = d1 + d2;
            columns[8 + b][l] = d2 - d1;
            columns[12 + b][l] = d1 - d3;
        }
    }
    let mut v = [[0.0f32; LANES]; 16];
    for a in 0..4 {
        for l in 0..LANES {
            let (t0, t1, t2, t3) = (
                columns[4 * a][l],
                columns[4 * a + 1][l],
                columns[4 * a + 2][l],
                columns[4 * a + 3][l],
            );
            v[4 * a][l] = t0 - t2;
            v[4 * a + 1][l] = t1 + t2;
            v[4 * a + 2][l] = t2 - t1;
            v[4 * a + 3][l] = t1 - t3;
        }
    }
    v
}
// ANCHOR_END: input_transform

// ANCHOR: output_transform
/// Transform row `t` of the 16 products `M_ξ[count, cout]` in `m` back into a 2×2 block of
/// outputs, `Y = Aᵀ M A` (+ bias), written at `out` (the block's top-left pixel; the next
/// image row starts `row_step` values later).
#[inline(always)]
fn transform_output(
    m: &[f32],
    (t, count): (usize, usize),
    cout: usize,
    row_step: usize,
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let mut products = [[0.0f32; LANES]; 16];
    for o0 in (0..cout).step_by(LANES) {
        for (xi, values) in products.iter_mut().enumerate() {
            values.copy_from_slice(&m[xi * matrix_step(count, cout) + t * cout + o0..][..LANES]);
        }
        let mut start = [0.0f32; LANES];
        if let Some(bias) = bias {
            start.copy_from_slice(&bias[o0..][..LANES]);
        }
        let y = at_m_a(&products);
        for (k, values) in y.iter().enumerate() {
            let slot = &mut out[(k / 2) * row_step + (k % 2) * cout + o0..][..LANES];
            for l in 0..LANES {
                slot[l] = start[l] + values[l];
            }
        }
    }
}

/// `Aᵀ M A` for a 4×4 tile of products `M` (row-major) of [`LANES`] channels: the 2×2 outputs,
/// row-major.
#[inline(always)]
fn at_m_a(m: &[[f32; LANES]; 16]) -> [[f32; LANES]; 4] {
    let mut rows = [[0.0f32; LANES]; 8];
    for b in 0..4 {
        for l in 0..LANES {
            let (m0, m1, m2, m3) = (m[b][l], m[4 + b][l], m[8 + b][l], m[12 + b][l]);
            rows[b][l] = m0 + m1 + m2;
            rows[4 + b][l] = m1 - m2 - m3;
        }
    }
    let mut y = [[0.0f32; LANES]; 4];
    for a in 0..2 {
        for l in 0..LANES {
            let (r0, r1, r2, r3) = (
                rows[4 * a][l],
                rows[4 * a + 1][l],
                rows[4 * a + 2][l],
                rows[4 * a + 3][l],
            );
            y[2 * a][l] = r0 + r1 + r2;
            y[2 * a + 1][l] = r1 - r2 - r3;
        }
    }
    y
}
// ANCHOR_END: output_transform

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-dimensional F(2, 3) of the module documentation, against the direct sums.
    #[test]
    fn one_dimensional_f23_gives_the_two_outputs() {
        let (d, g) = ([1.0f32, -2.0, 3.0, 0.5], [0.25f32, -1.0, 2.0]);
        let m1 = (d[0] - d[2]) * g[0];
        let m2 = (d[1] + d[2]) * (g[0] + g[1] + g[2]) / 2.0;
        let m3 = (d[2] - d[1]) * (g[0] - g[1] + g[2]) / 2.0;
        let m4 = (d[1] - d[3]) * g[2];
        assert_eq!(m1 + m2 + m3, d[0] * g[0] + d[1] * g[1] + d[2] * g[2]);
        assert_eq!(m2 - m3 - m4, d[1] * g[0] + d[2] * g[1] + d[3] * g[2]);
    }

    #[test]
    fn blocks_hold_at_least_the_minimum_and_fit_the_cache_otherwise() {
        assert_eq!(tiles_per_block(512, 512), MIN_TILES_PER_BLOCK);
        let small = tiles_per_block(32, 32);
        assert!(16 * small * 64 <= BLOCK_FLOATS && small > MIN_TILES_PER_BLOCK);
    }
}
