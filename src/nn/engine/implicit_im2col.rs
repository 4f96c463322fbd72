//! The convolution's fast path, the part its micro-kernels share: the kernel packed once per
//! call, im2col rows read in place from the input ("implicit im2col"), the blocks in which the
//! output and the inner dimension are walked, and the copied strips of the tiles at the left
//! and right borders.
//!
//! Read [`super::micro_kernel_avx2`] first: its documentation explains why this path exists
//! and how it works, and its micro-kernel is the one the book shows. A micro-kernel brings only
//! its tile: how many pixels ([`Blocking::mr`]) and channels ([`Blocking::nr`]) it keeps in
//! registers, the block sizes that suit it, and the instructions that update the tile
//! ([`super::micro_kernel_avx512`] differs from the AVX2 one in nothing else). Everything
//! here is safe code; the one `unsafe` call into a micro-kernel is in `multiply_tile`, right
//! after the asserts that bound every value it reads and writes.
//!
//! **Which micro-kernel.** [`automatic_micro_kernel`] picks one per process: AVX-512 on CPUs
//! with AVX-512F, else AVX2 on CPUs with AVX2 and FMA, else none (the portable path of
//! [`super::conv`]). Two environment variables override it, to compare the paths on one
//! machine: [`PORTABLE_ENV`] (`LUMBAR_PORTABLE_GEMM=1`: no micro-kernel) and [`NO_AVX512_ENV`]
//! (`LUMBAR_NO_AVX512=1`: AVX2 even where AVX-512F is present).
//!
//! **Same bits from both micro-kernels.** Each output value starts as its bias (or zero) and
//! receives the products `p = 0, 1, …, k−1` of its im2col row one fused multiply-add at a
//! time, in that order, whatever the tile, the block sizes, the band or the thread. A fused
//! multiply-add rounds once, the same way in a 256-bit and a 512-bit register, and a value
//! stored between two inner blocks and loaded again is unchanged; so the AVX2 and AVX-512
//! micro-kernels give the same bits (tests compare them bit for bit), on any number of threads.

use super::bands::{band_rows, start_from_bias};
use super::channel_maps::{apply_channel_maps, ChannelMap};
use super::im2col::ConvGeometry;
use super::parallel::parallel_output;
use super::{micro_kernel_avx2, micro_kernel_avx512};
use std::cell::RefCell;
use std::sync::OnceLock;

/// Channels of one vector-register group the packed kernel is cut into: every micro-kernel's
/// panel width is a multiple of it, and the path takes outputs whose channel count is one.
pub const CHANNEL_STEP: usize = 16;

/// The environment variable that turns every micro-kernel off (the portable path only), for
/// before/after comparisons.
pub const PORTABLE_ENV: &str = "LUMBAR_PORTABLE_GEMM";

/// The environment variable that turns the AVX-512 micro-kernel off, so that a CPU with
/// AVX-512F runs the AVX2 one (to compare the two).
pub const NO_AVX512_ENV: &str = "LUMBAR_NO_AVX512";

/// The micro-kernels the fast path can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MicroKernel {
    /// [`super::micro_kernel_avx2`]: 6×16 tiles in 256-bit registers (AVX2 and FMA).
    Avx2,
    /// [`super::micro_kernel_avx512`]: 14×32 tiles in 512-bit registers (AVX-512F).
    Avx512,
}

/// The tile and the block sizes of one micro-kernel (see [`super::micro_kernel_avx2`] for what
/// each block is for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Output pixels in a full tile (the rows of the tile).
    pub mr: usize,
    /// Output channels in a full tile, and the width of a panel of the packed kernel; a
    /// narrower last panel holds the remaining multiple of [`CHANNEL_STEP`].
    pub nr: usize,
    /// Target length of a block of the inner dimension (a `kc × nr` panel stays in L1).
    pub kc: usize,
    /// Target number of output pixels in a block of tiles that sweeps all kernel panels.
    pub mc: usize,
}

impl MicroKernel {
    /// Whether this CPU can run the micro-kernel (checked at run time; false off x86-64).
    pub fn cpu_has_it(self) -> bool {
        match self {
            MicroKernel::Avx2 => micro_kernel_avx2::cpu_has_avx2_fma(),
            MicroKernel::Avx512 => micro_kernel_avx512::cpu_has_avx512f(),
        }
    }

    /// The micro-kernel's tile and block sizes.
    pub fn blocking(self) -> Blocking {
        match self {
            MicroKernel::Avx2 => micro_kernel_avx2::BLOCKING,
            MicroKernel::Avx512 => micro_kernel_avx512::BLOCKING,
        }
    }

