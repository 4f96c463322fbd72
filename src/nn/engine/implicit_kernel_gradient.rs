//! The kernel gradient of a convolution, `dK̂ = im2col(x)ᵀ · dy` (`[kh·kw·c, cout]`), with the
//! im2col rows read in place and a micro-kernel that keeps a 14 × 32 tile of `dK̂` in AVX-512
//! registers.
//!
//! The teaching path, [`super::conv::conv_kernel_gradient_direct`], writes the im2col rows of a
//! band, lets `matrixmultiply` copy them once more into its panel order and multiplies with its
//! AVX2 kernel. Here nothing is copied but the input itself, once per chunk of image rows.
//!
//! **The sum, turned around.** A value of the kernel gradient is a sum over every output pixel
//! `r` of the batch, `dK̂[q, o] = Σ_r col[r, q] · dy[r, o]`. It is the forward pass's product
//! with the roles swapped: there a tile of the *output* (pixels × channels) is summed over the
//! inner dimension `q`; here a tile of `dK̂` (kernel rows `q` × channels) is summed over the
//! pixels. For each pixel the micro-kernel loads the `W` registers of `dy[r, o0..]` and
//! broadcasts the tile's `R` values `col[r, q0..q0+R]`, then does `R·W` fused multiply-adds.
//!
//! **The im2col values are in the input.** Fix a kernel row `ky`: the `kw·c` values of pixel
//! `(n, oy, ox)` that belong to it are contiguous in the input row `oy + ky − pad_top`,
//! starting at column `ox − pad_left`, and the next pixel's start `c` values later. To read the
//! border without tests, each chunk of output rows first copies the input rows it needs into a
//! *slab* padded with the zeros of the border (`kw − 1` columns, `kh − 1` rows): then pixel
//! `(oy, ox)` and kernel value `q = kx·c + ch` of row `ky` is always
//! `slab[((oy − oy0 + ky)·ws + ox)·c + q]`, with `ws = wo + kw − 1`.
//!
//! **Chunks and parts.** A chunk is a few image rows of one image (about [`CHUNK_BYTES`] of
//! `dy` and slab, which stay in the L2 cache while every tile of `dK̂` passes over them). The
//! chunks are dealt in order to [`PARTS`] parts, each summing its own copy of `dK̂` in parallel;
//! the parts are then added in order. The chunks and parts depend on the shapes only, so the
//! result is the same on any number of threads. It differs from the teaching path's in the last
//! bits (another order of the sum); tests hold both to the nested loops.
//!
//! **When it is used** ([`implicit_kernel_gradient_applies`]), measured on an Intel Xeon
//! (family 6, model 167, AVX-512F), 2 threads, three interleaved rounds against im2col +
//! `matrixmultiply`: at 256×256, batch 16, the kernel gradients of the first seven convolutions
//! took 1.12–1.46 times less time here (`conv2d_1`: 67.7 against 98.6 ms); at 64×64, batch 32,
//! those with output rows of at least 16 pixels 1.07–4.6 times less, but those with 8 or 4
//! pixels per row (blocks 4–5 at that size) up to 2.3 times *more*: a tile then sums only a few
//! dozen pixels between loading and storing its 28 registers. So it takes outputs at least
//! [`MIN_ROW_PIXELS`] wide, on CPUs whose convolutions run the AVX-512 micro-kernel (not with
//! `LUMBAR_NO_AVX512=1` or `LUMBAR_PORTABLE_GEMM=1`). The same tile in AVX2 registers (6 × 16)
//! was measured too and was 1.1–1.8 times *slower* than `matrixmultiply` on every layer but the
//! first, so AVX2-only CPUs keep `matrixmultiply`.

use super::im2col::ConvGeometry;
use super::implicit_im2col::{automatic_micro_kernel, MicroKernel};
use super::parallel::sum_in_order;
use rayon::prelude::*;

/// The bytes of `dy` and input slab a chunk aims at (its image rows stay in the L2 cache).
pub const CHUNK_BYTES: usize = 384 * 1024;
/// Partial sums of `dK̂` computed in parallel and added in order (a fixed number, so that the
/// result does not depend on the thread count).
pub const PARTS: usize = 8;

/// Rows of `dK̂` (kernel values) in a full tile.
pub const TILE_ROWS: usize = 14;
/// Channels in a full tile: two AVX-512 registers. A last, narrower tile holds 16.
pub const TILE_WIDTH: usize = 32;
/// Fewest output pixels per image row for which [`implicit_kernel_gradient_applies`].
pub const MIN_ROW_PIXELS: usize = 16;

