//! A safe, row-major wrapper around `matrixmultiply::sgemm`, the general matrix multiply
//! `C = op(A)·op(B) + β·C` on which convolution and dense layers are built.
//!
//! All matrices are row-major slices. `op(X)` is `X` or its transpose: a transposed operand is
//! simply read with swapped strides, nothing is copied.

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Use the matrix as stored.
    N,
    /// Use the transpose of the stored matrix.
    T,
}

// ANCHOR: gemm
/// `C[m×n] = op(A)[m×k] · op(B)[k×n] + beta · C`, all row-major.
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
    if m == 0 || n == 0 {
        return;
    }
    // (row stride, column stride) of op(A) and op(B) in the stored arrays.
    let (rsa, csa) = match op_a {
        Op::N => (k as isize, 1),
        Op::T => (1, m as isize),
    };
    let (rsb, csb) = match op_b {
        Op::N => (n as isize, 1),
        Op::T => (1, k as isize),
    };
    // SAFETY: the asserts above guarantee every index the kernel touches is in bounds:
    // op(A) reads rows < m and columns < k with the strides of an [m,k] or [k,m] array,
    // op(B) likewise for [k,n] / [n,k], and C is an [m,n] row-major array.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}
// ANCHOR_END: gemm

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
        let (m, k, n) = (3, 4, 5);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for op_a in [Op::N, Op::T] {
            for op_b in [Op::N, Op::T] {
                let mut c = vec![1.0; m * n];
                gemm(m, k, n, &a, op_a, &b, op_b, 1.0, &mut c);
                let want = naive(m, k, n, &a, op_a, &b, op_b);
                for (got, want) in c.iter().zip(&want) {
                    assert!((got - (want + 1.0)).abs() < 1e-5, "{op_a:?} {op_b:?}");
                }
            }
        }
    }
}