    /// Most output channels [`automatic_micro_kernel`]'s choice sends to this micro-kernel
    /// (chosen by measurement; wider outputs take the portable path).
    pub fn max_channels(self) -> usize {
        match self {
            MicroKernel::Avx2 => micro_kernel_avx2::MAX_CHANNELS,
            MicroKernel::Avx512 => micro_kernel_avx512::MAX_CHANNELS,
        }
    }

    /// Whether the micro-kernel can compute a product `[rows, k] · [k, n]` at all: an inner
    /// dimension `k ≥ 1` and `n` a positive multiple of [`CHANNEL_STEP`] (whatever the CPU).
    pub fn can_compute(self, k: usize, n: usize) -> bool {
        k > 0 && n > 0 && n.is_multiple_of(CHANNEL_STEP)
    }

    /// Whether the automatic choice gives it the product: [`Self::can_compute`] and `n` at
    /// most [`Self::max_channels`].
    pub fn takes(self, k: usize, n: usize) -> bool {
        self.can_compute(k, n) && n <= self.max_channels()
    }

    /// Its name as benches and `lumbar bench` print it, e.g. `AVX-512 micro-kernel 14×32`.
    pub fn name(self) -> String {
        let Blocking { mr, nr, .. } = self.blocking();
        match self {
            MicroKernel::Avx2 => format!("AVX2 micro-kernel {mr}×{nr}"),
            MicroKernel::Avx512 => format!("AVX-512 micro-kernel {mr}×{nr}"),
        }
    }
}

/// Whether the environment variable `name` is set to something other than empty or `0`.
fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The micro-kernel this process's convolutions use where the shape suits it: AVX-512 when
/// the CPU has AVX-512F and [`NO_AVX512_ENV`] is not set, else AVX2 when the CPU has AVX2 and
/// FMA, else none; none at all when [`PORTABLE_ENV`] is set. Decided once per process.
pub fn automatic_micro_kernel() -> Option<MicroKernel> {
    static CHOICE: OnceLock<Option<MicroKernel>> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        if env_flag(PORTABLE_ENV) {
            None
        } else if !env_flag(NO_AVX512_ENV) && MicroKernel::Avx512.cpu_has_it() {
            Some(MicroKernel::Avx512)
        } else if MicroKernel::Avx2.cpu_has_it() {
            Some(MicroKernel::Avx2)
        } else {
            None
        }
    })
}

// ANCHOR: packed_kernel
/// A `[k, n]` row-major matrix (the convolution kernel `K̂`) re-laid as panels of
/// [`Blocking::nr`] columns (the last one narrower when `nr` does not divide `n`): panel `j`
/// holds rows `0..k` of its columns, each row's values contiguous, so the micro-kernel reads a
/// panel front to back. It also says which micro-kernel will multiply with it.
pub struct PackedKernel {
    micro_kernel: MicroKernel,
    nr: usize,
    k: usize,
    n: usize,
    /// Panel `j` (columns `j·nr .. j·nr + width_j`) starts at `j·nr·k`:
    /// `panels[j·nr·k + p·width_j + q] = b[p·n + j·nr + q]`.
    panels: Vec<f32>,
}

impl PackedKernel {
    /// Pack `b` (`[k, n]` row-major) for the [`automatic_micro_kernel`], or `None` when there
    /// is none or it does not take the shape ([`MicroKernel::takes`]): the convolution then
    /// takes the portable path.
    pub fn new(b: &[f32], k: usize, n: usize) -> Option<Self> {
        let micro_kernel = automatic_micro_kernel().filter(|m| m.takes(k, n))?;
        Self::for_micro_kernel(micro_kernel, b, k, n)
    }

    /// Pack `b` (`[k, n]` row-major) for `micro_kernel`, whatever the automatic choice, or
    /// `None` when this CPU cannot run it or it cannot compute the shape
    /// ([`MicroKernel::can_compute`]). For tests and benches that compare micro-kernels.
    ///
    /// # Panics
    /// If `b` holds fewer than `k·n` values (a bug in the caller).
    pub fn for_micro_kernel(
        micro_kernel: MicroKernel,
        b: &[f32],
        k: usize,
        n: usize,
    ) -> Option<Self> {
        if !micro_kernel.cpu_has_it() || !micro_kernel.can_compute(k, n) {
            return None;
        }
        assert!(
            b.len() >= k * n,
            "PackedKernel: B has {} values, needs {}",
            b.len(),
            k * n
        );
        let nr = micro_kernel.blocking().nr;
        let mut panels = Vec::with_capacity(k * n);
        for j0 in (0..n).step_by(nr) {
            let width = nr.min(n - j0);
            for p in 0..k {
                panels.extend_from_slice(&b[p * n + j0..][..width]);
            }
        }
        Some(PackedKernel {
            micro_kernel,
            nr,
            k,
            n,
            panels,
        })
    }

