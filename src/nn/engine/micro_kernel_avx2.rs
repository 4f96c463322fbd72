//! The convolution's fast path on x86-64 CPUs with AVX2 and FMA: the kernel packed once per
//! call, im2col rows read straight from the input instead of copied, and a 6×16 micro-kernel
//! that keeps its tile of the output in registers.
//!
//! **Why not just call [`super::gemm::gemm`] on im2col rows?** The teaching path,
//! [`super::conv::conv_im2col_gemm`], does exactly that, and three copies dominate everything but the
//! multiply-adds:
//! - im2col writes every input value `kh·kw` times (nine for a 3×3 kernel);
//! - the general GEMM (`matrixmultiply`) copies ("packs") those rows once more into its own
//!   panel order;
//! - it also re-packs the whole `[k, n]` kernel in every band's call, though the kernel is the
//!   same for the whole batch.
//!
//! **The im2col matrix is already in the input.** For a fixed kernel row `ky`, the `kw·C` values
//! of the im2col row of output pixel `(n, oy, ox)` are contiguous in the input, starting at pixel
//! `(n, oy+ky−pad_top, ox−pad_left)`, and the next pixel `ox+1` starts `C` values further on. So
//! the im2col rows of up to 6 neighbouring pixels are `kh` *segments* of a matrix with row stride
//! `C`, and the micro-kernel reads them in place ("implicit im2col"). Only where the window
//! hangs over the border is something different done: a kernel row that falls above or below
//! the image would multiply zeros, so it is skipped, and the few tiles at the left and right
//! edges get their windows copied, with the zeros, into a small per-thread strip.
//!
//! **The micro-kernel** keeps a 6×16 tile of the output in twelve 8-wide AVX registers. For each
//! value `p` of the inner dimension it loads 16 values of the kernel's row `p` (two registers),
//! broadcasts the input value of each of the 6 pixels, and does 12 fused multiply-adds: 192 FLOP
//! for 8 loads. The inner dimension is cut into blocks of about [`KC`] values, so the kernel's
//! `KC × 16` panel (16 KiB) stays in the L1 cache while the tiles of a block of about [`MC`]
//! output pixels pass over it; those pixels' inputs stay in the L2 cache for all panels.
//!
//! **The same arithmetic on every run.** Each output value is summed in the order `p = 0, 1, …,
//! k−1` of the im2col column, one fused multiply-add at a time, whatever the band or thread: the
//! result does not depend on the thread count. It differs from `matrixmultiply`'s in the last
//! bits (another summation order); tests hold both to the naive definition.
//!
//! **When it is used.** On x86-64 CPUs with AVX2 and FMA (checked at run time, once) and when the
//! output has a multiple of 16 channels, at most [`MAX_CHANNELS`]: in the paper's network, the
//! forward passes of blocks 1–3 and the input gradients of blocks 2–5 (the 3-channel input
//! gradient of the first layer is never computed in training). Elsewhere, or with the environment
//! variable `LUMBAR_PORTABLE_GEMM=1` (to compare the two), [`PackedKernel::new`] returns `None`
//! and the convolution takes the portable path.

use super::bands::{band_rows, start_from_bias};
use super::im2col::ConvGeometry;
use super::parallel::parallel_output;
use std::cell::RefCell;
use std::sync::OnceLock;

/// Rows of the output (pixels) in one micro-kernel tile.
pub const MR: usize = 6;
/// Columns of the output (channels) in one tile: two AVX registers of 8 `f32`. Also the width
/// of one panel of the packed kernel.
pub const NR: usize = 16;
/// Target length of a block of the inner dimension: a `KC × NR` kernel panel is 16 KiB, half
/// the L1 data cache.
pub const KC: usize = 256;
/// Target number of output pixels in a block of tiles that sweeps all kernel panels: their
/// inputs for one inner block (at most about `MC × KC` values, 120 KiB) stay in the L2 cache.
pub const MC: usize = 120;