/// Whether this CPU can run the micro-kernel (AVX-512F) and it computes a kernel gradient into
/// `cout` channels: a positive multiple of 16.
pub fn implicit_kernel_gradient_runs(cout: usize) -> bool {
    MicroKernel::Avx512.cpu_has_it() && cout > 0 && cout.is_multiple_of(16)
}

/// Whether the kernel gradient of a convolution with geometry `g` into `cout` channels takes
/// this path in training (see "When it is used" above): the process's convolutions run the
/// AVX-512 micro-kernel, [`implicit_kernel_gradient_runs`], and output rows of at least
/// [`MIN_ROW_PIXELS`] pixels.
pub fn implicit_kernel_gradient_applies(g: &ConvGeometry, cout: usize) -> bool {
    automatic_micro_kernel() == Some(MicroKernel::Avx512)
        && implicit_kernel_gradient_runs(cout)
        && g.wo >= MIN_ROW_PIXELS
}

/// Output image rows per chunk for geometry `g` into `cout` channels: about [`CHUNK_BYTES`] of
/// `dy` rows and slab rows, at least one, at most the image's height.
pub fn chunk_rows(g: &ConvGeometry, cout: usize) -> usize {
    let slab_width = g.wo + g.kw - 1;
    let bytes_per_row = 4 * (g.wo * cout + slab_width * g.c);
    (CHUNK_BYTES / bytes_per_row.max(1)).clamp(1, g.ho.max(1))
}

/// The kernel gradient `dK̂ = im2col(x)ᵀ · dy` (`[kh·kw·g.c, cout]`) of `n` images `x` with
/// geometry `g` and output gradient `dy` (`[n, ho, wo, cout]`), by the AVX-512 micro-kernel.
///
/// # Panics
/// If [`implicit_kernel_gradient_runs`] is false for `cout`, or `x` or `dy` is shorter than
/// `n` images (bugs in the caller).
pub fn implicit_kernel_gradient(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    dy: &[f32],
    cout: usize,
) -> Vec<f32> {
    assert!(
        implicit_kernel_gradient_runs(cout),
        "the AVX-512 micro-kernel cannot compute a kernel gradient into {cout} channels on this CPU"
    );
    assert!(
        x.len() >= n * g.image_len(),
        "input too short for {n} images"
    );
    assert!(
        dy.len() >= n * g.out_pixels() * cout,
        "output gradient too short for {n} images"
    );
    let k = g.patch_len();
    let rows = chunk_rows(g, cout);
    let chunks: Vec<(usize, usize)> = (0..n)
        .flat_map(|image| (0..g.ho).step_by(rows).map(move |oy0| (image, oy0)))
        .collect();
    let parts = chunks.len().clamp(1, PARTS);
    let per_part = chunks.len().div_ceil(parts).max(1);
    let partials: Vec<Vec<f32>> = chunks
        .par_chunks(per_part)
        .map(|part| {
            let mut dk = vec![0.0f32; k * cout];
            let mut slab = Vec::new();
            for &(image, oy0) in part {
                let count = rows.min(g.ho - oy0);
                fill_slab(x, g, image, oy0, count, &mut slab);
                let dy_chunk =
                    &dy[(image * g.out_pixels() + oy0 * g.wo) * cout..][..count * g.wo * cout];
                chunk_gradient(g, count, &slab, dy_chunk, cout, &mut dk);
            }
            dk
        })
        .collect();
    sum_in_order(&partials, k * cout)
}

/// Copy the input rows that output rows `oy0 .. oy0 + count` of image `image` read into `slab`,
/// padded with the border's zeros: `slab[(t·ws + j)·c + ch] = x[image, oy0 − pad_top + t,
/// j − pad_left, ch]` (0 outside the image) for `t < count + kh − 1`, `j < ws = wo + kw − 1`.
fn fill_slab(
    x: &[f32],
    g: &ConvGeometry,
    image: usize,
    oy0: usize,
    count: usize,
    slab: &mut Vec<f32>,
) {
    let (c, ws) = (g.c, g.wo + g.kw - 1);
    let slab_rows = count + g.kh - 1;
    slab.clear();
    slab.resize(slab_rows * ws * c, 0.0);
    // Columns j = pad_left .. pad_left + w hold the image; the rest stay zero.
    let first = g.pad_left;
    let columns = g.w.min(ws.saturating_sub(first));
    for t in 0..slab_rows {
        let Some(iy) = (oy0 + t).checked_sub(g.pad_top).filter(|&iy| iy < g.h) else {
            continue;
        };
        let source = &x[((image * g.h + iy) * g.w) * c..][..columns * c];
        slab[(t * ws + first) * c..][..columns * c].copy_from_slice(source);
    }
}

