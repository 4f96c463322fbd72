//! The convolution's fast path on x86-64 CPUs with AVX2 and FMA: the kernel packed once per
//! call, im2col rows read straight from the input instead of copied, and a 6×16 micro-kernel
//! that keeps its tile of the output in registers.
//!
//! This file holds the micro-kernel and its sizes; the rest of the path (packing, blocks,
//! border strips), which the AVX-512 micro-kernel ([`super::micro_kernel_avx512`]) shares, is
//! in [`super::implicit_im2col`]. This documentation describes the whole path.
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
//! **When it is used.** On x86-64 CPUs with AVX2 and FMA but without AVX-512F (checked at run
//! time, once; see [`automatic_micro_kernel`]) and when the output has a multiple of 16
//! channels, at most [`MAX_CHANNELS`]: in the paper's network, the forward passes of blocks 1–3
//! and the input gradients of blocks 2–5 (the 3-channel input gradient of the first layer is
//! never computed in training). On a CPU with AVX-512F it runs with `LUMBAR_NO_AVX512=1`;
//! elsewhere, or with `LUMBAR_PORTABLE_GEMM=1` (to compare), [`PackedKernel::new`] returns
//! `None` and the convolution takes the portable path.
//!
//! [`automatic_micro_kernel`]: super::implicit_im2col::automatic_micro_kernel
//! [`PackedKernel::new`]: super::implicit_im2col::PackedKernel::new

use super::implicit_im2col::Blocking;

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

/// The tile and block sizes above, as the shared path reads them.
pub const BLOCKING: Blocking = Blocking {
    mr: MR,
    nr: NR,
    kc: KC,
    mc: MC,
};

/// Most output channels this path takes. Beyond (blocks 4 and 5 of the network) the packed
/// kernel is over a megabyte, more than the L2 cache, and is streamed again for every block of
/// [`MC`] pixels; `matrixmultiply`'s blocking measured faster there (`cargo bench --bench
/// conv_layers`, chapter 13).
pub const MAX_CHANNELS: usize = 128;

/// Whether this CPU has AVX2 and FMA (false off x86-64).
#[cfg(target_arch = "x86_64")]
pub fn cpu_has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Whether this CPU has AVX2 and FMA (false off x86-64).
#[cfg(not(target_arch = "x86_64"))]
pub fn cpu_has_avx2_fma() -> bool {
    false
}

/// The micro-kernel's entry point, off x86-64: never called, since no kernel is packed there.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn any_tile(
    _pixels: usize,
    _width: usize,
    _steps: (usize, usize, usize, usize),
    _a: *const f32,
    _panel: *const f32,
    _c: *mut f32,
    _ldc: usize,
) {
    unreachable!("no micro-kernel is packed off x86-64")
}

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::any_tile;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::NR;
    use std::arch::x86_64::*;

    /// [`tile`] for `pixels` (1 to 6) known only at run time; `width` is always [`NR`]
    /// (the panels are 16 wide).
    ///
    /// # Safety
    /// As [`tile`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn any_tile(
        pixels: usize,
        width: usize,
        steps: (usize, usize, usize, usize),
        a: *const f32,
        panel: *const f32,
        c: *mut f32,
        ldc: usize,
    ) {
        debug_assert_eq!(width, NR);
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