    /// The micro-kernel this kernel was packed for.
    pub fn micro_kernel(&self) -> MicroKernel {
        self.micro_kernel
    }

    /// Number of panels: `⌈n / nr⌉`.
    fn panel_count(&self) -> usize {
        self.n.div_ceil(self.nr)
    }

    /// Columns of panel `j`: `nr`, or fewer for the last one.
    fn panel_width(&self, j: usize) -> usize {
        self.nr.min(self.n - j * self.nr)
    }

    /// The kernel's rows `p0 .. p0 + count` of panel `j`, `[count, width_j]`.
    fn panel(&self, j: usize, p0: usize, count: usize) -> &[f32] {
        let width = self.panel_width(j);
        &self.panels[j * self.nr * self.k + p0 * width..][..count * width]
    }

    /// `C[m×n] += A[m×k] · B` for a plain row-major `a` (`[m, k]`) and `c` (`[m, n]`): the
    /// micro-kernel as an ordinary matrix multiply (the convolution uses [`convolve_packed`]).
    ///
    /// # Panics
    /// If `a` or `c` is shorter than its matrix (a bug in the caller).
    pub fn multiply_add(&self, m: usize, a: &[f32], c: &mut [f32]) {
        let (k, n) = (self.k, self.n);
        let Blocking { mr, kc, mc, .. } = self.micro_kernel.blocking();
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
        for (_, _, q0, len) in inner_blocks(kc, 1, k) {
            for i0 in (0..m).step_by(mc) {
                for j in 0..self.panel_count() {
                    let panel = self.panel(j, q0, len);
                    // The block's rows: a last tile stops at the block's end (mc need not be a
                    // multiple of mr), so that no row is multiplied twice.
                    let end = m.min(i0 + mc);
                    for i in (i0..end).step_by(mr) {
                        // Row r of the tile is row i + r of A: one segment, "pixel" step k.
                        let input = TileInput {
                            a: &a[i * k + q0..],
                            pixel_step: k,
                            segments: 1,
                            segment_step: 0,
                            len,
                        };
                        let tile = Tile {
                            pixels: mr.min(end - i),
                            width: self.panel_width(j),
                        };
                        multiply_tile(self, tile, &input, panel, &mut c[i * n + j * self.nr..]);
                    }
                }
            }
        }
    }
}
// ANCHOR_END: packed_kernel

/// The blocks in which the inner dimension is walked, for a target block length `kc`:
/// `(first segment, segments, first column in each, columns)`. Short segments are grouped (up
/// to `kc` values), long ones cut into equal pieces of at most `kc`. Either way the columns
/// come in their order `0..k`.
pub fn inner_blocks(
    kc: usize,
    segments: usize,
    len: usize,
) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    // Whole segments per block, or pieces per segment (one of the two is 1).
    let per_block = kc.checked_div(len).unwrap_or(1).max(1);
    let pieces = len.div_ceil(kc).max(1);
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

/// The size of one tile of the output: `pixels` rows (at most [`Blocking::mr`]) of `width`
/// channels (the width of its kernel panel).
#[derive(Clone, Copy)]
struct Tile {
    pixels: usize,
    width: usize,
}

