//! The convolution's fast path on x86-64 CPUs with AVX-512F: the same path as
//! [`super::micro_kernel_avx2`] (read that first), with a micro-kernel in 512-bit registers.
//! The packed kernel, the im2col rows read in place, the blocks and the border strips are
//! shared ([`super::implicit_im2col`]); this file holds only what differs: the tile, its sizes,
//! and the instructions.
//!
//! **Twice the registers, each twice as wide.** AVX-512 has 32 vector registers of 16 `f32`
//! (AVX2: 16 of 8). The tile is [`MR`]` × 32` = 14 pixels × 32 channels: `2·14 = 28`
//! accumulator registers, 2 for the 32 values of the kernel's row `p`, and 1 for the broadcast
//! input value, 31 of the 32. For each `p` it does 28 fused multiply-adds, 896 FLOP, for 16
//! loads (2 of the kernel, 14 broadcasts); the AVX2 tile does 192 FLOP for 8. A core that starts
//! two 512-bit multiply-adds per cycle, each ready 4 cycles later, needs at least 8 independent
//! accumulators to stay busy; 28 leave room, and 16 loads per 28 multiply-adds stay within the
//! two loads per cycle such a core can do. The generated code keeps all 28 accumulators in
//! registers (no spills; checked with `objdump -d`).
//!
//! **Why 14 × 32** (measured, `cargo bench --bench conv_layers -- compare` with
//! `RAYON_NUM_THREADS=1 LUMBAR_BENCH_CLOCK=cpu`, on an Intel Xeon, family 6, model 167, with
//! AVX2, FMA and AVX-512F). Tiles of 8, 12 and 14 pixels were compared against the AVX2 kernel
//! in the same run, as the time of the network's ten convolutions (forward and input gradient,
//! weighted by their FLOP) on AVX2 over that on AVX-512: at 256×256 (batch 4) 1.41 for 8
//! pixels, 1.42 for 12, 1.44 and 1.46 (two runs) for 14; at 64×64 (batch 32) 1.44–1.45 for all
//! three; at 32×32 (batch 32) 1.46, 1.45 and 1.43. More pixels per tile means fewer loads of
//! the kernel per multiply-add, which pays on the long rows of the paper's 256×256 images,
//! where the training hours are spent; on short rows a 14-pixel tile leaves more of a row to a
//! short last tile (rows of 32 pixels: 14 + 14 + 4), which costs a few per cent at 32×32.
//! Not tried: a tile one register wide (16 channels, up to 30 pixels) needs a load for every
//! multiply-add, at the limit of what a core can load; three or four registers wide (48 or 64
//! channels) leave room for only 9 or 6 pixels, and block 1's 32-channel layers, those with
//! the largest images, would not fill them.
//!
//! **Panels of 32 channels, the last one maybe 16.** The kernel is packed in panels of [`NR`]
//! = 32 columns. A channel count that is an odd multiple of 16 (16, 48, 80, 112) ends in a
//! 16-wide panel, which the same micro-kernel computes with one register per pixel (`W = 1`).
//!
//! **Block sizes.** A `KC × 32` panel of the kernel is 32 KiB at [`KC`] = 256, two thirds of
//! this CPU's 48 KiB L1 data cache, and the 14 pixels' inputs of a block take 14 KiB more.
//! `KC = 128` (a 16 KiB panel) measured 2–3 % slower at 256×256 and 64×64 (more passes over
//! the output tile), and pixel blocks of `MC = 240` instead of 120 no different, so both stay
//! as in the AVX2 path.
//!
//! **The same bits as the AVX2 micro-kernel**, on any number of threads: each output value
//! receives the same fused multiply-adds in the same order (see [`super::implicit_im2col`]);
//! only more of them run at once.
//!
//! **When it is used.** On x86-64 CPUs with AVX-512F (checked at run time, once), for outputs
//! with a multiple of 16 channels, at most [`MAX_CHANNELS`] = 256 (the AVX2 path stops at 128):
//! in the paper's network every convolution but the first layer's input gradient (never
//! computed) and block 5's forward passes. `LUMBAR_NO_AVX512=1` makes such a CPU run the AVX2
//! micro-kernel instead, and `LUMBAR_PORTABLE_GEMM=1` the portable path.

use super::implicit_im2col::Blocking;

/// Rows of the output (pixels) in one micro-kernel tile.
pub const MR: usize = 14;
/// Columns of the output (channels) in one tile: two AVX-512 registers of 16 `f32`. Also the
/// width of one panel of the packed kernel; the last panel is 16 wide when the channel count is
/// an odd multiple of 16.
pub const NR: usize = 32;
/// Target length of a block of the inner dimension: a `KC × NR` kernel panel is 32 KiB.
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

/// Most output channels this path takes: twice the AVX2 path's. Measured against
/// `matrixmultiply` (`cargo bench --bench conv_layers -- compare`, 2 threads, in interleaved
/// rounds at 256×256 batch 16 and 64×64 batch 32), the products with 256 output channels
/// (block 4, and the input gradient of block 5's first layer) took 2–23 % less time here; with
/// 512 (block 5's forward passes, and its second layer's input gradient) the two were level,
/// from 7 % slower to 4 % faster (on one thread this path was 5–11 % ahead there too), so
/// those stay with `matrixmultiply`, as for AVX2.
pub const MAX_CHANNELS: usize = 256;