/// `dk += im2col(chunk)ᵀ · dy_chunk` for the `count` output rows of one chunk, whose input is
/// `slab` ([`fill_slab`]): for every kernel row `ky`, block of tile rows in it and panel of
/// channels, one tile summed over all the chunk's pixels.
fn chunk_gradient(
    g: &ConvGeometry,
    count: usize,
    slab: &[f32],
    dy_chunk: &[f32],
    cout: usize,
    dk: &mut [f32],
) {
    let (rows, width) = (TILE_ROWS, TILE_WIDTH);
    let (c, ws) = (g.c, g.wo + g.kw - 1);
    let segment = g.kw * c;
    for ky in 0..g.kh {
        for q0 in (0..segment).step_by(rows) {
            let tile_rows = rows.min(segment - q0);
            for o0 in (0..cout).step_by(width) {
                let tile = Tile {
                    rows: tile_rows,
                    width: width.min(cout - o0),
                };
                let a = TileInput {
                    values: &slab[ky * ws * c + q0..],
                    row_step: ws * c,
                    pixel_step: c,
                };
                let b = TileInput {
                    values: &dy_chunk[o0..],
                    row_step: g.wo * cout,
                    pixel_step: cout,
                };
                let out = &mut dk[(ky * segment + q0) * cout + o0..];
                gradient_tile_sum(tile, (count, g.wo), &a, &b, out, cout);
            }
        }
    }
}

/// Where one operand of a tile is: the value of pixel `(row, column)` of the chunk starts at
/// `values[row·row_step + column·pixel_step]`.
struct TileInput<'a> {
    values: &'a [f32],
    row_step: usize,
    pixel_step: usize,
}

/// A tile of `dK̂`: `rows` kernel values × `width` channels.
#[derive(Clone, Copy)]
struct Tile {
    rows: usize,
    width: usize,
}

/// `out[j·ldc + o] += Σ_pixels a[pixel][j] · b[pixel][o]` for the tile's `rows × width` values,
/// over the `rows × columns` pixels of the chunk: checks that every value the micro-kernel will
/// read and write is inside the slices, then runs it.
fn gradient_tile_sum(
    tile: Tile,
    (pixel_rows, columns): (usize, usize),
    a: &TileInput,
    b: &TileInput,
    out: &mut [f32],
    ldc: usize,
) {
    let Tile { rows, width } = tile;
    if rows == 0 || pixel_rows == 0 || columns == 0 {
        return;
    }
    assert!(rows <= TILE_ROWS, "a tile has at most {TILE_ROWS} rows");
    assert!(
        width.is_multiple_of(16) && (16..=TILE_WIDTH).contains(&width),
        "a tile is 16 to {TILE_WIDTH} channels wide, in steps of 16"
    );
    let reach = |input: &TileInput, len: usize| {
        (pixel_rows - 1) * input.row_step + (columns - 1) * input.pixel_step + len
    };
    assert!(
        a.values.len() >= reach(a, rows),
        "tile input beyond the slab"
    );
    assert!(b.values.len() >= reach(b, width), "tile input beyond dy");
    assert!(
        out.len() >= (rows - 1) * ldc + width,
        "tile output too short"
    );
    assert!(
        MicroKernel::Avx512.cpu_has_it(),
        "the CPU lacks AVX-512F, the micro-kernel's instructions"
    );
    let steps = Steps {
        pixel_rows,
        columns,
        a_row: a.row_step,
        a_pixel: a.pixel_step,
        b_row: b.row_step,
        b_pixel: b.pixel_step,
    };
    let (a, b, out) = (a.values.as_ptr(), b.values.as_ptr(), out.as_mut_ptr());
    // SAFETY: the CPU has AVX-512F (asserted), and the asserts above bound every read of `a`
    // and `b` and every write of `out` for this tile.
    unsafe { tiles::avx512_tile(rows, width, steps, a, b, out, ldc) }
}

/// How the micro-kernel walks the chunk's pixels: `pixel_rows × columns` of them, the values of
/// pixel `(row, column)` at `row·a_row + column·a_pixel` in `a` and likewise in `b`.
#[derive(Clone, Copy)]
struct Steps {
    pixel_rows: usize,
    columns: usize,
    a_row: usize,
    a_pixel: usize,
    b_row: usize,
    b_pixel: usize,
}

