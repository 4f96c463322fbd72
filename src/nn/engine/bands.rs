//! Bands: how a convolution's output rows are cut into pieces for the CPU cache and the cores.
//!
//! The im2col matrix of a whole batch would be `kh·kw` times the size of the input (gigabytes at
//! 256×256), so it is never built. The output rows are cut into bands of [`band_rows`] rows; one
//! rayon task computes one band, whose im2col rows (a few hundred kilobytes) stay in the cache.
//! Every output value is computed by one task, so the result does not depend on the thread count.
//! Every convolution engine ([`super::conv`] and the micro-kernels of [`super::implicit_im2col`])
//! uses these bands.

use super::parallel::OutputChunk;

/// Target size (in `f32` values) of one band of im2col rows: 256 KiB, an L2 cache's worth.
pub const BAND_FLOATS: usize = 1 << 16;
/// Fewest rows in a band, so that each GEMM call has enough rows to be efficient.
pub const MIN_BAND_ROWS: usize = 128;

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
    let cache_rows = cache_band_rows(patch_len);
    let packing_rows = (2 * cout).min(total_rows.div_ceil(MIN_BANDS));
    cache_rows.max(packing_rows)
}
// ANCHOR_END: band_rows

/// Rows of `patch_len` values that fill [`BAND_FLOATS`], at least [`MIN_BAND_ROWS`]: the band
/// that fits the cache, regardless of the kernel (the whole rule before chapter 13's change 2).
pub fn cache_band_rows(patch_len: usize) -> usize {
    (BAND_FLOATS / patch_len.max(1)).max(MIN_BAND_ROWS)
}

/// Fill a band of the output with the bias in every row (rows of `bias.len()` values), or with
/// zeros without a bias: the value the band's matrix product is then added to.
pub fn start_from_bias(y_band: &mut OutputChunk, bias: Option<&[f32]>) {
    match bias {
        Some(bias) => (0..y_band.len() / bias.len()).for_each(|_| y_band.push_slice(bias)),
        None => y_band.push_iter(std::iter::repeat(0.0)),
    }
}
