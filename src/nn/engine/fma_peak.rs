//! The machine's measured FMA peak: how many single-precision FLOP per second the cores can do
//! when they do nothing but fused multiply-adds on registers. `lumbar bench` divides the
//! network's FLOP rate by it, so a speed figure says how much of the machine it uses.
//!
//! Each thread of the current rayon pool runs [`CHAINS`] independent chains
//! `acc = acc * a + b` in the widest vector registers the kernels use (512-bit with AVX-512F,
//! 256-bit with AVX2+FMA): enough chains to cover the FMA latency (4–5 cycles) on two FMA
//! ports, so the loop runs at the issue rate, not the latency. All threads run at once
//! (`rayon::broadcast`), since a core's clock may drop when its neighbour is busy too. The peak is the best of a few
//! repetitions (the machines are shared: the best run is the least disturbed).

use std::time::Instant;

/// Independent accumulator registers per thread: 2 FMA ports × 5 cycles of latency, rounded up.
pub const CHAINS: usize = 12;

/// Loop trips per timing: each trip is [`CHAINS`] FMAs per thread.
const TRIPS: u64 = 20_000_000;

/// Timings of which the best is kept.
const REPETITIONS: usize = 3;

/// A measured peak and the vector width it was measured with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FmaPeak {
    /// GFLOP/s of all threads together (one FMA = 2 FLOP per lane).
    pub gflops: f64,
    /// Single-precision lanes per register (16 for AVX-512, 8 for AVX2, 1 for scalar code).
    pub lanes: usize,
    /// Threads that ran at once.
    pub threads: usize,
}

impl FmaPeak {
    /// The higher of two measurements of the same pool (a disturbance only ever lowers a
    /// measured peak, so the higher one is closer to the machine's).
    pub fn better_of(self, other: FmaPeak) -> FmaPeak {
        if other.gflops > self.gflops {
            other
        } else {
            self
        }
    }
}

/// Measure the FMA peak of the current rayon pool (about 0.2–1 s).
pub fn measure_fma_peak() -> FmaPeak {
    let lanes = widest_lanes();
    let threads = rayon::current_num_threads();
    let best = (0..REPETITIONS)
        .map(|_| {
            let start = Instant::now();
            let checksums = rayon::broadcast(|_| fma_loop(lanes, TRIPS));
            let seconds = start.elapsed().as_secs_f64();
            // Use the results, or the compiler could drop the loop.
            assert!(checksums.iter().all(|c| c.is_finite()));
            seconds
        })
        .fold(f64::INFINITY, f64::min);
    let flops = 2.0 * (CHAINS * lanes) as f64 * TRIPS as f64 * threads as f64;
    FmaPeak {
        gflops: flops / best / 1e9,
        lanes,
        threads,
    }
}

/// The widest registers the convolution engine uses on this CPU.
fn widest_lanes() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return 16;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return 8;
        }
    }
    1
}

/// `trips` × [`CHAINS`] FMAs of `lanes` lanes; returns a sum of the accumulators.
fn fma_loop(lanes: usize, trips: u64) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if lanes == 16 {
            // SAFETY: `widest_lanes` returned 16 only after detecting AVX-512F.
            return unsafe { fma_loop_avx512(trips) };
        }
        if lanes == 8 {
            // SAFETY: `widest_lanes` returned 8 only after detecting AVX2 and FMA.
            return unsafe { fma_loop_avx2(trips) };
        }
    }
    fma_loop_scalar(trips)
}

/// The portable loop: [`CHAINS`] scalar `mul_add` chains.
fn fma_loop_scalar(trips: u64) -> f32 {
    let mut acc = [1.0f32; CHAINS];
    let (a, b) = (
        std::hint::black_box(0.999_999f32),
        std::hint::black_box(1e-7f32),
    );
    for _ in 0..trips {
        for x in acc.iter_mut() {
            *x = x.mul_add(a, b);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop_avx2(trips: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(std::hint::black_box(0.999_999));
    let b = _mm256_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..trips {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut out = [0.0f32; 8];
    let sum = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, x| _mm256_add_ps(s, *x));
    _mm256_storeu_ps(out.as_mut_ptr(), sum);
    out.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_loop_avx512(trips: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_ps(std::hint::black_box(0.999_999));
    let b = _mm512_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..trips {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let sum = acc
        .iter()
        .fold(_mm512_setzero_ps(), |s, x| _mm512_add_ps(s, *x));
    _mm512_reduce_add_ps(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loop_computes_the_same_chains() {
        // A short run of each loop the CPU can execute gives the scalar loop's result (per
        // lane), so the timed loops do the work they are credited with.
        let scalar = fma_loop_scalar(1000);
        let lanes = widest_lanes();
        let wide = fma_loop(lanes, 1000);
        assert!(
            (wide - scalar * lanes as f32).abs() <= 1e-3 * wide.abs(),
            "{wide} vs {scalar}"
        );
        if lanes == 1 {
            crate::test_notice::notice(
                "skipped the vector loops: this CPU has neither AVX2+FMA nor AVX-512F",
            );
        }
    }

    #[test]
    fn the_better_of_two_peaks_is_the_higher_either_way() {
        let low = FmaPeak {
            gflops: 87.6,
            lanes: 8,
            threads: 2,
        };
        let high = FmaPeak {
            gflops: 156.4,
            lanes: 8,
            threads: 2,
        };
        assert_eq!(low.better_of(high), high);
        assert_eq!(high.better_of(low), high);
    }
}