/// Most output channels this path takes. Beyond (blocks 4 and 5 of the network) the packed
/// kernel is over a megabyte, more than the L2 cache, and is streamed again for every block of
/// [`MC`] pixels; `matrixmultiply`'s blocking measured faster there (`cargo bench --bench
/// conv_layers`, chapter 13).
pub const MAX_CHANNELS: usize = 128;

/// The environment variable that turns this path off, for before/after comparisons.
pub const PORTABLE_ENV: &str = "LUMBAR_PORTABLE_GEMM";

/// Whether this CPU can run the micro-kernel and it is not turned off by [`PORTABLE_ENV`].
/// Checked once per process.
pub fn micro_kernel_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let turned_off = std::env::var(PORTABLE_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        !turned_off && cpu_has_avx2_fma()
    })
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_avx2_fma() -> bool {
    false
}

// ANCHOR: packed_kernel
/// A `[k, n]` row-major matrix (the convolution kernel `K̂`) re-laid as `n / 16` panels of 16
/// columns: panel `j` holds rows `0..k` of columns `16j..16j+16`, each row's 16 values
/// contiguous, so the micro-kernel reads a panel front to back.
pub struct PackedKernel {
    k: usize,
    n: usize,
    /// `[n/NR, k, NR]`: `panels[(j·k + p)·NR + q] = b[p·n + j·NR + q]`.
    panels: Vec<f32>,
}

/// Whether this path takes a product `[rows, k] · [k, n]`: [`micro_kernel_available`], an
/// inner dimension `k ≥ 1`, and `n` a multiple of [`NR`] up to [`MAX_CHANNELS`].
pub fn takes_shape(k: usize, n: usize) -> bool {
    let fits = k > 0 && n > 0 && n.is_multiple_of(NR) && n <= MAX_CHANNELS;
    fits && micro_kernel_available()
}

impl PackedKernel {
    /// Pack the row-major `[k, n]` matrix `b`, or `None` when this path does not take the
    /// shape ([`takes_shape`]: no AVX2/FMA, [`PORTABLE_ENV`] set, `k = 0`, or `n` not a
    /// multiple of [`NR`] or above [`MAX_CHANNELS`]).
    pub fn new(b: &[f32], k: usize, n: usize) -> Option<Self> {
        if !takes_shape(k, n) {
            return None;
        }
        assert!(
            b.len() >= k * n,
            "PackedKernel: B has {} values, needs {}",
            b.len(),
            k * n
        );
        let mut panels = Vec::with_capacity(k * n);
        for j in 0..n / NR {
            for p in 0..k {
                panels.extend_from_slice(&b[p * n + j * NR..][..NR]);
            }
        }
        Some(PackedKernel { k, n, panels })
    }

    /// The kernel's columns `p0 .. p0 + count` of panel `j`, `[count, NR]`.
    fn panel(&self, j: usize, p0: usize, count: usize) -> &[f32] {
        &self.panels[(j * self.k + p0) * NR..][..count * NR]
    }

    /// `C[m×n] += A[m×k] · B` for a plain row-major `a` (`[m, k]`) and `c` (`[m, n]`): the
    /// micro-kernel as an ordinary matrix multiply (the convolution uses [`convolve_packed`]).
    ///
    /// # Panics
    /// If `a` or `c` is shorter than its matrix (a bug in the caller).
    pub fn multiply_add(&self, m: usize, a: &[f32], c: &mut [f32]) {
        let (k, n) = (self.k, self.n);
        assert!(
            a.len() >= m * k,
            "multiply_add: A has {} values, needs {}",
            a.len(),
            m * k
        );
        assert!(
            c.len() >= m * n,
            "multiply_add: C has {} values, needs {}",
            c.len(),
            m * n
        );
        for (_, _, q0, len) in inner_blocks(1, k) {
            for i0 in (0..m).step_by(MC) {
                for j in 0..n / NR {
                    let panel = self.panel(j, q0, len);
                    for i in (i0..m.min(i0 + MC)).step_by(MR) {
                        // Row r of the tile is row i + r of A: one segment, "pixel" step k.
                        let input = TileInput {
                            a: &a[i * k + q0..],
                            pixel_step: k,
                            segments: 1,
                            segment_step: 0,
                            len,
                        };
                        let pixels = MR.min(m - i);
                        multiply_tile(pixels, &input, panel, &mut c[i * n + j * NR..], n);
                    }
                }
            }
        }
    }
}
// ANCHOR_END: packed_kernel

