//! The L2 logistic regression objective: the stable scalar functions
//! ([`log1p_exp`], [`sigmoid`], [`logistic_loss`]) and scikit-learn's penalized,
//! weighted objective with its gradient ([`objective_and_gradient`]) and its Hessian
//! ([`hessian`], the minimizer's preconditioner), each evaluated in fixed row blocks
//! spread over the cores (results do not depend on the thread count).
//!
//! Each formula's source is in its doc comment. Pure: `std` only.

use crate::matrix::Matrix;
use crate::numeric::dot;

/// `log(1 + exp(z))` without overflow or loss of precision:
/// `max(z, 0) + log1p(exp(-|z|))`.
fn log1p_exp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// The logistic function `1 / (1 + exp(-z))`, evaluated on the side that cannot
/// overflow.
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Logistic loss of one row with label `y` in {0, 1} and linear score `z`:
///
/// `l(y, z) = log(1 + exp(z)) - y z = (1 - y) log(1 + exp(z)) + y log(1 + exp(-z))`
///
/// the negative Bernoulli log-likelihood with `p = sigmoid(z)` (Hastie, Tibshirani
/// & Friedman, *The Elements of Statistical Learning*, 2nd ed., eq. 4.20; linfa's
/// `logistic_loss` and scikit-learn's `HalfBinomialLoss` use the same form). The
/// branch on `y` avoids the cancellation in `log(1 + exp(z)) - z` for large `z`.
pub(crate) fn logistic_loss(y: f64, z: f64) -> f64 {
    if y == 0.0 {
        log1p_exp(z)
    } else if y == 1.0 {
        log1p_exp(-z)
    } else {
        (1.0 - y) * log1p_exp(z) + y * log1p_exp(-z)
    }
}

/// scikit-learn's L2 logistic regression objective and its gradient:
///
/// `f(beta, b) = C * sum_i w_i * l(y_i, x_i . beta + b) + ||beta||^2 / 2`
///
/// `df/dbeta = C * X^T (w * (sigmoid(z) - y)) + beta`, `df/db = C * sum_i w_i
/// (sigmoid(z_i) - y_i)`; the intercept `b` is not penalized (scikit-learn user
/// guide, "Logistic regression", binary case with `r(w) = ||w||^2 / 2`).
///
/// `params` is `[beta_1..beta_p]` (no intercept) or `[beta_1..beta_p, b]` (the
/// intercept last, as scikit-learn); `grad` has the same length and is
/// overwritten. `X` is read once: each row gives `z_i`, its loss and its term of
/// `X^T r` in one pass, with one `exp` shared by the loss and the sigmoid. Rows with
/// weight 0 are skipped without reading them (cross-validation masks the held-out
/// fold that way instead of copying the other rows).
///
/// Rows are taken in blocks of [`BLOCK_ROWS`]; each block's sums are kept apart and
/// added in block order, so the value does not depend on how many threads ran the
/// blocks (large matrices use every core the process may run on). Panics if the
/// lengths disagree (callers check data first).
pub fn objective_and_gradient(
    x: &Matrix,
    y: &[f64],
    w: &[f64],
    c: f64,
    params: &[f64],
    grad: &mut [f64],
) -> f64 {
    let p = x.n_cols();
    assert!(
        params.len() == p || params.len() == p + 1,
        "params has {} values for {p} columns",
        params.len()
    );
    assert_eq!(grad.len(), params.len(), "grad and params lengths differ");
    assert!(
        y.len() == x.n_rows() && w.len() == x.n_rows(),
        "y, w and X rows disagree"
    );
    let (beta, intercept) = params.split_at(p);
    let b = intercept.first().copied().unwrap_or(0.0);
    let n = x.n_rows();
    // Per block: loss, sum of residuals, then the p gradient sums.
    let stride = p + 2;
    let data = x.data();
    let partial = in_blocks(n, BLOCK_ROWS, stride, |lo, hi, slot| {
        let (head, g) = slot.split_at_mut(2);
        let (loss, r_sum) =
            block_terms(&data[lo * p..hi * p], p, &y[lo..hi], &w[lo..hi], beta, b, g);
        head[0] = loss;
        head[1] = r_sum;
    });
    grad.fill(0.0);
    let (g_beta, g_b) = grad.split_at_mut(p);
    let mut loss = 0.0;
    let mut r_sum = 0.0;
    for slot in partial.chunks_exact(stride) {
        loss += slot[0];
        r_sum += slot[1];
        for (g, v) in g_beta.iter_mut().zip(&slot[2..]) {
            *g += v;
        }
    }
    for (g, &bj) in g_beta.iter_mut().zip(beta) {
        *g = c * *g + bj;
    }
    if let Some(gb) = g_b.first_mut() {
        *gb = c * r_sum;
    }
    c * loss + 0.5 * dot(beta, beta)
}

