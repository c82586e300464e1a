//! Small numeric helpers shared by the maths modules: NumPy's pairwise sum (so sums
//! match scikit-learn to the bit), and the dot product and max-norm the logistic
//! regression uses, and the small Cholesky factor and solve of its preconditioner.
//!
//! A leaf: pure functions on `f64` slices, `std` only, nothing imported from the
//! rest of the crate. `threshold` and `encode` use [`numpy_sum`] (still re-exported
//! as `threshold::numpy_sum`); `model` uses `dot` and `inf_norm`.

/// `np.sum` of a contiguous float64 array: NumPy's pairwise summation.
///
/// Source: `pairwise_sum` in NumPy's `numpy/_core/src/umath/loops_utils.h.src`:
/// below 8 terms a plain loop from 0; up to 128 terms 8 interleaved accumulators
/// combined as `((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))`, the remainder added in turn;
/// above, split at a multiple of 8 near the middle and recurse. Checked bit for bit
/// against `np.sum` by the AP fixtures (5 to 1001 terms).
pub(crate) fn numpy_sum(a: &[f64]) -> f64 {
    pairwise_sum(a)
}

fn pairwise_sum(a: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, &v| s + v)
    } else if n <= BLOCK {
        let mut r = [0.0_f64; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[whole..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// Dot product with eight independent partial sums (so it vectorizes), combined
/// pairwise, then the tail.
#[inline(always)]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ta, tb) = (ca.remainder(), cb.remainder());
    let mut acc = [0.0_f64; 8];
    for (x, y) in ca.zip(cb) {
        for ((s, &xk), &yk) in acc.iter_mut().zip(x).zip(y) {
            *s += xk * yk;
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (x, y) in ta.iter().zip(tb) {
        s += x * y;
    }
    s
}

/// `max_i |a_i|` (0 for an empty slice).
pub(crate) fn inf_norm(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Cholesky factor of a symmetric positive definite `n x n` matrix (row-major,
/// lower triangle read), in place: on success `a`'s lower triangle holds `L` with
/// `A = L L^T` (Golub & Van Loan, *Matrix Computations*, 4th ed., Algorithm 4.2.1).
/// Returns false, leaving `a` partly overwritten, when a pivot is not positive and
/// finite (the matrix is not numerically positive definite).
pub(crate) fn cholesky_in_place(a: &mut [f64], n: usize) -> bool {
    assert_eq!(a.len(), n * n, "a is not n x n");
    for j in 0..n {
        let (done, rest) = a.split_at_mut(j * n);
        let row_j = &mut rest[..n];
        for k in 0..j {
            let row_k = &done[k * n..k * n + n];
            let s = row_j[k] - dot(&row_j[..k], &row_k[..k]);
            row_j[k] = s / row_k[k];
        }
        let d = row_j[j] - dot(&row_j[..j], &row_j[..j]);
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        row_j[j] = d.sqrt();
    }
    true
}

/// Solves `L L^T v = b` in place (`v` holds `b` on entry), with `L` from
/// [`cholesky_in_place`]: forward then back substitution.
pub(crate) fn cholesky_solve(l: &[f64], n: usize, v: &mut [f64]) {
    for i in 0..n {
        let s = v[i] - dot(&l[i * n..i * n + i], &v[..i]);
        v[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = v[i];
        for k in i + 1..n {
            s -= l[k * n + i] * v[k];
        }
        v[i] = s / l[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_sum_matches_plain_sum_on_exact_values() {
        // Integers are summed exactly in any order; checks the block logic covers
        // every element for all lengths around the 8 / 128 boundaries.
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 127, 128, 129, 130, 300, 1000] {
            let a: Vec<f64> = (1..=n).map(|v| v as f64).collect();
            assert_eq!(numpy_sum(&a), (n * (n + 1) / 2) as f64, "n = {n}");
        }
    }

    #[test]
    fn cholesky_solves_a_positive_definite_system() {
        // A = M M^T + I for a fixed M, b = A x for a known x.
        let n = 5;
        let m: Vec<f64> = (0..n * n)
            .map(|k| ((k * 7 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let x = [1.0, -2.0, 0.5, 3.0, -1.0];
        let mut b: Vec<f64> = (0..n).map(|i| dot(&a[i * n..i * n + n], &x)).collect();
        let mut l = a.clone();
        assert!(cholesky_in_place(&mut l, n));
        cholesky_solve(&l, n, &mut b);
        for (got, want) in b.iter().zip(x) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        // Not positive definite: refused.
        let mut bad = vec![1.0, 2.0, 2.0, 1.0];
        assert!(!cholesky_in_place(&mut bad, 2));
    }

    #[test]
    fn dot_matches_a_plain_loop_on_exact_values() {
        // Lengths around the 8-wide blocks; integer products sum exactly.
        for n in [0, 1, 7, 8, 9, 16, 17, 33] {
            let a: Vec<f64> = (0..n).map(|v| v as f64).collect();
            let b: Vec<f64> = (0..n).map(|v| (2 * v + 1) as f64).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(dot(&a, &b), plain, "n = {n}");
        }
        assert_eq!(inf_norm(&[1.0, -3.0, 2.0]), 3.0);
        assert_eq!(inf_norm(&[]), 0.0);
    }
}
