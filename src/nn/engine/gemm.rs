//! A safe, row-major wrapper around `matrixmultiply::sgemm`, the general matrix multiply
//! `C = op(A)·op(B) + β·C` on which convolution and dense layers are built.
//!
//! All matrices are row-major slices. `op(X)` is `X` or its transpose: a transposed operand is
//! simply read with swapped strides, nothing is copied.
//!
//! [`gemm`] runs on the calling thread; [`par_gemm`] splits the rows of `C` into fixed blocks
//! (see [`par_gemm_block_rows`]) and computes the blocks in parallel with rayon. Each entry of `C`
//! is still computed by one thread with the same sequence of operations, so the result is
//! bit-for-bit the same on any number of threads.

use rayon::prelude::*;

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Use the matrix as stored.
    N,
    /// Use the transpose of the stored matrix.
    T,
}

/// Fewest rows of `C` per parallel task in [`par_gemm`].
pub const PAR_GEMM_MIN_ROWS: usize = 64;
/// [`par_gemm`] cuts `C` into about this many blocks (when it has enough rows).
pub const PAR_GEMM_BLOCKS: usize = 8;

/// Rows of `C` per parallel task in [`par_gemm`] for a `C` of `m` rows: about
/// [`PAR_GEMM_BLOCKS`] blocks, enough to keep every core busy, but no more, because every task
/// re-packs the whole of `op(B)`; never fewer than [`PAR_GEMM_MIN_ROWS`] rows. It depends on
/// `m` only, so results never depend on the thread count.
pub fn par_gemm_block_rows(m: usize) -> usize {
    m.div_ceil(PAR_GEMM_BLOCKS).max(PAR_GEMM_MIN_ROWS)
}

/// (row stride, column stride) of `op(X)` for a matrix stored row-major with `rows × cols`
/// entries as `op(X)` sees them.
fn strides(op: Op, rows: usize, cols: usize) -> (isize, isize) {
    match op {
        Op::N => (cols as isize, 1), // stored [rows, cols]
        Op::T => (1, rows as isize), // stored [cols, rows]
    }
}

/// Check the slice lengths of `C[m×n] = op(A)[m×k]·op(B)[k×n]`.
fn check(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &[f32]) {
    assert!(
        a.len() >= m * k,
        "gemm: A holds {} values, needs {}",
        a.len(),
        m * k
    );
    assert!(
        b.len() >= k * n,
        "gemm: B holds {} values, needs {}",
        b.len(),
        k * n
    );
    assert!(
        c.len() >= m * n,
        "gemm: C holds {} values, needs {}",
        c.len(),
        m * n
    );
}

// ANCHOR: gemm
/// `C[m×n] = op(A)[m×k] · op(B)[k×n] + beta · C`, all row-major, on the calling thread.
///
/// With `Op::N`, `a` is stored `[m, k]`; with `Op::T` it is stored `[k, m]` (and likewise `b`
/// is `[k, n]` or `[n, k]`). `beta = 0` overwrites `c`, `beta = 1` accumulates into it.
///
/// # Panics
/// If a slice is shorter than its matrix; callers check shapes at the layer boundary, so this
/// is a bug in the caller, not bad user input.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    op_a: Op,
    b: &[f32],
    op_b: Op,
    beta: f32,
    c: &mut [f32],
) {
    check(m, k, n, a, b, c);
    let (rsa, csa) = strides(op_a, m, k);
    let (rsb, csb) = strides(op_b, k, n);
    // SAFETY: `check` guarantees every index the kernel touches is in bounds: op(A) reads rows
    // < m and columns < k with the strides of an [m,k] or [k,m] array, op(B) likewise for
    // [k,n] / [n,k], and C is an [m,n] row-major array.
    unsafe {
        sgemm_raw(
            m,
            k,
            n,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n,
        )
    }
}

// ANCHOR_END: gemm

/// Like [`gemm`], with the rows of `C` computed in parallel blocks of [`par_gemm_block_rows`].
#[allow(clippy::too_many_arguments)]
pub fn par_gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    op_a: Op,
    b: &[f32],
    op_b: Op,
    beta: f32,
    c: &mut [f32],
) {
    check(m, k, n, a, b, c);
    let block_rows = par_gemm_block_rows(m);
    if m <= block_rows || n == 0 {
        return gemm(m, k, n, a, op_a, b, op_b, beta, c);
    }
    let (rsa, csa) = strides(op_a, m, k);
    let (rsb, csb) = strides(op_b, k, n);
    c[..m * n]
        .par_chunks_mut(block_rows * n)
        .enumerate()
        .for_each(|(block, c_block)| {
            let first_row = block * block_rows;
            let rows = c_block.len() / n;
            // Row `first_row` of op(A) starts `first_row · rsa` values into `a`.
            let a_block = &a[first_row * rsa as usize..];
            // SAFETY: rows first_row..first_row+rows of op(A) lie inside `a` (checked above for
            // all m rows), so reading them from the offset slice with the same strides stays in
            // bounds; B and this block of C are as in `gemm`.
            unsafe {
                sgemm_raw(
                    rows,
                    k,
                    n,
                    a_block.as_ptr(),
                    rsa,
                    csa,
                    b.as_ptr(),
                    rsb,
                    csb,
                    beta,
                    c_block.as_mut_ptr(),
                    n,
                )
            }
        });
}

/// The one unsafe call: `matrixmultiply::sgemm` with α = 1 and a row-major `C` of width `ldc`.
///
/// # Safety
/// The pointers with their strides must address valid `[m×k]`, `[k×n]` and `[m×ldc]` matrices.
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm_raw(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    matrixmultiply::sgemm(
        m,
        k,
        n,
        1.0,
        a,
        rsa,
        csa,
        b,
        rsb,
        csb,
        beta,
        c,
        ldc as isize,
        1,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], op_a: Op, b: &[f32], op_b: Op) -> Vec<f32> {
        let at = |i: usize, p: usize| match op_a {
            Op::N => a[i * k + p],
            Op::T => a[p * m + i],
        };
        let bt = |p: usize, j: usize| match op_b {
            Op::N => b[p * n + j],
            Op::T => b[j * k + p],
        };
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn all_transpose_combinations_match_the_definition() {
        for (m, k, n) in [(3, 4, 5), (150, 7, 9)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            for op_a in [Op::N, Op::T] {
                for op_b in [Op::N, Op::T] {
                    let want = naive(m, k, n, &a, op_a, &b, op_b);
                    let mut serial = vec![1.0; m * n];
                    gemm(m, k, n, &a, op_a, &b, op_b, 1.0, &mut serial);
                    let mut parallel = vec![1.0; m * n];
                    par_gemm(m, k, n, &a, op_a, &b, op_b, 1.0, &mut parallel);
                    for (got, want) in serial.iter().zip(&want) {
                        assert!((got - (want + 1.0)).abs() < 1e-4, "{op_a:?} {op_b:?}");
                    }
                    assert_eq!(serial, parallel, "parallel blocks must give identical bits");
                }
            }
        }
    }
}