/// Rows per block of [`objective_and_gradient`] (about 1 MB of a 30-column matrix).
const BLOCK_ROWS: usize = 4096;
/// Most row blocks (each with its own `q x q` partial sum) of [`hessian`].
const HESSIAN_SLOTS: usize = 32;
/// Below this many rows the objective runs on the calling thread only.
const PARALLEL_MIN_ROWS: usize = 8 * BLOCK_ROWS;

/// Cores this process may run on (its CPU affinity), read once.
fn worker_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs `block(lo, hi, slot)` on every block of `block_rows` rows of `0..n`, each
/// with its own zeroed `stride`-long slot of the returned vector, spread over the
/// cores for large `n`. The caller adds the slots in block order, so its result does
/// not depend on how many threads ran them.
fn in_blocks<F>(n: usize, block_rows: usize, stride: usize, block: F) -> Vec<f64>
where
    F: Fn(usize, usize, &mut [f64]) + Sync,
{
    let n_blocks = n.div_ceil(block_rows).max(1);
    let mut partial = vec![0.0; n_blocks * stride];
    let threads = if n >= PARALLEL_MIN_ROWS {
        worker_threads().min(n_blocks)
    } else {
        1
    };
    let run = |first_block: usize, out: &mut [f64]| {
        for (k, slot) in out.chunks_exact_mut(stride).enumerate() {
            let lo = (first_block + k) * block_rows;
            block(lo, (lo + block_rows).min(n), slot);
        }
    };
    if threads <= 1 {
        run(0, &mut partial);
    } else {
        let per = n_blocks.div_ceil(threads);
        std::thread::scope(|s| {
            let mut parts = partial.chunks_mut(per * stride).enumerate();
            let first = parts.next();
            for (t, out) in parts {
                let run = &run;
                s.spawn(move || run(t * per, out));
            }
            if let Some((_, out)) = first {
                run(0, out);
            }
        });
    }
    partial
}

/// Hessian of [`objective_and_gradient`]'s objective, `q x q` row-major with
/// `q = params.len()` (the intercept last when fitted):
///
/// `H = C * X~^T diag(w * s (1 - s)) X~ + diag(1, ..., 1, 0)`, `s = sigmoid(z)`,
///
/// with `X~ = [X, 1]` when there is an intercept, which is not penalized (the
/// Hessian scikit-learn's `newton-cholesky` solver builds, `LinearModelLoss.
/// gradient_hessian` in `sklearn/linear_model/_linear_loss.py`). One pass over `X`,
/// `q (q + 1) / 2` products a row; rows with weight 0 are skipped.
pub fn hessian(x: &Matrix, w: &[f64], c: f64, params: &[f64]) -> Vec<f64> {
    let p = x.n_cols();
    let q = params.len();
    assert!(
        q == p || q == p + 1,
        "params has {q} values for {p} columns"
    );
    assert_eq!(w.len(), x.n_rows(), "w and X rows disagree");
    let (beta, intercept) = params.split_at(p);
    let b = intercept.first().copied().unwrap_or(0.0);
    let data = x.data();
    // At most HESSIAN_SLOTS partial matrices, whatever the rows: one per 4096-row
    // block would be 20 MB beside a 1M-member matrix (q = 73). The blocks depend on
    // the row count only, so the sum still does not depend on the threads.
    let n = x.n_rows();
    let block_rows = BLOCK_ROWS.max(n.div_ceil(HESSIAN_SLOTS));
    let partial = in_blocks(n, block_rows, q * q, |lo, hi, h| {
        hessian_block(&data[lo * p..hi * p], p, &w[lo..hi], beta, b, q > p, h);
    });
    let mut out = vec![0.0; q * q];
    for slot in partial.chunks_exact(q * q) {
        for (o, v) in out.iter_mut().zip(slot) {
            *o += v;
        }
    }
    for a in 0..q {
        for bcol in a..q {
            let v = c * out[a * q + bcol] + if a == bcol && a < p { 1.0 } else { 0.0 };
            out[a * q + bcol] = v;
            out[bcol * q + a] = v;
        }
    }
    out
}