/// The blocks in which the inner dimension is walked: `(first segment, segments, first column
/// in each, columns)`. Short segments are grouped (up to [`KC`] values), long ones cut into
/// equal pieces of at most [`KC`]. Either way the columns come in their order `0..k`.
fn inner_blocks(segments: usize, len: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    // Whole segments per block, or pieces per segment (one of the two is 1).
    let per_block = KC.checked_div(len).unwrap_or(1).max(1);
    let pieces = len.div_ceil(KC).max(1);
    let piece = len.div_ceil(pieces);
    let blocks = if len == 0 {
        0
    } else {
        segments.div_ceil(per_block) * pieces
    };
    (0..blocks).map(move |b| {
        let (first, q0) = ((b / pieces) * per_block, (b % pieces) * piece);
        (
            first,
            per_block.min(segments - first),
            q0,
            piece.min(len - q0),
        )
    })
}

/// Where the values of `A` for one tile are: value `q` of segment `s` of pixel `r` is
/// `a[r·pixel_step + s·segment_step + q]`, for `q < len` and `s < segments`.
struct TileInput<'a> {
    a: &'a [f32],
    pixel_step: usize,
    segments: usize,
    segment_step: usize,
    len: usize,
}

/// `C[pixels × 16] += A · panel` for one tile, `C` with row stride `ldc`: checks that every
/// value the micro-kernel will touch is inside the slices, then runs it.
fn multiply_tile(pixels: usize, input: &TileInput, panel: &[f32], c: &mut [f32], ldc: usize) {
    let &TileInput {
        a,
        pixel_step,
        segments,
        segment_step,
        len,
    } = input;
    if pixels == 0 || segments == 0 || len == 0 {
        return;
    }
    assert!(pixels <= MR, "a tile has at most {MR} pixels");
    let reach = (pixels - 1) * pixel_step + (segments - 1) * segment_step + len;
    assert!(
        a.len() >= reach,
        "tile input: {} values, reaches {reach}",
        a.len()
    );
    assert!(panel.len() >= segments * len * NR, "tile panel too short");
    assert!(c.len() >= (pixels - 1) * ldc + NR, "tile output too short");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a `PackedKernel` exists only on CPUs with AVX2 and FMA, and the asserts above
    // bound every read of `a` and `panel` and every write of `c`.
    unsafe {
        let steps = (segments, len, pixel_step, segment_step);
        avx2::any_tile(
            pixels,
            steps,
            a.as_ptr(),
            panel.as_ptr(),
            c.as_mut_ptr(),
            ldc,
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("PackedKernel::new returns None off x86-64");
}

// ANCHOR: convolve_packed
/// The convolution engine's fast path: `y[rows, cout] = bias + im2col(x) · kernel`, the same
/// result as [`super::conv::conv_im2col_gemm`], for a batch `x` of `n` images with geometry
/// `g`. The output is cut into bands of whole image rows (at least [`band_rows`] pixels),
/// computed in parallel by `convolve_band`.
pub fn convolve_packed(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &PackedKernel,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    assert_eq!(kernel.k, g.patch_len(), "kernel rows must be kh·kw·c");
    assert!(
        x.len() >= n * g.image_len(),
        "input too short for {n} images"
    );
    let cout = kernel.n;
    let band_pixels = band_rows(g.patch_len(), cout, n * g.out_pixels());
    let band_image_rows = band_pixels.div_ceil(g.wo).max(1);
    parallel_output(
        n * g.out_pixels() * cout,
        band_image_rows * g.wo * cout,
        |band, y_band| {
            start_from_bias(y_band, bias);
            let first_row = band * band_image_rows;
            convolve_band(x, g, kernel, first_row, y_band.written_mut());
        },
    )
}

/// `y += im2col(x) · kernel` for output image rows `first_row ..` (row `n·ho + oy` is row `oy`
/// of image `n`), as many as `y` holds: blocks of the inner dimension, then blocks of about
/// [`MC`] pixels, then one 16-column kernel panel at a time, then tiles of up to 6 pixels.
fn convolve_band(
    x: &[f32],
    g: &ConvGeometry,
    kernel: &PackedKernel,
    first_row: usize,
    y: &mut [f32],
) {
    let n = kernel.n;
    let rows = y.len() / (g.wo * n);
    let segment_len = g.kw * g.c;
    let rows_per_block = (MC / g.wo).max(1);
    EDGE_STRIPS.with_borrow_mut(|strips| {
        strips.fill(g, x, first_row, rows);
        for (s0, segments, q0, len) in inner_blocks(g.kh, segment_len) {
            for row0 in (0..rows).step_by(rows_per_block) {
                for j in 0..n / NR {
                    for row in row0..rows.min(row0 + rows_per_block) {
                        let (image, oy) = ((first_row + row) / g.ho, (first_row + row) % g.ho);
                        // Kernel rows whose input row lies inside the image, within this block.
                        let lowest = g.pad_top.saturating_sub(oy).max(s0);
                        let highest = (g.h + g.pad_top)
                            .saturating_sub(oy)
                            .min(g.kh)
                            .min(s0 + segments);
                        if lowest >= highest {
                            continue;
                        }
                        let p0 = lowest * segment_len + q0;
                        let panel = kernel.panel(j, p0, (highest - lowest) * len);
                        let mut edges_passed = 0;
                        for x0 in (0..g.wo).step_by(MR) {
                            let pixels = MR.min(g.wo - x0);
                            let strip = EdgeStrips::is_edge(g, x0, pixels).then(|| {
                                edges_passed += 1;
                                strips.strip(row, edges_passed - 1)
                            });
                            let (a, segment_step) =
                                tile_rows(x, g, strip, (image, oy), x0, pixels, lowest);
                            let input = TileInput {
                                a: &a[q0..],
                                pixel_step: g.c,
                                segments: highest - lowest,
                                segment_step,
                                len,
                            };
                            let c = &mut y[(row * g.wo + x0) * n + j * NR..];
                            multiply_tile(pixels, &input, panel, c, n);
                        }
                    }
                }
            }
        }
    });
}
// ANCHOR_END: convolve_packed

/// Where the tile of `pixels` pixels at column `x0` of output row `oy` of `image` finds its
/// input from kernel row `lowest` on: the slice starting there and the step from one kernel row
/// to the next. An edge tile reads its `strip` (its windows with the zeros); any other reads the
/// input itself, at pixel `(oy + lowest − pad_top, x0 − pad_left)`.
fn tile_rows<'a>(
    x: &'a [f32],
    g: &ConvGeometry,
    strip: Option<&'a [f32]>,
    (image, oy): (usize, usize),
    x0: usize,
    pixels: usize,
    lowest: usize,
) -> (&'a [f32], usize) {
    match strip {
        Some(strip) => {
            let step = (pixels + g.kw - 1) * g.c;
            (&strip[lowest * step..], step)
        }
        None => {
            let (iy, ix) = (oy + lowest - g.pad_top, x0 - g.pad_left);
            (&x[((image * g.h + iy) * g.w + ix) * g.c..], g.w * g.c)
        }
    }
}

thread_local! {
    /// Each worker thread's copies of the edge tiles' windows, reused from band to band.
    static EDGE_STRIPS: RefCell<EdgeStrips> = const { RefCell::new(EdgeStrips::new()) };
}

/// The windows of the tiles at the left and right edges of a band's image rows, where the
/// kernel hangs over the border: for such a tile of `R` pixels starting at `x0`, its strip holds
/// `kh` rows of `R + kw − 1` pixels of `c` values, input pixels `(oy + ky − pad_top,
/// x0 − pad_left + i)`, zero outside the image.
struct EdgeStrips {
    values: Vec<f32>,
    /// Offset in `values` of every edge tile's strip, row by row, left to right.
    tiles: Vec<usize>,
    /// Edge tiles in each row (the same in every row: they depend on the column only).
    edges_per_row: usize,
}

impl EdgeStrips {
    const fn new() -> Self {
        EdgeStrips {
            values: Vec::new(),
            tiles: Vec::new(),
            edges_per_row: 0,
        }
    }

    /// Whether the tile of `pixels` pixels at `x0` reads outside the image's columns.
    fn is_edge(g: &ConvGeometry, x0: usize, pixels: usize) -> bool {
        // Columns of the windows, counted in the padded image: x0 .. x0 + pixels + kw − 1.
        let last_column = x0 + pixels + g.kw - 2;
        x0 < g.pad_left || last_column >= g.w + g.pad_left
    }

    /// Copy the windows of every edge tile of image rows `first_row .. first_row + rows`.
    fn fill(&mut self, g: &ConvGeometry, x: &[f32], first_row: usize, rows: usize) {
        self.values.clear();
        self.tiles.clear();
        self.edges_per_row = (0..g.wo)
            .step_by(MR)
            .filter(|&x0| Self::is_edge(g, x0, MR.min(g.wo - x0)))
            .count();
        for row in 0..rows {
            let (image, oy) = ((first_row + row) / g.ho, (first_row + row) % g.ho);
            for x0 in (0..g.wo).step_by(MR) {
                let pixels = MR.min(g.wo - x0);
                if !Self::is_edge(g, x0, pixels) {
                    continue;
                }
                self.tiles.push(self.values.len());
                for ky in 0..g.kh {
                    let iy = (oy + ky).checked_sub(g.pad_top).filter(|&iy| iy < g.h);
                    for i in 0..pixels + g.kw - 1 {
                        let ix = (x0 + i).checked_sub(g.pad_left).filter(|&ix| ix < g.w);
                        match (iy, ix) {
                            (Some(iy), Some(ix)) => {
                                let start = ((image * g.h + iy) * g.w + ix) * g.c;
                                self.values.extend_from_slice(&x[start..start + g.c]);
                            }
                            _ => self.values.extend(std::iter::repeat_n(0.0, g.c)),
                        }
                    }
                }
            }
        }
    }

    /// The strip of the `index`-th edge tile of band row `row`, counted from the left.
    fn strip(&self, row: usize, index: usize) -> &[f32] {
        &self.values[self.tiles[row * self.edges_per_row + index]..]
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::NR;
    use std::arch::x86_64::*;

    /// [`tile`] for `pixels` (1 to 6) known only at run time.
    ///
    /// # Safety
    /// As [`tile`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn any_tile(
        pixels: usize,
        steps: (usize, usize, usize, usize),
        a: *const f32,
        panel: *const f32,
        c: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            match pixels {
                6 => tile::<6>(steps, a, panel, c, ldc),
                5 => tile::<5>(steps, a, panel, c, ldc),
                4 => tile::<4>(steps, a, panel, c, ldc),
                3 => tile::<3>(steps, a, panel, c, ldc),
                2 => tile::<2>(steps, a, panel, c, ldc),
                _ => tile::<1>(steps, a, panel, c, ldc),
            }
        }
    }

    // ANCHOR: micro_kernel
    /// The micro-kernel: `C[R×16] += A[R×k] · panel[k×16]` for `R ≤ 6` pixels, where the `k`
    /// columns of A are `segments` segments of `len` values: value `q` of segment `s` of pixel
    /// `r` is `a[r·pixel_step + s·segment_step + q]`. The tile of `C` (row stride `ldc`) lives
    /// in `2R` registers from the first multiply-add to the last.
    ///
    /// # Safety
    /// AVX2 and FMA; `a` must address those values, `panel` `segments·len·16` values and `c`
    /// `R` rows of 16 values.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile<const R: usize>(
        (segments, len, pixel_step, segment_step): (usize, usize, usize, usize),
        a: *const f32,
        panel: *const f32,
        c: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            let mut left = [_mm256_setzero_ps(); R];
            let mut right = [_mm256_setzero_ps(); R];
            for r in 0..R {
                left[r] = _mm256_loadu_ps(c.add(r * ldc));
                right[r] = _mm256_loadu_ps(c.add(r * ldc + 8));
            }
            let mut b = panel;
            for s in 0..segments {
                let a_segment = a.add(s * segment_step);
                for q in 0..len {
                    let b_left = _mm256_loadu_ps(b);
                    let b_right = _mm256_loadu_ps(b.add(8));
                    b = b.add(NR);
                    for r in 0..R {
                        let a_rq = _mm256_broadcast_ss(&*a_segment.add(r * pixel_step + q));
                        left[r] = _mm256_fmadd_ps(a_rq, b_left, left[r]);
                        right[r] = _mm256_fmadd_ps(a_rq, b_right, right[r]);
                    }
                }
            }
            for r in 0..R {
                _mm256_storeu_ps(c.add(r * ldc), left[r]);
                _mm256_storeu_ps(c.add(r * ldc + 8), right[r]);
            }
        }
    }
    // ANCHOR_END: micro_kernel
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn naive(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c0: &[f32]) -> Vec<f32> {
        let mut c = c0.to_vec();
        for i in 0..m {
            for j in 0..n {
                let sum: f64 = (0..k)
                    .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                    .sum();
                c[i * n + j] += sum as f32;
            }
        }
        c
    }

    #[test]
    fn packing_puts_each_value_in_its_panel() {
        let (k, n) = (3, 32);
        let b: Vec<f32> = (0..k * n).map(|v| v as f32).collect();
        let Some(packed) = PackedKernel::new(&b, k, n) else {
            eprintln!(
                "skipped: this CPU lacks AVX2/FMA (or {PORTABLE_ENV} is set), no kernel is packed"
            );
            return;
        };
        for j in 0..n / NR {
            for p in 0..k {
                for q in 0..NR {
                    assert_eq!(packed.panels[(j * k + p) * NR + q], b[p * n + j * NR + q]);
                }
            }
        }
    }

    #[test]
    fn columns_not_a_multiple_of_the_panel_width_fall_back() {
        assert!(PackedKernel::new(&[0.0; 3 * 24], 3, 24).is_none());
        let wide = MAX_CHANNELS + NR;
        assert!(PackedKernel::new(&vec![0.0; 3 * wide], 3, wide).is_none());
    }

    #[test]
    fn inner_blocks_cover_every_column_once_in_order() {
        for &(segments, len) in &[
            (3, 9),
            (3, 96),
            (3, 192),
            (3, 384),
            (3, 1536),
            (1, 300),
            (2, 256),
        ] {
            let mut next = 0;
            for (s0, count, q0, cols) in inner_blocks(segments, len) {
                assert!(count * cols <= KC);
                for s in s0..s0 + count {
                    // Several segments in a block only when each is whole.
                    assert!(count == 1 || (q0 == 0 && cols == len));
                    for q in q0..q0 + cols {
                        assert_eq!(s * len + q, next, "segments {segments} × {len}");
                        next += 1;
                    }
                }
            }
            assert_eq!(next, segments * len);
        }
    }

    #[test]
    fn multiply_add_matches_the_definition_on_every_edge() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // Rows around MR and MC, inner dimensions around KC, one and several panels.
        for &(m, k, n) in &[
            (1, 1, 16),
            (5, 27, 32),
            (6, 27, 16),
            (13, 300, 48),
            (MC + 7, KC + 1, 32),
            (2 * MC, 2 * KC + 5, 64),
            (7, 20, 128),
            (MC + 5, KC + 3, MAX_CHANNELS),
            (0, 9, 16),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let Some(packed) = PackedKernel::new(&b, k, n) else {
                eprintln!("skipped: this CPU lacks AVX2/FMA (or {PORTABLE_ENV} is set), the micro-kernel cannot run");
                return;
            };
            let mut c = c0.clone();
            packed.multiply_add(m, &a, &mut c);
            let expected = naive(m, k, n, &a, &b, &c0);
            for (index, (got, want)) in c.iter().zip(&expected).enumerate() {
                let tolerance = 1e-5 * (k as f32).sqrt() * 4.0;
                assert!(
                    (got - want).abs() <= tolerance,
                    "m={m} k={k} n={n}: C[{index}] = {got}, expected {want}"
                );
            }
        }
    }
}