/// Whether this CPU has AVX-512F (false off x86-64). AVX-512F includes the 512-bit fused
/// multiply-add, so nothing else is needed.
#[cfg(target_arch = "x86_64")]
pub fn cpu_has_avx512f() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// Whether this CPU has AVX-512F (false off x86-64).
#[cfg(not(target_arch = "x86_64"))]
pub fn cpu_has_avx512f() -> bool {
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
pub(super) use avx512::any_tile;

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Values in one 512-bit register.
    const LANES: usize = 16;

    /// [`tile`] for `pixels` (1 to [`super::MR`]) and `width` (16 or 32 channels, one or two
    /// registers per pixel) known only at run time.
    ///
    /// # Safety
    /// As [`tile`].
    #[target_feature(enable = "avx512f")]
    pub unsafe fn any_tile(
        pixels: usize,
        width: usize,
        steps: (usize, usize, usize, usize),
        a: *const f32,
        panel: *const f32,
        c: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            if width == 2 * LANES {
                rows::<2>(pixels, steps, a, panel, c, ldc)
            } else {
                rows::<1>(pixels, steps, a, panel, c, ldc)
            }
        }
    }

    /// [`tile`] for `pixels` known only at run time, `W` registers per pixel.
    ///
    /// # Safety
    /// As [`tile`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn rows<const W: usize>(
        pixels: usize,
        steps: (usize, usize, usize, usize),
        a: *const f32,
        panel: *const f32,
        c: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            match pixels {
                14 => tile::<14, W>(steps, a, panel, c, ldc),
                13 => tile::<13, W>(steps, a, panel, c, ldc),
                12 => tile::<12, W>(steps, a, panel, c, ldc),
                11 => tile::<11, W>(steps, a, panel, c, ldc),
                10 => tile::<10, W>(steps, a, panel, c, ldc),
                9 => tile::<9, W>(steps, a, panel, c, ldc),
                8 => tile::<8, W>(steps, a, panel, c, ldc),
                7 => tile::<7, W>(steps, a, panel, c, ldc),
                6 => tile::<6, W>(steps, a, panel, c, ldc),
                5 => tile::<5, W>(steps, a, panel, c, ldc),
                4 => tile::<4, W>(steps, a, panel, c, ldc),
                3 => tile::<3, W>(steps, a, panel, c, ldc),
                2 => tile::<2, W>(steps, a, panel, c, ldc),
                _ => tile::<1, W>(steps, a, panel, c, ldc),
            }
        }
    }

    // ANCHOR: micro_kernel
    /// The micro-kernel: `C[R×16W] += A[R×k] · panel[k×16W]` for `R` pixels and `W` registers
    /// of 16 channels per pixel, where the `k` columns of A are `segments` segments of `len`
    /// values: value `q` of segment `s` of pixel `r` is `a[r·pixel_step + s·segment_step + q]`.
    /// The tile of `C` (row stride `ldc`) lives in `R·W` registers from the first multiply-add
    /// to the last.
    ///
    /// # Safety
    /// AVX-512F; `a` must address those values, `panel` `segments·len·16W` values and `c` `R`
    /// rows of `16W` values.
    #[target_feature(enable = "avx512f")]
    #[inline]
    #[allow(clippy::needless_range_loop)] // index loops mirror `sums[r][v]` of the formula
    unsafe fn tile<const R: usize, const W: usize>(
        (segments, len, pixel_step, segment_step): (usize, usize, usize, usize),
        a: *const f32,
        panel: *const f32,
        c: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            let mut sums = [[_mm512_setzero_ps(); W]; R];
            for r in 0..R {
                for v in 0..W {
                    sums[r][v] = _mm512_loadu_ps(c.add(r * ldc + v * LANES));
                }
            }
            let mut b = panel;
            for s in 0..segments {
                let a_segment = a.add(s * segment_step);
                for q in 0..len {
                    let mut b_row = [_mm512_setzero_ps(); W];
                    for v in 0..W {
                        b_row[v] = _mm512_loadu_ps(b.add(v * LANES));
                    }
                    b = b.add(W * LANES);
                    for r in 0..R {
                        // One broadcast serves the W multiply-adds of pixel r (for W = 1 the
                        // compiler folds it into the multiply-add as a memory operand).
                        let a_rq = _mm512_set1_ps(*a_segment.add(r * pixel_step + q));
                        for v in 0..W {
                            sums[r][v] = _mm512_fmadd_ps(a_rq, b_row[v], sums[r][v]);
                        }
                    }
                }
            }
            for r in 0..R {
                for v in 0..W {
                    _mm512_storeu_ps(c.add(r * ldc + v * LANES), sums[r][v]);
                }
            }
        }
    }
    // ANCHOR_END: micro_kernel
}