/// `C[pixels × width] += A · panel` for one tile, `C` with row stride `kernel.n`: checks that
/// every value the micro-kernel will touch is inside the slices, then runs the micro-kernel
/// `kernel` was packed for.
fn multiply_tile(
    kernel: &PackedKernel,
    tile: Tile,
    input: &TileInput,
    panel: &[f32],
    c: &mut [f32],
) {
    let &TileInput {
        a,
        pixel_step,
        segments,
        segment_step,
        len,
    } = input;
    let Tile { pixels, width } = tile;
    let ldc = kernel.n;
    if pixels == 0 || segments == 0 || len == 0 {
        return;
    }
    let Blocking { mr, nr, .. } = kernel.micro_kernel.blocking();
    assert!(pixels <= mr, "a tile has at most {mr} pixels");
    assert!(
        width.is_multiple_of(CHANNEL_STEP) && (CHANNEL_STEP..=nr).contains(&width),
        "a tile is 16 to {nr} channels wide, in steps of 16"
    );
    let reach = (pixels - 1) * pixel_step + (segments - 1) * segment_step + len;
    assert!(
        a.len() >= reach,
        "tile input: {} values, reaches {reach}",
        a.len()
    );
    assert!(
        panel.len() >= segments * len * width,
        "tile panel too short"
    );
    assert!(
        c.len() >= (pixels - 1) * ldc + width,
        "tile output too short"
    );
    let steps = (segments, len, pixel_step, segment_step);
    let (a, panel, c) = (a.as_ptr(), panel.as_ptr(), c.as_mut_ptr());
    // SAFETY: a `PackedKernel` exists only when its micro-kernel's CPU features are present
    // (`for_micro_kernel`), and the asserts above bound every read of `a` and `panel` and every
    // write of `c` for a tile of `pixels × width`.
    match kernel.micro_kernel {
        MicroKernel::Avx2 => unsafe {
            micro_kernel_avx2::any_tile(pixels, width, steps, a, panel, c, ldc)
        },
        MicroKernel::Avx512 => unsafe {
            micro_kernel_avx512::any_tile(pixels, width, steps, a, panel, c, ldc)
        },
    }
}

// ANCHOR: convolve_packed
/// The convolution engine's fast path: `y[rows, cout] = bias + im2col(x) · kernel`, the same
/// result as [`super::conv::conv_im2col_gemm`], for a batch `x` of `n` images with geometry
/// `g`, followed by the per-channel maps `then` (none in training) band by band. The output is cut into bands of whole image rows (at least [`band_rows`] pixels),
/// computed in parallel by `convolve_band` with the micro-kernel `kernel` was packed for.
///
/// # Panics
/// If `kernel` does not have `g.patch_len()` rows or `x` holds fewer than `n` images (bugs in
/// the caller).
pub fn convolve_packed(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    kernel: &PackedKernel,
    bias: Option<&[f32]>,
    then: &[ChannelMap],
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
            apply_channel_maps(y_band.written_mut(), cout, then);
        },
    )
}