#[cfg(not(target_arch = "x86_64"))]
mod tiles {
    use super::Steps;

    /// Never called off x86-64: no CPU there has the micro-kernels' instructions.
    pub unsafe fn avx512_tile(
        _: usize,
        _: usize,
        _: Steps,
        _: *const f32,
        _: *const f32,
        _: *mut f32,
        _: usize,
    ) {
        unreachable!("no micro-kernel runs off x86-64")
    }
}

#[cfg(target_arch = "x86_64")]
mod tiles {
    use super::Steps;
    use std::arch::x86_64::*;

    /// The AVX-512 tile for `rows` (1 to 14) and `width` (16 or 32) known at run time.
    ///
    /// # Safety
    /// AVX-512F, and `a`, `b`, `out` valid for the tile (see [`avx512`]).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512_tile(
        rows: usize,
        width: usize,
        steps: Steps,
        a: *const f32,
        b: *const f32,
        out: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            if width == 32 {
                avx512_rows::<2>(rows, steps, a, b, out, ldc)
            } else {
                avx512_rows::<1>(rows, steps, a, b, out, ldc)
            }
        }
    }

    /// [`avx512`] for `rows` known at run time.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn avx512_rows<const W: usize>(
        rows: usize,
        s: Steps,
        a: *const f32,
        b: *const f32,
        out: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            match rows {
                14 => avx512::<14, W>(s, a, b, out, ldc),
                13 => avx512::<13, W>(s, a, b, out, ldc),
                12 => avx512::<12, W>(s, a, b, out, ldc),
                11 => avx512::<11, W>(s, a, b, out, ldc),
                10 => avx512::<10, W>(s, a, b, out, ldc),
                9 => avx512::<9, W>(s, a, b, out, ldc),
                8 => avx512::<8, W>(s, a, b, out, ldc),
                7 => avx512::<7, W>(s, a, b, out, ldc),
                6 => avx512::<6, W>(s, a, b, out, ldc),
                5 => avx512::<5, W>(s, a, b, out, ldc),
                4 => avx512::<4, W>(s, a, b, out, ldc),
                3 => avx512::<3, W>(s, a, b, out, ldc),
                2 => avx512::<2, W>(s, a, b, out, ldc),
                _ => avx512::<1, W>(s, a, b, out, ldc),
            }
        }
    }

    // ANCHOR: gradient_micro_kernel
    /// The micro-kernel: `out[j·ldc + 16v + l] += Σ_pixels a[pixel + j] · b[pixel + 16v + l]`
    /// for `j < R`, `v < W`, `l < 16`: the tile of `dK̂` lives in `R·W` registers while every
    /// pixel of the chunk passes (`W` loads of `dy`, `R` broadcasts of the input, `R·W` fused
    /// multiply-adds per pixel).
    ///
    /// # Safety
    /// AVX-512F; `a` must address `R` values and `b` `16W` values at every pixel of `s`, and
    /// `out` `R` rows of `16W` values with row stride `ldc`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    #[allow(clippy::needless_range_loop)] // index loops mirror `sums[j][v]` of the formula
    unsafe fn avx512<const R: usize, const W: usize>(
        s: Steps,
        a: *const f32,
        b: *const f32,
        out: *mut f32,
        ldc: usize,
    ) {
        const LANES: usize = 16;
        unsafe {
            let mut sums = [[_mm512_setzero_ps(); W]; R];
            for j in 0..R {
                for v in 0..W {
                    sums[j][v] = _mm512_loadu_ps(out.add(j * ldc + v * LANES));
                }
            }
            for row in 0..s.pixel_rows {
                let (a_row, b_row) = (a.add(row * s.a_row), b.add(row * s.b_row));
                for column in 0..s.columns {
                    let (a_pixel, b_pixel) =
                        (a_row.add(column * s.a_pixel), b_row.add(column * s.b_pixel));
                    let mut dy = [_mm512_setzero_ps(); W];
                    for v in 0..W {
                        dy[v] = _mm512_loadu_ps(b_pixel.add(v * LANES));
                    }
                    for j in 0..R {
                        let x = _mm512_set1_ps(*a_pixel.add(j));
                        for v in 0..W {
                            sums[j][v] = _mm512_fmadd_ps(x, dy[v], sums[j][v]);
                        }
                    }
                }
            }
            for j in 0..R {
                for v in 0..W {
                    _mm512_storeu_ps(out.add(j * ldc + v * LANES), sums[j][v]);
                }
            }
        }
    }
    // ANCHOR_END: gradient_micro_kernel
}