/// Adds one block's `X~^T diag(w s (1 - s)) X~` into `h` (upper triangle and, with
/// an intercept, its last column), four rows at a time so that each row of `h` is
/// read and written once per four rows instead of once per row.
fn hessian_block(
    data: &[f64],
    p: usize,
    w: &[f64],
    beta: &[f64],
    b: f64,
    intercept: bool,
    h: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above); the same code with
            // wider vector registers, so the same bits (no FMA contraction).
            return unsafe { hessian_block_avx2(data, p, w, beta, b, intercept, h) };
        }
    }
    hessian_block_generic(data, p, w, beta, b, intercept, h)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn hessian_block_avx2(
    data: &[f64],
    p: usize,
    w: &[f64],
    beta: &[f64],
    b: f64,
    intercept: bool,
    h: &mut [f64],
) {
    hessian_block_generic(data, p, w, beta, b, intercept, h)
}

#[inline(always)]
fn hessian_block_generic(
    data: &[f64],
    p: usize,
    w: &[f64],
    beta: &[f64],
    b: f64,
    intercept: bool,
    h: &mut [f64],
) {
    let q = p + usize::from(intercept);
    // Rows with weight 0 are skipped; the others are taken four at a time (a short
    // last group repeats its first row with curvature 0, which adds exact zeros).
    let mut rows = (0..w.len()).filter(|&i| w[i] != 0.0).peekable();
    while rows.peek().is_some() {
        let mut idx = [0usize; 4];
        let mut cur = [0.0f64; 4];
        for k in 0..4 {
            match rows.next() {
                Some(i) => {
                    let s = sigmoid(dot(&data[i * p..(i + 1) * p], beta) + b);
                    idx[k] = i;
                    cur[k] = w[i] * s * (1.0 - s);
                }
                None => idx[k] = idx[0],
            }
        }
        let r = idx.map(|i| &data[i * p..(i + 1) * p]);
        for a in 0..p {
            let v = [
                cur[0] * r[0][a],
                cur[1] * r[1][a],
                cur[2] * r[2][a],
                cur[3] * r[3][a],
            ];
            let dst = &mut h[a * q + a..a * q + p];
            let it = dst
                .iter_mut()
                .zip(&r[0][a..])
                .zip(&r[1][a..])
                .zip(&r[2][a..])
                .zip(&r[3][a..]);
            for ((((d, &x0), &x1), &x2), &x3) in it {
                *d += (v[0] * x0 + v[1] * x1) + (v[2] * x2 + v[3] * x3);
            }
            if intercept {
                h[a * q + p] += (v[0] + v[1]) + (v[2] + v[3]);
            }
        }
        if intercept {
            h[p * q + p] += (cur[0] + cur[1]) + (cur[2] + cur[3]);
        }
    }
}