/// `y += im2col(x) · kernel` for output image rows `first_row ..` (row `n·ho + oy` is row `oy`
/// of image `n`), as many as `y` holds: blocks of the inner dimension, then blocks of about
/// `mc` pixels, then one kernel panel at a time, then tiles of up to `mr` pixels.
fn convolve_band(
    x: &[f32],
    g: &ConvGeometry,
    kernel: &PackedKernel,
    first_row: usize,
    y: &mut [f32],
) {
    let n = kernel.n;
    let Blocking { mr, kc, mc, .. } = kernel.micro_kernel.blocking();
    let rows = y.len() / (g.wo * n);
    let segment_len = g.kw * g.c;
    let rows_per_block = (mc / g.wo).max(1);
    EDGE_STRIPS.with_borrow_mut(|strips| {
        strips.fill(g, mr, x, first_row, rows);
        for (s0, segments, q0, len) in inner_blocks(kc, g.kh, segment_len) {
            for row0 in (0..rows).step_by(rows_per_block) {
                for j in 0..kernel.panel_count() {
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
                        for x0 in (0..g.wo).step_by(mr) {
                            let pixels = mr.min(g.wo - x0);
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
                            let tile = Tile {
                                pixels,
                                width: kernel.panel_width(j),
                            };
                            let c = &mut y[(row * g.wo + x0) * n + j * kernel.nr..];
                            multiply_tile(kernel, tile, &input, panel, c);
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

    /// Copy the windows of every edge tile (tiles of up to `mr` pixels) of image rows
    /// `first_row .. first_row + rows`.
    fn fill(&mut self, g: &ConvGeometry, mr: usize, x: &[f32], first_row: usize, rows: usize) {
        self.values.clear();
        self.tiles.clear();
        self.edges_per_row = (0..g.wo)
            .step_by(mr)
            .filter(|&x0| Self::is_edge(g, x0, mr.min(g.wo - x0)))
            .count();
        for row in 0..rows {
            let (image, oy) = ((first_row + row) / g.ho, (first_row + row) % g.ho);
            for x0 in (0..g.wo).step_by(mr) {
                let pixels = mr.min(g.wo - x0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const BOTH: [MicroKernel; 2] = [MicroKernel::Avx2, MicroKernel::Avx512];

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

    fn skipped(micro_kernel: MicroKernel) {
        crate::test_notice::notice(match micro_kernel {
            MicroKernel::Avx2 => "implicit_im2col tests: the AVX2 micro-kernel's checks are skipped: CPU lacks AVX2/FMA",
            MicroKernel::Avx512 => "implicit_im2col tests: the AVX-512 micro-kernel's checks are skipped: CPU lacks AVX-512F",
        });
    }

    #[test]
    fn packing_puts_each_value_in_its_panel() {
        // 48 columns: three panels of 16 for AVX2; one of 32 and one of 16 for AVX-512.
        let (k, n) = (3, 48);
        let b: Vec<f32> = (0..k * n).map(|v| v as f32).collect();
        for micro_kernel in BOTH {
            let Some(packed) = PackedKernel::for_micro_kernel(micro_kernel, &b, k, n) else {
                skipped(micro_kernel);
                continue;
            };
            let nr = micro_kernel.blocking().nr;
            let mut columns = 0;
            for j in 0..packed.panel_count() {
                let width = packed.panel_width(j);
                let panel = packed.panel(j, 0, k);
                for p in 0..k {
                    for q in 0..width {
                        assert_eq!(panel[p * width + q], b[p * n + j * nr + q]);
                    }
                }
                columns += width;
            }
            assert_eq!(
                columns, n,
                "{micro_kernel:?}: the panels cover every column"
            );
        }
    }

    #[test]
    fn columns_not_a_multiple_of_16_are_not_packed() {
        for micro_kernel in BOTH {
            assert!(!micro_kernel.can_compute(3, 24) && !micro_kernel.can_compute(0, 32));
            assert!(PackedKernel::for_micro_kernel(micro_kernel, &[0.0; 3 * 24], 3, 24).is_none());
            let wide = micro_kernel.max_channels() + CHANNEL_STEP;
            assert!(micro_kernel.can_compute(3, wide) && !micro_kernel.takes(3, wide));
        }
        let wide = micro_kernel_avx2::MAX_CHANNELS.max(micro_kernel_avx512::MAX_CHANNELS) + 16;
        assert!(PackedKernel::new(&vec![0.0; 3 * wide], 3, wide).is_none());
    }

    #[test]
    fn inner_blocks_cover_every_column_once_in_order() {
        for kc in [128, 256] {
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
                for (s0, count, q0, cols) in inner_blocks(kc, segments, len) {
                    assert!(count * cols <= kc);
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
    }

    /// Both micro-kernels as plain matrix products against the definition (in `f64`), on rows
    /// around each one's `mr` and `mc`, inner dimensions around its `kc`, one and several
    /// panels, a narrower last panel (48, 80, 112 channels for AVX-512). Tolerance `4·10⁻⁵·√k`
    /// for values of order 1: a sum of `k` products of values in `[−1, 1]` rounded once per
    /// fused multiply-add, a random walk of about `√k` roundings of `ε·|sum| ≈ 6·10⁻⁸·√k`.
    /// The two micro-kernels must also agree bit for bit (the same fused multiply-adds in the
    /// same order).
    #[test]
    fn multiply_add_matches_the_definition_on_every_edge() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for &(m, k, n) in &[
            (1, 1, 16),
            (5, 27, 32),
            (6, 27, 16),
            (7, 20, 48),
            (8, 27, 32),
            (9, 27, 80),
            (13, 300, 48),
            (14, 5, 112),
            (15, 64, 32),
            (120 + 7, 256 + 1, 32),
            (2 * 120, 2 * 256 + 5, 64),
            (7, 20, 128),
            (240 + 5, 256 + 3, 128),
            (3, 40, 256),
            (0, 9, 16),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let expected = naive(m, k, n, &a, &b, &c0);
            let mut results = Vec::new();
            for micro_kernel in BOTH {
                let Some(packed) = PackedKernel::for_micro_kernel(micro_kernel, &b, k, n) else {
                    skipped(micro_kernel);
                    continue;
                };
                let mut c = c0.clone();
                packed.multiply_add(m, &a, &mut c);
                let tolerance = 4e-5 * (k as f32).sqrt();
                for (index, (got, want)) in c.iter().zip(&expected).enumerate() {
                    assert!(
                        (got - want).abs() <= tolerance,
                        "{micro_kernel:?} m={m} k={k} n={n}: C[{index}] = {got}, expected {want}"
                    );
                }
                results.push(c);
            }
            if let [avx2, avx512] = &results[..] {
                let same = avx2
                    .iter()
                    .zip(avx512)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "m={m} k={k} n={n}: AVX2 and AVX-512 differ");
            }
        }
    }
}
