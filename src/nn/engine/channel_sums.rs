//! Per-channel sums of an `[M, C]` matrix, in `f64`, the same on any number of threads.
//!
//! Batch normalisation needs `Σ x`, `Σ x²` (forward) and `Σ g`, `Σ g·x̂` (backward) per channel,
//! over `M = N·H·W` rows: 2 million values per channel at 256×256. Summed in `f32` one after
//! the other they would lose digits; summed by whichever thread is free they would differ from
//! run to run. So the rows are cut into fixed blocks of [`rows_per_block`] rows, each block is
//! summed in `f64` by one rayon task, and the blocks' sums are added in block order.

use super::parallel::ELEMENTS_PER_TASK;
use rayon::prelude::*;

/// Rows of an `[M, C]` matrix per block (and rayon task): about [`ELEMENTS_PER_TASK`] values.
/// Depends on `c` only, never on the thread count.
pub fn rows_per_block(c: usize) -> usize {
    (ELEMENTS_PER_TASK / c.max(1)).max(1)
}

/// Per-channel sums `(Σ f(a, b).0, Σ f(a, b).1)` over the rows of two `[M, C]` row-major
/// matrices `a` and `b` (same length), each a vector of `c` values: summed in `f64` over fixed
/// row blocks in parallel, then the blocks added in order.
pub fn channel_sums(
    a: &[f32],
    b: &[f32],
    c: usize,
    f: impl Fn(f32, f32) -> (f64, f64) + Sync,
) -> (Vec<f64>, Vec<f64>) {
    let block = rows_per_block(c) * c;
    let partials: Vec<(Vec<f64>, Vec<f64>)> = a
        .par_chunks(block)
        .zip(b.par_chunks(block))
        .map(|(a_rows, b_rows)| {
            let (mut first, mut second) = (vec![0.0f64; c], vec![0.0f64; c]);
            for (a_row, b_row) in a_rows.chunks(c).zip(b_rows.chunks(c)) {
                for (((s1, s2), &va), &vb) in first
                    .iter_mut()
                    .zip(second.iter_mut())
                    .zip(a_row)
                    .zip(b_row)
                {
                    let (t1, t2) = f(va, vb);
                    *s1 += t1;
                    *s2 += t2;
                }
            }
            (first, second)
        })
        .collect();
    let (mut first, mut second) = (vec![0.0f64; c], vec![0.0f64; c]);
    for (p1, p2) in partials {
        first.iter_mut().zip(p1).for_each(|(s, v)| *s += v);
        second.iter_mut().zip(p2).for_each(|(s, v)| *s += v);
    }
    (first, second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_a_plain_loop_over_several_blocks() {
        let c = 3;
        let m = 2 * rows_per_block(c) + 5; // two full blocks and a remainder
        let a: Vec<f32> = (0..m * c)
            .map(|i| ((i % 97) as f32 - 48.0) * 0.01)
            .collect();
        let b: Vec<f32> = (0..m * c).map(|i| ((i % 13) as f32) * 0.5).collect();
        let (sum_a, sum_ab) = channel_sums(&a, &b, c, |x, y| (x as f64, (x * y) as f64));
        for ch in 0..c {
            let plain_a: f64 = (0..m).map(|r| a[r * c + ch] as f64).sum();
            let plain_ab: f64 = (0..m).map(|r| (a[r * c + ch] * b[r * c + ch]) as f64).sum();
            assert!((sum_a[ch] - plain_a).abs() < 1e-9, "channel {ch}");
            assert!((sum_ab[ch] - plain_ab).abs() < 1e-9, "channel {ch}");
        }
    }
}