/// Loss and residual sums of one block of rows; adds `X_block^T r` into `g`.
fn block_terms(
    data: &[f64],
    p: usize,
    y: &[f64],
    w: &[f64],
    beta: &[f64],
    b: f64,
    g: &mut [f64],
) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above). The kernel is the
            // same code; AVX2 only widens its vector registers (Rust never contracts
            // a * b + c into an FMA, so both paths give the same bits).
            return unsafe { block_terms_avx2(data, p, y, w, beta, b, g) };
        }
    }
    block_terms_generic(data, p, y, w, beta, b, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn block_terms_avx2(
    data: &[f64],
    p: usize,
    y: &[f64],
    w: &[f64],
    beta: &[f64],
    b: f64,
    g: &mut [f64],
) -> (f64, f64) {
    block_terms_generic(data, p, y, w, beta, b, g)
}

#[inline(always)]
fn block_terms_generic(
    data: &[f64],
    p: usize,
    y: &[f64],
    w: &[f64],
    beta: &[f64],
    b: f64,
    g: &mut [f64],
) -> (f64, f64) {
    let mut loss = 0.0;
    let mut r_sum = 0.0;
    for (i, (&yi, &wi)) in y.iter().zip(w).enumerate() {
        if wi == 0.0 {
            continue;
        }
        let row = &data[i * p..(i + 1) * p];
        let z = dot(row, beta) + b;
        // e = exp(-|z|) gives both log(1 + exp(+-z)) and sigmoid(z) without overflow
        // (the same values as `log1p_exp` and `sigmoid`, to the bit).
        let e = (-z.abs()).exp();
        let l1p = e.ln_1p();
        let li = if yi == 0.0 {
            z.max(0.0) + l1p
        } else if yi == 1.0 {
            (-z).max(0.0) + l1p
        } else {
            (1.0 - yi) * (z.max(0.0) + l1p) + yi * ((-z).max(0.0) + l1p)
        };
        loss += wi * li;
        let sig = if z >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        let r = wi * (sig - yi);
        r_sum += r;
        for (gj, &xj) in g.iter_mut().zip(row) {
            *gj += r * xj;
        }
    }
    (loss, r_sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{FIXTURES, Fixture, Rng, case_weights, simulate};
    use crate::numeric::inf_norm;

    #[test]
    fn stable_scalar_functions() {
        assert_eq!(log1p_exp(1000.0), 1000.0);
        assert!((log1p_exp(-1000.0)).abs() < 1e-300);
        assert!((log1p_exp(0.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!((logistic_loss(1.0, 40.0) - (-40f64).exp()).abs() < 1e-30);
        assert!((logistic_loss(0.0, -3.0) - log1p_exp(-3.0)).abs() < 1e-16);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = Rng(7);
        let (x, y) = simulate(&mut rng, 60, -0.5, &[1.0, -2.0, 0.5]);
        let w: Vec<f64> = (0..60).map(|_| 0.1 + 2.0 * rng.uniform()).collect();
        for fit_intercept in [true, false] {
            let params: Vec<f64> = if fit_intercept {
                vec![0.3, -0.7, 0.2, -0.4]
            } else {
                vec![0.3, -0.7, 0.2]
            };
            let mut grad = vec![0.0; params.len()];
            let f = objective_and_gradient(&x, &y, &w, 0.7, &params, &mut grad);
            assert!(f.is_finite());
            let mut scratch = vec![0.0; params.len()];
            for j in 0..params.len() {
                let h = 1e-6;
                let mut p = params.clone();
                p[j] += h;
                let fp = objective_and_gradient(&x, &y, &w, 0.7, &p, &mut scratch);
                p[j] -= 2.0 * h;
                let fm = objective_and_gradient(&x, &y, &w, 0.7, &p, &mut scratch);
                let fd = (fp - fm) / (2.0 * h);
                assert!(
                    (fd - grad[j]).abs() <= 1e-6 * grad[j].abs().max(1.0),
                    "component {j}: analytic {} vs finite difference {fd}",
                    grad[j]
                );
            }
        }
    }

    #[test]
    fn hessian_matches_finite_differences_of_the_gradient() {
        let mut rng = Rng(11);
        let (x, y) = simulate(&mut rng, 80, -0.3, &[0.8, -1.5, 0.4]);
        // Some rows weigh 0: the Hessian skips them, as the objective does.
        let w: Vec<f64> = (0..80)
            .map(|i| {
                if i % 7 == 0 {
                    0.0
                } else {
                    0.1 + 2.0 * rng.uniform()
                }
            })
            .collect();
        for fit_intercept in [true, false] {
            let params: Vec<f64> = if fit_intercept {
                vec![0.3, -0.7, 0.2, -0.4]
            } else {
                vec![0.3, -0.7, 0.2]
            };
            let q = params.len();
            let h = hessian(&x, &w, 0.7, &params);
            let (mut gp, mut gm) = (vec![0.0; q], vec![0.0; q]);
            for j in 0..q {
                let step = 1e-6;
                let mut p = params.clone();
                p[j] += step;
                objective_and_gradient(&x, &y, &w, 0.7, &p, &mut gp);
                p[j] -= 2.0 * step;
                objective_and_gradient(&x, &y, &w, 0.7, &p, &mut gm);
                for k in 0..q {
                    let fd = (gp[k] - gm[k]) / (2.0 * step);
                    assert!(
                        (fd - h[k * q + j]).abs() <= 1e-6 * fd.abs().max(1.0),
                        "H[{k}][{j}]: analytic {} vs finite difference {fd}",
                        h[k * q + j]
                    );
                    assert_eq!(h[k * q + j], h[j * q + k], "symmetric");
                }
            }
        }
    }

    #[test]
    fn objective_matches_fixture_at_sklearn_solution() {
        let fx: Fixture = serde_json::from_str(FIXTURES[2].1).unwrap();
        let x = Matrix::from_rows(&fx.x).unwrap();
        for case in &fx.cases {
            let w = case_weights(&fx, case);
            let mut params = case.coef.clone();
            params.push(case.intercept);
            let mut grad = vec![0.0; params.len()];
            let f = objective_and_gradient(&x, &fx.y, &w, case.c, &params, &mut grad);
            assert!((f - case.objective).abs() <= 1e-12 * case.objective.abs());
            // At the minimizer the scaled gradient vanishes.
            let scale = case.c * w.iter().sum::<f64>();
            assert!(inf_norm(&grad) / scale < 1e-9);
        }
    }
}
