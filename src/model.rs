//! Weighted L2 logistic regression: the objective, its minimizer, class weights,
//! grouped cross-validation over `C`, the Platt calibration, and the King & Zeng
//! prior correction (kept as a tested formula; training calibrates with Platt).
//!
//! This module owns everything between the encoded design matrix and a fitted,
//! population-calibrated linear score. It is pure and synchronous: no I/O,
//! `std` and `serde` only (scoped threads inside one objective evaluation). The objective is scikit-learn's
//! `LogisticRegression(penalty="l2")` objective, so a fit here and a fit there with
//! the same data, weights and `C` reach the same minimizer (checked against
//! committed scikit-learn fixtures in the tests below). The minimizer is a
//! self-contained L-BFGS with a More-Thuente line search, the same algorithm family
//! and stopping rules as scipy's `L-BFGS-B` that scikit-learn calls.
//!
//! Speed: the objective reads the design matrix once per evaluation and splits
//! large matrices over the cores the process may use, with a fixed block order
//! so results do not depend on the thread count; cross-validation masks the
//! held-out fold with zero weights instead of copying the training rows.
//!
//! Lifecycle: [`LogisticRegressionParams`] (checked) -> `fit` ->
//! [`FittedLogisticRegression`]; [`GridSearchParams`] (checked) -> `grid_search` ->
//! [`GridSearchResult`], which holds the refitted model.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::Matrix;

// ---- maths ----------------------------------------------------------------------

/// `log(1 + exp(z))` without overflow or loss of precision:
/// `max(z, 0) + log1p(exp(-|z|))`.
pub fn log1p_exp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// The logistic function `1 / (1 + exp(-z))`, evaluated on the side that cannot
/// overflow.
pub fn sigmoid(z: f64) -> f64 {
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
pub fn logistic_loss(y: f64, z: f64) -> f64 {
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
    let n_blocks = n.div_ceil(BLOCK_ROWS).max(1);
    // Per block: loss, sum of residuals, then the p gradient sums.
    let stride = p + 2;
    let mut partial = vec![0.0; n_blocks * stride];
    let threads = if n >= PARALLEL_MIN_ROWS {
        worker_threads().min(n_blocks)
    } else {
        1
    };
    let data = x.data();
    let run = |first_block: usize, out: &mut [f64]| {
        for (k, slot) in out.chunks_exact_mut(stride).enumerate() {
            let lo = (first_block + k) * BLOCK_ROWS;
            let hi = (lo + BLOCK_ROWS).min(n);
            let (head, g) = slot.split_at_mut(2);
            let (loss, r_sum) =
                block_terms(&data[lo * p..hi * p], p, &y[lo..hi], &w[lo..hi], beta, b, g);
            head[0] = loss;
            head[1] = r_sum;
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
pub const BLOCK_ROWS: usize = 4096;
/// Below this many rows the objective runs on the calling thread only.
const PARALLEL_MIN_ROWS: usize = 8 * BLOCK_ROWS;

/// Cores this process may run on (its CPU affinity), read once.
fn worker_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
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

/// Dot product with eight independent partial sums (so it vectorizes), combined
/// pairwise, then the tail.
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
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

fn inf_norm(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

// ---- estimator --------------------------------------------------------------------

/// Hyper-parameters of one logistic regression fit; `check` refuses bad values
/// before any work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegressionParams {
    /// Inverse regularization strength (scikit-learn's `C`), finite and > 0.
    pub c: f64,
    /// Stop when the largest gradient component of the objective divided by
    /// `C * sum(w)` is at most `tol` (scikit-learn passes `tol` as scipy's `gtol`
    /// on that scaled objective). Finite and > 0.
    pub tol: f64,
    /// Largest number of L-BFGS iterations, >= 1.
    pub max_iter: usize,
    /// Fit an unpenalized intercept.
    pub fit_intercept: bool,
}

impl Default for LogisticRegressionParams {
    /// `C = 1`, `tol = 1e-6`, `max_iter = 1000`, with intercept (tighter than
    /// scikit-learn's `tol = 1e-4, max_iter = 100`).
    fn default() -> Self {
        LogisticRegressionParams {
            c: 1.0,
            tol: 1e-6,
            max_iter: 1000,
            fit_intercept: true,
        }
    }
}

impl LogisticRegressionParams {
    /// Refuses `c` or `tol` that are not finite and > 0, and `max_iter == 0`.
    pub fn check(&self) -> Result<()> {
        check_c("c", self.c)?;
        check_tol(self.tol)?;
        check_max_iter(self.max_iter)
    }

    /// Minimizes [`objective_and_gradient`] for `x`, labels `y` (0/1) and
    /// per-row weights `sample_weight` (class weights times sampling weights; >= 0).
    /// `warm_start` gives the starting coefficients (the minimizer does not depend
    /// on it, only the number of iterations does). Not reaching `tol` within
    /// `max_iter` is not an error: the result says `converged: false`.
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        sample_weight: &[f64],
        warm_start: Option<&FittedLogisticRegression>,
    ) -> Result<FittedLogisticRegression> {
        self.check()?;
        check_training_data(x, y, sample_weight)?;
        self.fit_checked(x, y, sample_weight, warm_start)
    }

    /// [`Self::fit`] on data already checked by [`check_training_data`] (the grid
    /// search checks once, not once per fit).
    fn fit_checked(
        &self,
        x: &Matrix,
        y: &[f64],
        sample_weight: &[f64],
        warm_start: Option<&FittedLogisticRegression>,
    ) -> Result<FittedLogisticRegression> {
        let p = x.n_cols();
        let mut x0 = vec![0.0; p + usize::from(self.fit_intercept)];
        if let Some(start) = warm_start {
            if start.coef.len() != p || start.coef.iter().any(|v| !v.is_finite()) {
                return Err(Error::params(
                    "warm_start",
                    format!("{p} finite coefficients"),
                    format!("{} coefficients", start.coef.len()),
                ));
            }
            x0[..p].copy_from_slice(&start.coef);
            if self.fit_intercept && start.intercept.is_finite() {
                x0[p] = start.intercept;
            }
        }
        // Minimize f / (C * sum w): the same minimizer, gradients of order one, and
        // `tol` means what it means in scikit-learn.
        let scale = self.c * sample_weight.iter().sum::<f64>();
        let c = self.c;
        let out = minimize_lbfgs(
            |params, grad| {
                let f = objective_and_gradient(x, y, sample_weight, c, params, grad);
                grad.iter_mut().for_each(|g| *g /= scale);
                f / scale
            },
            x0,
            &LbfgsOptions {
                memory: 10,
                max_iter: self.max_iter,
                gtol: self.tol,
                ftol: 64.0 * f64::EPSILON,
                max_line_search: 50,
            },
        );
        if !out.f.is_finite() || out.x.iter().any(|v| !v.is_finite()) {
            return Err(Error::data(
                "logistic regression diverged to non-finite coefficients",
                "check the feature matrix for extreme values, or lower C",
            ));
        }
        let mut coef = out.x;
        let intercept = if self.fit_intercept {
            coef.pop().unwrap_or(0.0)
        } else {
            0.0
        };
        Ok(FittedLogisticRegression {
            coef,
            intercept,
            c: self.c,
            n_iter: out.n_iter,
            objective: out.f * scale,
            converged: out.converged,
        })
    }
}

/// A fitted model: `P(y = 1 | x) = sigmoid(x . coef + intercept)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedLogisticRegression {
    /// One coefficient per column of the training matrix.
    pub coef: Vec<f64>,
    /// Intercept (0 when fitted without one; the calibration maps it with the slope).
    pub intercept: f64,
    /// The `C` it was fitted with.
    pub c: f64,
    /// L-BFGS iterations used.
    pub n_iter: usize,
    /// Objective at the solution, `C * sum w l + ||beta||^2 / 2`.
    pub objective: f64,
    /// Whether a stopping rule (gradient or relative objective change) was met.
    pub converged: bool,
}

impl FittedLogisticRegression {
    /// Linear score `row . coef + intercept`; `row` must have `coef.len()` values
    /// ([`Self::predict_proba`] checks this for a whole matrix).
    pub fn decision_function(&self, row: &[f64]) -> f64 {
        debug_assert_eq!(row.len(), self.coef.len());
        dot(row, &self.coef) + self.intercept
    }

    /// `sigmoid(decision_function(row))` for every row; refuses a matrix whose
    /// column count differs from the model's.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vec<f64>> {
        if x.n_cols() != self.coef.len() {
            return Err(Error::data(
                format!(
                    "feature matrix has {} columns but the model has {} coefficients",
                    x.n_cols(),
                    self.coef.len()
                ),
                "score with the same feature spec the model was trained with",
            ));
        }
        Ok(x.rows()
            .map(|row| sigmoid(self.decision_function(row)))
            .collect())
    }
}

fn check_c(name: &str, c: f64) -> Result<()> {
    if c.is_finite() && c > 0.0 {
        Ok(())
    } else {
        Err(Error::params(name, "a finite number > 0", c))
    }
}

fn check_tol(tol: f64) -> Result<()> {
    if tol.is_finite() && tol > 0.0 {
        Ok(())
    } else {
        Err(Error::params("tol", "a finite number > 0", tol))
    }
}

fn check_max_iter(max_iter: usize) -> Result<()> {
    if max_iter >= 1 {
        Ok(())
    } else {
        Err(Error::params("max_iter", "an integer >= 1", max_iter))
    }
}

/// Labels in {0, 1}.
fn check_labels(y: &[f64]) -> Result<()> {
    match y.iter().position(|&v| v != 0.0 && v != 1.0) {
        None => Ok(()),
        Some(i) => Err(Error::data(
            format!("label of row {i} is {}, not 0 or 1", y[i]),
            "map the label column to 0/1 before fitting",
        )),
    }
}

/// Weights finite and >= 0, one per row.
fn check_weights(name: &str, w: &[f64], n: usize) -> Result<()> {
    if w.len() != n {
        return Err(Error::params(
            name,
            format!("{n} values (one per row)"),
            format!("{} values", w.len()),
        ));
    }
    match w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        None => Ok(()),
        Some(i) => Err(Error::data(
            format!("{name} of row {i} is {}, not a finite number >= 0", w[i]),
            "check the class weights and sampling weights",
        )),
    }
}

/// Everything `fit` needs from its inputs: shapes agree, labels 0/1, weights >= 0,
/// finite features, and both classes with positive total weight.
fn check_training_data(x: &Matrix, y: &[f64], w: &[f64]) -> Result<()> {
    let n = x.n_rows();
    if n == 0 {
        return Err(Error::data("no training rows", "widen the training window"));
    }
    if y.len() != n {
        return Err(Error::params(
            "y",
            format!("{n} labels (one per row)"),
            format!("{} labels", y.len()),
        ));
    }
    check_labels(y)?;
    check_weights("sample_weight", w, n)?;
    if let Some(k) = x.data().iter().position(|v| !v.is_finite()) {
        let p = x.n_cols().max(1);
        return Err(Error::data(
            format!(
                "feature matrix row {} column {} is {}",
                k / p,
                k % p,
                x.data()[k]
            ),
            "impute or drop non-finite features before fitting",
        ));
    }
    let (w_neg, w_pos) = class_totals(y, w);
    if w_pos <= 0.0 || w_neg <= 0.0 {
        let absent = if w_pos <= 0.0 { "positive" } else { "negative" };
        return Err(Error::data(
            format!(
                "training rows have no {absent} row with weight > 0; logistic regression needs both classes"
            ),
            "widen the training window or check the label column",
        ));
    }
    Ok(())
}

/// Total weight of the negative and positive rows.
fn class_totals(y: &[f64], w: &[f64]) -> (f64, f64) {
    y.iter().zip(w).fold((0.0, 0.0), |(neg, pos), (&yi, &wi)| {
        if yi == 1.0 {
            (neg, pos + wi)
        } else {
            (neg + wi, pos)
        }
    })
}

// ---- L-BFGS -------------------------------------------------------------------------

struct LbfgsOptions {
    memory: usize,
    max_iter: usize,
    /// Stop when `max_i |g_i| <= gtol` (scipy's `pgtol`; no bounds, so the projected
    /// gradient is the gradient).
    gtol: f64,
    /// Stop when `(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= ftol` (scipy's
    /// `factr * epsmch`).
    ftol: f64,
    max_line_search: usize,
}

struct LbfgsOutcome {
    x: Vec<f64>,
    f: f64,
    n_iter: usize,
    converged: bool,
}

/// Largest step the line search may take (scipy's `stpmx` for unbounded problems).
const MAX_STEP: f64 = 1e10;

/// Limited-memory BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
/// Algorithm 7.4 two-loop recursion with `H0 = (s.y / y.y) I`, Algorithm 7.5) with
/// the More-Thuente line search. A failed line search clears the memory and retries
/// along the steepest descent; a second failure in a row stops (not converged).
fn minimize_lbfgs<F>(mut fg: F, x0: Vec<f64>, opts: &LbfgsOptions) -> LbfgsOutcome
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut f = fg(&x, &mut g);
    if !f.is_finite() {
        return LbfgsOutcome {
            x,
            f,
            n_iter: 0,
            converged: false,
        };
    }
    if inf_norm(&g) <= opts.gtol {
        return LbfgsOutcome {
            x,
            f,
            n_iter: 0,
            converged: true,
        };
    }
    let mut hist: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(opts.memory);
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = vec![0.0; opts.memory];
    let mut n_iter = 0;
    let mut converged = false;
    while n_iter < opts.max_iter {
        two_loop(&hist, &g, &mut d, &mut alpha);
        let mut dg = dot(&d, &g);
        if dg.is_nan() || dg >= 0.0 {
            hist.clear();
            d.iter_mut().zip(&g).for_each(|(di, gi)| *di = -gi);
            dg = -dot(&g, &g);
        }
        let stp0 = if hist.is_empty() {
            (1.0 / dot(&d, &d).sqrt()).min(MAX_STEP)
        } else {
            1.0
        };
        let ls = more_thuente(
            |stp| {
                for ((xn, xi), di) in x_new.iter_mut().zip(&x).zip(&d) {
                    *xn = xi + stp * di;
                }
                let fv = fg(&x_new, &mut g_new);
                (fv, dot(&g_new, &d))
            },
            f,
            dg,
            stp0,
            opts.max_line_search,
        );
        if !ls.sufficient {
            if hist.is_empty() {
                break;
            }
            hist.clear();
            continue;
        }
        n_iter += 1;
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &yv);
        if sy > f64::EPSILON * dot(&yv, &yv) {
            if hist.len() == opts.memory {
                hist.pop_front();
            }
            hist.push_back((s, yv, 1.0 / sy));
        }
        let f_old = f;
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        f = ls.f;
        if inf_norm(&g) <= opts.gtol || f_old - f <= opts.ftol * f_old.abs().max(f.abs()).max(1.0) {
            converged = true;
            break;
        }
    }
    LbfgsOutcome {
        x,
        f,
        n_iter,
        converged,
    }
}

/// `d = -H g` by the two-loop recursion over the stored pairs `(s, y, 1 / s.y)`.
fn two_loop(
    hist: &VecDeque<(Vec<f64>, Vec<f64>, f64)>,
    g: &[f64],
    d: &mut [f64],
    alpha: &mut [f64],
) {
    d.copy_from_slice(g);
    for (k, (s, y, rho)) in hist.iter().enumerate().rev() {
        let a = rho * dot(s, d);
        alpha[k] = a;
        d.iter_mut().zip(y).for_each(|(di, yi)| *di -= a * yi);
    }
    if let Some((s, y, _)) = hist.back() {
        let gamma = dot(s, y) / dot(y, y);
        d.iter_mut().for_each(|di| *di *= gamma);
    }
    for (k, (s, y, rho)) in hist.iter().enumerate() {
        let b = rho * dot(y, d);
        let a = alpha[k];
        d.iter_mut().zip(s).for_each(|(di, si)| *di += (a - b) * si);
    }
    d.iter_mut().for_each(|di| *di = -*di);
}

struct LineSearchOutcome {
    /// Objective at the last evaluated step (the caller's trial buffers hold it).
    f: f64,
    /// Whether that step satisfies the sufficient decrease condition.
    sufficient: bool,
}

/// The interval of uncertainty of the More-Thuente search: best step `stx` so far
/// and the other end `sty`, with function values and derivatives.
#[derive(Clone, Copy)]
struct Bracket {
    stx: f64,
    fx: f64,
    dx: f64,
    sty: f64,
    fy: f64,
    dy: f64,
    brackt: bool,
}

/// More & Thuente (1994), "Line search algorithms with guaranteed sufficient
/// decrease", ACM TOMS 20(3): finds a step satisfying the strong Wolfe conditions
/// `phi(stp) <= phi(0) + ftol stp phi'(0)` and `|phi'(stp)| <= gtol |phi'(0)|`
/// with `ftol = 1e-3, gtol = 0.9, xtol = 0.1` (MINPACK-2 `dcsrch`, the values
/// L-BFGS-B uses). `phi(stp)` returns `(value, derivative)`.
fn more_thuente<P>(
    mut phi: P,
    f0: f64,
    dg0: f64,
    mut stp: f64,
    max_eval: usize,
) -> LineSearchOutcome
where
    P: FnMut(f64) -> (f64, f64),
{
    const FTOL: f64 = 1e-3;
    const GTOL: f64 = 0.9;
    const XTOL: f64 = 0.1;
    const XTRAPL: f64 = 1.1;
    const XTRAPU: f64 = 4.0;
    const STPMIN: f64 = 0.0;
    let gtest = FTOL * dg0;
    let mut width = MAX_STEP - STPMIN;
    let mut width1 = 2.0 * width;
    let mut br = Bracket {
        stx: 0.0,
        fx: f0,
        dx: dg0,
        sty: 0.0,
        fy: f0,
        dy: dg0,
        brackt: false,
    };
    let mut stage1 = true;
    let mut stmin = 0.0;
    let mut stmax = stp + XTRAPU * stp;
    let mut n_eval = 0;
    loop {
        let (f, g) = phi(stp);
        n_eval += 1;
        let ftest = f0 + stp * gtest;
        let sufficient = f.is_finite() && f <= ftest;
        if !f.is_finite() || !g.is_finite() {
            // Overflow far along the direction: step back towards the best point.
            if n_eval >= max_eval {
                return LineSearchOutcome { f, sufficient };
            }
            stmax = stp;
            stp = br.stx + 0.25 * (stp - br.stx);
            continue;
        }
        if stage1 && sufficient && g >= 0.0 {
            stage1 = false;
        }
        let done = (br.brackt && (stp <= stmin || stp >= stmax || stmax - stmin <= XTOL * stmax))
            || (stp == MAX_STEP && sufficient && g <= gtest)
            || (stp == STPMIN && (f > ftest || g >= gtest))
            || (sufficient && g.abs() <= GTOL * (-dg0));
        if done || n_eval >= max_eval {
            return LineSearchOutcome { f, sufficient };
        }
        if stage1 && f <= br.fx && f > ftest {
            // Use the modified function psi(stp) = phi(stp) - phi(0) - ftol stp phi'(0).
            let mut m = Bracket {
                fx: br.fx - br.stx * gtest,
                dx: br.dx - gtest,
                fy: br.fy - br.sty * gtest,
                dy: br.dy - gtest,
                ..br
            };
            stp = dcstep(&mut m, stp, f - stp * gtest, g - gtest, stmin, stmax);
            br = Bracket {
                fx: m.fx + m.stx * gtest,
                dx: m.dx + gtest,
                fy: m.fy + m.sty * gtest,
                dy: m.dy + gtest,
                ..m
            };
        } else {
            stp = dcstep(&mut br, stp, f, g, stmin, stmax);
        }
        if br.brackt {
            if (br.sty - br.stx).abs() >= 0.66 * width1 {
                stp = br.stx + 0.5 * (br.sty - br.stx);
            }
            width1 = width;
            width = (br.sty - br.stx).abs();
            stmin = br.stx.min(br.sty);
            stmax = br.stx.max(br.sty);
        } else {
            stmin = stp + XTRAPL * (stp - br.stx);
            stmax = stp + XTRAPU * (stp - br.stx);
        }
        stp = if stp.is_nan() {
            br.stx
        } else {
            stp.clamp(STPMIN, MAX_STEP)
        };
        if br.brackt && (stp <= stmin || stp >= stmax || stmax - stmin <= XTOL * stmax) {
            stp = br.stx;
        }
    }
}

/// One safeguarded step of More & Thuente (1994), section 4 (MINPACK-2 `dcstep`):
/// updates the bracket with the trial `(stp, fp, dp)` and returns the next trial
/// step from cubic and quadratic interpolation, kept within `[stpmin, stpmax]`.
fn dcstep(br: &mut Bracket, stp: f64, fp: f64, dp: f64, stpmin: f64, stpmax: f64) -> f64 {
    let (stx, fx, dx) = (br.stx, br.fx, br.dx);
    let (sty, fy, dy) = (br.sty, br.fy, br.dy);
    let sgnd = dp * dx.signum();
    let stpf;
    if fp > fx {
        // Case 1: higher value; the minimum is bracketed.
        let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (dx / s) * (dp / s)).max(0.0).sqrt();
        if stp < stx {
            gamma = -gamma;
        }
        let p = (gamma - dx) + theta;
        let q = ((gamma - dx) + gamma) + dp;
        let stpc = stx + (p / q) * (stp - stx);
        let stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx);
        stpf = if (stpc - stx).abs() < (stpq - stx).abs() {
            stpc
        } else {
            stpc + (stpq - stpc) / 2.0
        };
        br.brackt = true;
    } else if sgnd < 0.0 {
        // Case 2: lower value, derivatives of opposite sign; bracketed.
        let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (dx / s) * (dp / s)).max(0.0).sqrt();
        if stp > stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + dx;
        let stpc = stp + (p / q) * (stx - stp);
        let stpq = stp + (dp / (dp - dx)) * (stx - stp);
        stpf = if (stpc - stp).abs() > (stpq - stp).abs() {
            stpc
        } else {
            stpq
        };
        br.brackt = true;
    } else if dp.abs() < dx.abs() {
        // Case 3: lower value, same sign, derivative decreases in magnitude.
        let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (dx / s) * (dp / s)).max(0.0).sqrt();
        if stp > stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = (gamma + (dx - dp)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            stp + r * (stx - stp)
        } else if stp > stx {
            stpmax
        } else {
            stpmin
        };
        let stpq = stp + (dp / (dp - dx)) * (stx - stp);
        if br.brackt {
            let t = if (stpc - stp).abs() < (stpq - stp).abs() {
                stpc
            } else {
                stpq
            };
            stpf = if stp > stx {
                t.min(stp + 0.66 * (sty - stp))
            } else {
                t.max(stp + 0.66 * (sty - stp))
            };
        } else {
            let t = if (stpc - stp).abs() > (stpq - stp).abs() {
                stpc
            } else {
                stpq
            };
            stpf = t.min(stpmax).max(stpmin);
        }
    } else {
        // Case 4: lower value, same sign, derivative does not decrease.
        stpf = if br.brackt {
            let theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
            let s = theta.abs().max(dy.abs()).max(dp.abs());
            let mut gamma = s * ((theta / s).powi(2) - (dy / s) * (dp / s)).max(0.0).sqrt();
            if stp > sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + dy;
            stp + (p / q) * (sty - stp)
        } else if stp > stx {
            stpmax
        } else {
            stpmin
        };
    }
    if fp > fx {
        br.sty = stp;
        br.fy = fp;
        br.dy = dp;
    } else {
        if sgnd < 0.0 {
            br.sty = stx;
            br.fy = fx;
            br.dy = dx;
        }
        br.stx = stp;
        br.fx = fp;
        br.dx = dp;
    }
    stpf
}

// ---- class weights ------------------------------------------------------------------

/// How rows of each class are weighted in the loss.
///
/// Serialized as `"balanced"`, `"none"` or `{ positive = .., negative = .. }`
/// (`negative` defaults to 1), the config file's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ClassWeightRepr", into = "ClassWeightRepr")]
pub enum ClassWeight {
    /// scikit-learn's `"balanced"`: `n_samples / (n_classes * bincount(y))`.
    Balanced,
    /// Every row weight 1.
    None,
    /// Fixed weights for the positive and negative class (finite, > 0).
    Explicit { positive: f64, negative: f64 },
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ClassWeightRepr {
    Name(String),
    Weights {
        positive: f64,
        #[serde(default = "one")]
        negative: f64,
    },
}

fn one() -> f64 {
    1.0
}

impl TryFrom<ClassWeightRepr> for ClassWeight {
    type Error = String;

    fn try_from(r: ClassWeightRepr) -> std::result::Result<Self, String> {
        let cw = match r {
            ClassWeightRepr::Name(s) => match s.trim().to_ascii_lowercase().as_str() {
                "balanced" => ClassWeight::Balanced,
                "none" => ClassWeight::None,
                _ => {
                    return Err(format!(
                        "class_weight: expected \"balanced\", \"none\" or {{ positive = .., negative = .. }}, found \"{s}\""
                    ));
                }
            },
            ClassWeightRepr::Weights { positive, negative } => {
                ClassWeight::Explicit { positive, negative }
            }
        };
        cw.check().map_err(|e| e.to_string())?;
        Ok(cw)
    }
}

impl From<ClassWeight> for ClassWeightRepr {
    fn from(cw: ClassWeight) -> Self {
        match cw {
            ClassWeight::Balanced => ClassWeightRepr::Name("balanced".into()),
            ClassWeight::None => ClassWeightRepr::Name("none".into()),
            ClassWeight::Explicit { positive, negative } => {
                ClassWeightRepr::Weights { positive, negative }
            }
        }
    }
}

impl ClassWeight {
    /// Refuses explicit weights that are not finite and > 0.
    pub fn check(&self) -> Result<()> {
        if let ClassWeight::Explicit { positive, negative } = *self {
            check_c("class_weight.positive", positive)?;
            check_c("class_weight.negative", negative)?;
        }
        Ok(())
    }

    /// `(negative, positive)` class weights for labels `y` (0/1). With
    /// `sample_weight`, `Balanced` counts weighted rows, as scikit-learn's
    /// `compute_class_weight("balanced", .., sample_weight=..)` does (>= 1.6):
    /// `weight_k = sum(w) / (2 * sum_{y_i = k} w_i)`. `Balanced` refuses labels
    /// where a class is absent (or has zero total weight).
    pub fn class_weights(&self, y: &[f64], sample_weight: Option<&[f64]>) -> Result<(f64, f64)> {
        self.check()?;
        check_labels(y)?;
        match *self {
            ClassWeight::None => Ok((1.0, 1.0)),
            ClassWeight::Explicit { positive, negative } => Ok((negative, positive)),
            ClassWeight::Balanced => {
                let (neg, pos) = match sample_weight {
                    Some(w) => {
                        check_weights("sample_weight", w, y.len())?;
                        class_totals(y, w)
                    }
                    None => {
                        let pos = y.iter().filter(|&&v| v == 1.0).count() as f64;
                        (y.len() as f64 - pos, pos)
                    }
                };
                if pos <= 0.0 || neg <= 0.0 {
                    let absent = if pos <= 0.0 { "positive" } else { "negative" };
                    return Err(Error::data(
                        format!(
                            "class_weight \"balanced\" needs both classes, but no {absent} row is present"
                        ),
                        "widen the training window, or set model.class_weight to \"none\"",
                    ));
                }
                let total = neg + pos;
                Ok((total / (2.0 * neg), total / (2.0 * pos)))
            }
        }
    }

    /// One weight per row: its class weight (unweighted counts for `Balanced`).
    pub fn sample_weights(&self, y: &[f64]) -> Result<Vec<f64>> {
        let (neg, pos) = self.class_weights(y, None)?;
        Ok(y.iter()
            .map(|&v| if v == 1.0 { pos } else { neg })
            .collect())
    }

    /// scikit-learn's `fit(X, y, sample_weight)` with this `class_weight`: class
    /// weights from weighted counts, multiplied into `sample_weight` row by row.
    pub fn sample_weights_with(&self, y: &[f64], sample_weight: &[f64]) -> Result<Vec<f64>> {
        check_weights("sample_weight", sample_weight, y.len())?;
        let (neg, pos) = self.class_weights(y, Some(sample_weight))?;
        Ok(y.iter()
            .zip(sample_weight)
            .map(|(&v, &w)| w * if v == 1.0 { pos } else { neg })
            .collect())
    }
}

// ---- prior correction ---------------------------------------------------------------

/// Weighted positive fraction `ybar = sum_i w_i y_i / sum_i w_i`: the positive
/// share the model effectively saw (pass the product of class and sampling weights).
pub fn effective_positive_fraction(y: &[f64], w: &[f64]) -> Result<f64> {
    check_labels(y)?;
    check_weights("sample_weight", w, y.len())?;
    let (neg, pos) = class_totals(y, w);
    if neg + pos <= 0.0 {
        return Err(Error::data(
            "the training weights sum to zero",
            "check the class weights and sampling weights",
        ));
    }
    Ok(pos / (neg + pos))
}

/// Intercept shift of the prior correction (King & Zeng 2001, "Logistic
/// Regression in Rare Events Data", *Political Analysis* 9(2), eq. 7):
///
/// `shift = -ln[((1 - tau) / tau) * (ybar / (1 - ybar))]`
///
/// where `ybar` (`sample_positive_fraction`) is the effective positive fraction the
/// model was trained on (see [`effective_positive_fraction`]) and `tau`
/// (`population_positive_fraction`) the positive fraction of the population to be
/// scored. Add it to the fitted intercept so that `sigmoid(x . beta + b + shift)`
/// estimates population probabilities; it is 0 when `ybar == tau`. Both fractions
/// must lie strictly between 0 and 1.
pub fn prior_correction_shift(
    sample_positive_fraction: f64,
    population_positive_fraction: f64,
) -> Result<f64> {
    for (name, v) in [
        ("sample_positive_fraction", sample_positive_fraction),
        ("population_positive_fraction", population_positive_fraction),
    ] {
        if !(v > 0.0 && v < 1.0) {
            return Err(Error::params(
                name,
                "a fraction strictly between 0 and 1",
                v,
            ));
        }
    }
    let (ybar, tau) = (sample_positive_fraction, population_positive_fraction);
    Ok(-(((1.0 - tau) / tau) * (ybar / (1.0 - ybar))).ln())
}

// ---- calibration --------------------------------------------------------------------

/// Platt scaling: `p = sigmoid(a + b z)` maps a linear score `z` to a probability.
///
/// Fitted by [`PlattParams::fit`] on out-of-fold linear scores weighted back to the
/// population, so that it undoes what class weights and downsampling did to the
/// scale of `z`, for the fold models and the refit alike (they share one scale).
/// One affine map and a sigmoid: it compiles to one SQL expression.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FittedPlatt {
    /// Intercept of the map.
    pub a: f64,
    /// Slope of the map (positive when the scores rank the right way).
    pub b: f64,
}

impl FittedPlatt {
    /// The identity map on the logit scale: `p = sigmoid(z)`.
    pub const IDENTITY: FittedPlatt = FittedPlatt { a: 0.0, b: 1.0 };

    /// `sigmoid(a + b z)`.
    pub fn apply(&self, z: f64) -> f64 {
        sigmoid(self.a + self.b * z)
    }
}

/// Stopping rule of the Newton iterations of [`PlattParams::fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlattParams {
    /// Largest number of Newton steps, >= 1.
    pub max_iter: usize,
    /// Stop when the largest gradient component, divided by the total weight, is at
    /// most this. Finite and > 0.
    pub tol: f64,
}

impl Default for PlattParams {
    fn default() -> Self {
        PlattParams {
            max_iter: 100,
            tol: 1e-12,
        }
    }
}

/// Platt's smoothed targets (Platt 1999, "Probabilistic Outputs for Support Vector
/// Machines", sec. 2.2; scikit-learn's `_sigmoid_calibration`): a positive row aims at
/// `(N+ + 1) / (N+ + 2)`, a negative one at `1 / (N- + 2)`, with `N+`, `N-` the
/// weighted counts of each class (as scikit-learn counts them when given sample
/// weights). They keep `a` and `b` finite on separable scores.
pub fn platt_targets(y: &[f64], w: &[f64]) -> (f64, f64) {
    let (neg, pos) = class_totals(y, w);
    ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0))
}

impl PlattParams {
    /// Refuses `max_iter == 0` and a `tol` that is not finite and > 0.
    pub fn check(&self) -> Result<()> {
        check_tol(self.tol)?;
        check_max_iter(self.max_iter)
    }

    /// Minimizes the weighted cross-entropy of the smoothed targets `t_i`
    /// ([`platt_targets`]) against `sigmoid(a + b z_i)`:
    ///
    /// `L(a, b) = sum_i w_i [ -t_i log p_i - (1 - t_i) log(1 - p_i) ]`,
    /// gradient `sum_i w_i (p_i - t_i) (1, z_i)`, Hessian
    /// `sum_i w_i p_i (1 - p_i) (1, z_i)(1, z_i)^T`,
    ///
    /// by Newton's method with step halving (the objective is convex). This is
    /// scikit-learn's `CalibratedClassifierCV(method="sigmoid")` objective; its
    /// `(A, B)` with `p = 1 / (1 + exp(A f + B))` are `(-b, -a)` here.
    pub fn fit(&self, z: &[f64], y: &[f64], w: &[f64]) -> Result<FittedPlatt> {
        self.check()?;
        check_labels(y)?;
        check_weights("sample_weight", w, y.len())?;
        if z.len() != y.len() {
            return Err(Error::params(
                "scores",
                format!("one score per label ({})", y.len()),
                z.len(),
            ));
        }
        if let Some(v) = z.iter().find(|v| !v.is_finite()) {
            return Err(Error::data(
                format!("a linear score to calibrate is not finite ({v})"),
                "check the features fed to the model for NaN or infinite values",
            ));
        }
        let (neg_w, pos_w) = class_totals(y, w);
        if pos_w <= 0.0 || neg_w <= 0.0 {
            return Err(Error::data(
                "the calibration needs positive and negative rows with weight",
                "widen the training window",
            ));
        }
        let (t_pos, t_neg) = platt_targets(y, w);
        let total = pos_w + neg_w;
        let loss = |a: f64, b: f64| -> f64 {
            z.iter()
                .zip(y)
                .zip(w)
                .map(|((&zi, &yi), &wi)| {
                    let t = if yi == 1.0 { t_pos } else { t_neg };
                    wi * logistic_loss(t, a + b * zi)
                })
                .sum::<f64>()
        };
        // Start where the base rate is right and the scores are taken as they are.
        let rate = (pos_w / total).clamp(1e-12, 1.0 - 1e-12);
        let (mut a, mut b) = ((rate / (1.0 - rate)).ln(), 1.0);
        let mut f = loss(a, b);
        for _ in 0..self.max_iter {
            let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for ((&zi, &yi), &wi) in z.iter().zip(y).zip(w) {
                let t = if yi == 1.0 { t_pos } else { t_neg };
                let p = sigmoid(a + b * zi);
                let r = wi * (p - t);
                let h = wi * p * (1.0 - p);
                g0 += r;
                g1 += r * zi;
                h00 += h;
                h01 += h * zi;
                h11 += h * zi * zi;
            }
            if g0.abs().max(g1.abs()) / total <= self.tol {
                break;
            }
            let det = h00 * h11 - h01 * h01;
            let (da, db) = if det > 0.0 && det.is_finite() {
                ((h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det)
            } else {
                // A flat direction (all scores equal): move the intercept only.
                (g0 / h00.max(f64::MIN_POSITIVE), 0.0)
            };
            let mut step = 1.0;
            let mut improved = false;
            for _ in 0..60 {
                let (na, nb) = (a - step * da, b - step * db);
                let nf = loss(na, nb);
                if nf <= f {
                    improved = nf < f;
                    a = na;
                    b = nb;
                    f = nf;
                    break;
                }
                step *= 0.5;
            }
            if !improved {
                break;
            }
        }
        if !(a.is_finite() && b.is_finite()) {
            return Err(Error::data(
                "the calibration of the scores diverged",
                "check that the training window has both classes",
            ));
        }
        Ok(FittedPlatt { a, b })
    }
}

// ---- grid search --------------------------------------------------------------------

/// Cross-validation over `C`: grouped folds given by the caller, scored by average
/// precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSearchParams {
    /// Candidate `C` values, each finite and > 0 (searched in ascending order;
    /// duplicates are searched once).
    pub c_grid: Vec<f64>,
    /// Number of folds, >= 2; fold ids run over `0..n_folds`.
    pub n_folds: usize,
    /// `tol` of every fit.
    pub tol: f64,
    /// `max_iter` of every fit.
    pub max_iter: usize,
}

/// Cross-validated average precision of one `C`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvScore {
    pub c: f64,
    /// Mean of `fold_ap`.
    pub mean_ap: f64,
    /// Population standard deviation of `fold_ap` (as scikit-learn's
    /// `std_test_score`).
    pub std_ap: f64,
    /// Held-out average precision of each fold, by fold id.
    pub fold_ap: Vec<f64>,
    /// Whether every fold's fit met its stopping rule.
    pub all_converged: bool,
}

/// What [`GridSearchParams::grid_search`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSearchResult {
    /// One entry per distinct `C`, ascending.
    pub scores: Vec<CvScore>,
    /// Index into `scores` of the chosen `C`.
    pub best_index: usize,
    /// The chosen `C`: highest mean AP, the smaller `C` on ties.
    pub best_c: f64,
    /// Out-of-fold probability of every training row under the chosen `C` (each
    /// row scored once, by the fit that did not see its fold). Not serialized.
    #[serde(skip)]
    pub oof_scores: Vec<f64>,
    /// The same rows' out-of-fold linear scores `x . beta + b` (what a calibration
    /// is fitted on). Not serialized.
    #[serde(skip)]
    pub oof_decision: Vec<f64>,
    /// The refit on all rows with the chosen `C`.
    pub model: FittedLogisticRegression,
}

impl GridSearchParams {
    /// Refuses an empty grid, a `C` that is not finite and > 0, fewer than 2
    /// folds, and bad `tol` / `max_iter`.
    pub fn check(&self) -> Result<()> {
        if self.c_grid.is_empty() {
            return Err(Error::params(
                "c_grid",
                "at least one C value",
                "an empty list",
            ));
        }
        for &c in &self.c_grid {
            check_c("c_grid", c)?;
        }
        if self.n_folds < 2 {
            return Err(Error::params("cv_folds", "an integer >= 2", self.n_folds));
        }
        check_tol(self.tol)?;
        check_max_iter(self.max_iter)
    }

    /// For each `C` (ascending), fits on all folds but one (warm-started from the
    /// previous `C`'s fit of the same fold), scores the held-out fold by weighted
    /// average precision, and averages over folds; picks the best `C` and refits
    /// on all rows.
    ///
    /// `class_weight_w` weights the training loss (class times sampling weights);
    /// `eval_weight` weights the held-out rows in the average precision (for
    /// example the inverse of each row's sampling rate); `folds[i]` is the fold id
    /// of row `i`, assigned by member so that a member's rows share a fold.
    pub fn grid_search(
        &self,
        x: &Matrix,
        y: &[f64],
        class_weight_w: &[f64],
        eval_weight: &[f64],
        folds: &[usize],
    ) -> Result<GridSearchResult> {
        self.check()?;
        check_training_data(x, y, class_weight_w)?;
        let n = x.n_rows();
        check_weights("eval_weight", eval_weight, n)?;
        if folds.len() != n {
            return Err(Error::params(
                "folds",
                format!("{n} fold ids (one per row)"),
                format!("{} ids", folds.len()),
            ));
        }
        let k = self.n_folds;
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (i, &f) in folds.iter().enumerate() {
            match members.get_mut(f) {
                Some(m) => m.push(i),
                None => {
                    return Err(Error::params(
                        "folds",
                        format!("fold ids in 0..{k}"),
                        format!("id {f} at row {i}"),
                    ));
                }
            }
        }
        for (fold, held) in members.iter().enumerate() {
            let (tw_neg, tw_pos) =
                (0..n)
                    .filter(|&i| folds[i] != fold)
                    .fold((0.0, 0.0), |(a, b), i| {
                        if y[i] == 1.0 {
                            (a, b + class_weight_w[i])
                        } else {
                            (a + class_weight_w[i], b)
                        }
                    });
            let held_pos: f64 = held
                .iter()
                .filter(|&&i| y[i] == 1.0)
                .map(|&i| eval_weight[i])
                .sum();
            if held.is_empty() || held_pos <= 0.0 || tw_pos <= 0.0 || tw_neg <= 0.0 {
                return Err(Error::data(
                    format!(
                        "cross-validation fold {fold} holds {} rows and {} positive rows (weighted {held_pos}); every fold needs a positive row and the other folds both classes",
                        held.len(),
                        held.iter().filter(|&&i| y[i] == 1.0).count()
                    ),
                    "lower model.cv_folds or widen the training window",
                ));
            }
        }

        let mut grid = self.c_grid.clone();
        grid.sort_by(f64::total_cmp);
        grid.dedup();

        let mut prev: Vec<Option<FittedLogisticRegression>> = vec![None; k];
        let mut scores = Vec::with_capacity(grid.len());
        let mut oof = vec![0.0; n];
        let mut oof_z = vec![0.0; n];
        let mut best_oof = vec![0.0; n];
        let mut best_oof_z = vec![0.0; n];
        let mut best_index = 0;
        let mut fold_w = vec![0.0; n];
        for (ci, &c) in grid.iter().enumerate() {
            let params = LogisticRegressionParams {
                c,
                tol: self.tol,
                max_iter: self.max_iter,
                fit_intercept: true,
            };
            let mut fold_ap = Vec::with_capacity(k);
            let mut all_converged = true;
            for fold in 0..k {
                // The held-out rows get weight 0: the objective skips them, so this
                // is the fit on the other folds' rows without copying them.
                for ((fw, &w), &f) in fold_w.iter_mut().zip(class_weight_w).zip(folds) {
                    *fw = if f == fold { 0.0 } else { w };
                }
                let fit = params.fit_checked(x, y, &fold_w, prev[fold].as_ref())?;
                all_converged &= fit.converged;
                let held = &members[fold];
                let mut yh = Vec::with_capacity(held.len());
                let mut sh = Vec::with_capacity(held.len());
                let mut wh = Vec::with_capacity(held.len());
                for &i in held {
                    let z = fit.decision_function(x.row(i));
                    let p = sigmoid(z);
                    oof[i] = p;
                    oof_z[i] = z;
                    yh.push(y[i]);
                    sh.push(p);
                    wh.push(eval_weight[i]);
                }
                fold_ap.push(average_precision(&yh, &sh, &wh)?);
                prev[fold] = Some(fit);
            }
            let mean_ap = fold_ap.iter().sum::<f64>() / k as f64;
            let var = fold_ap.iter().map(|a| (a - mean_ap).powi(2)).sum::<f64>() / k as f64;
            if ci == 0 || mean_ap > scores_mean(&scores, best_index) {
                best_index = ci;
                best_oof.copy_from_slice(&oof);
                best_oof_z.copy_from_slice(&oof_z);
            }
            scores.push(CvScore {
                c,
                mean_ap,
                std_ap: var.sqrt(),
                fold_ap,
                all_converged,
            });
        }
        let best_c = grid[best_index];
        let model = LogisticRegressionParams {
            c: best_c,
            tol: self.tol,
            max_iter: self.max_iter,
            fit_intercept: true,
        }
        .fit(x, y, class_weight_w, None)?;
        Ok(GridSearchResult {
            scores,
            best_index,
            best_c,
            oof_scores: best_oof,
            oof_decision: best_oof_z,
            model,
        })
    }
}

fn scores_mean(scores: &[CvScore], i: usize) -> f64 {
    scores.get(i).map_or(f64::NEG_INFINITY, |s| s.mean_ap)
}

/// Weighted average precision of one held-out fold: scikit-learn's
/// `average_precision_score`, owned by `threshold`.
fn average_precision(y: &[f64], score: &[f64], weight: &[f64]) -> Result<f64> {
    crate::threshold::average_precision(y, score, Some(weight))
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- helpers --------------------------------------------------------------------

    /// splitmix64: a small deterministic generator for test data.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let u1 = self.uniform().max(1e-300);
            let u2 = self.uniform();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }

    /// Rows from a logistic model with the given intercept and coefficients.
    fn simulate(rng: &mut Rng, n: usize, intercept: f64, beta: &[f64]) -> (Matrix, Vec<f64>) {
        let mut x = Matrix::new(n, beta.len());
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let row = x.row_mut(i);
            row.iter_mut().for_each(|v| *v = rng.normal());
            let p = sigmoid(dot(row, beta) + intercept);
            y.push(if rng.uniform() < p { 1.0 } else { 0.0 });
        }
        (x, y)
    }

    /// `max|a - b| / max|b|`.
    fn norm_rel(a: &[f64], b: &[f64]) -> f64 {
        let num = a
            .iter()
            .zip(b)
            .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
        num / inf_norm(b).max(1e-300)
    }

    fn tight(c: f64, fit_intercept: bool) -> LogisticRegressionParams {
        LogisticRegressionParams {
            c,
            tol: 1e-10,
            max_iter: 10_000,
            fit_intercept,
        }
    }

    // ---- maths ----------------------------------------------------------------------

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

    // ---- scikit-learn fixtures ----------------------------------------------------

    #[derive(serde::Deserialize)]
    struct Fixture {
        x: Vec<Vec<f64>>,
        y: Vec<f64>,
        sample_weight: Vec<f64>,
        cases: Vec<FixtureCase>,
    }

    #[derive(serde::Deserialize)]
    struct FixtureCase {
        c: f64,
        class_weight: Option<String>,
        sample_weight: bool,
        fit_intercept: bool,
        coef: Vec<f64>,
        intercept: f64,
        coef_lbfgs: Vec<f64>,
        intercept_lbfgs: f64,
        objective: f64,
    }

    const FIXTURES: [(&str, &str); 3] = [
        (
            "small",
            include_str!("../tests/data/sklearn/logistic_small.json"),
        ),
        (
            "separable",
            include_str!("../tests/data/sklearn/logistic_separable.json"),
        ),
        (
            "rare",
            include_str!("../tests/data/sklearn/logistic_rare.json"),
        ),
    ];

    fn case_weights(fx: &Fixture, case: &FixtureCase) -> Vec<f64> {
        let base = if case.sample_weight {
            fx.sample_weight.clone()
        } else {
            vec![1.0; fx.y.len()]
        };
        match case.class_weight.as_deref() {
            Some("balanced") if case.sample_weight => ClassWeight::Balanced
                .sample_weights_with(&fx.y, &base)
                .unwrap(),
            Some("balanced") => ClassWeight::Balanced.sample_weights(&fx.y).unwrap(),
            None => base,
            Some(other) => panic!("fixture class_weight {other}"),
        }
    }

    #[test]
    fn matches_scikit_learn_fixtures() {
        let mut worst_exact = 0.0_f64;
        let mut worst_lbfgs = 0.0_f64;
        let mut worst_elem = 0.0_f64;
        let mut n_cases = 0;
        for (name, text) in FIXTURES {
            let fx: Fixture = serde_json::from_str(text).unwrap();
            let x = Matrix::from_rows(&fx.x).unwrap();
            for case in &fx.cases {
                let w = case_weights(&fx, case);
                let fit = tight(case.c, case.fit_intercept)
                    .fit(&x, &fx.y, &w, None)
                    .unwrap();
                let mut ours = fit.coef.clone();
                ours.push(fit.intercept);
                let mut exact = case.coef.clone();
                exact.push(case.intercept);
                let mut lbfgs = case.coef_lbfgs.clone();
                lbfgs.push(case.intercept_lbfgs);
                let e_exact = norm_rel(&ours, &exact);
                let e_lbfgs = norm_rel(&ours, &lbfgs);
                // Elementwise relative error, with coefficients below 1e-2 measured
                // against 1e-2 (relative error of a near-zero number is noise).
                let e_elem = ours.iter().zip(&exact).fold(0.0_f64, |m, (a, b)| {
                    m.max((a - b).abs() / b.abs().max(1e-2))
                });
                let e_obj = (fit.objective - case.objective).abs() / case.objective.abs();
                eprintln!(
                    "{name:9} C={:<6} cw={:?} sw={} fi={}: iters {:3} conv {} rel err vs newton {e_exact:.1e}, vs lbfgs {e_lbfgs:.1e}, elementwise {e_elem:.1e}, objective {e_obj:.1e}",
                    case.c,
                    case.class_weight,
                    case.sample_weight,
                    case.fit_intercept,
                    fit.n_iter,
                    fit.converged
                );
                assert!(fit.converged, "{name} C={} did not converge", case.c);
                assert!(e_exact < 1e-6, "{name} C={}: {e_exact}", case.c);
                assert!(e_lbfgs < 1e-6, "{name} C={}: {e_lbfgs}", case.c);
                assert!(e_elem < 1e-6, "{name} C={}: {e_elem}", case.c);
                assert!(e_obj < 1e-10, "{name} C={}: objective {e_obj}", case.c);
                worst_exact = worst_exact.max(e_exact);
                worst_lbfgs = worst_lbfgs.max(e_lbfgs);
                worst_elem = worst_elem.max(e_elem);
                n_cases += 1;
            }
        }
        eprintln!(
            "{n_cases} cases; max rel err vs newton-cholesky {worst_exact:.2e}, vs lbfgs {worst_lbfgs:.2e}, elementwise {worst_elem:.2e}"
        );
        assert!(n_cases >= 16);
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

    #[derive(serde::Deserialize)]
    struct Metrics {
        class_weight_balanced_rare: Vec<f64>,
        class_weight_balanced_rare_weighted: Vec<f64>,
        average_precision: Vec<ApCase>,
    }

    #[derive(serde::Deserialize)]
    struct ApCase {
        y: Vec<f64>,
        score: Vec<f64>,
        weight: Option<Vec<f64>>,
        average_precision: f64,
    }

    const METRICS: &str = include_str!("../tests/data/sklearn/logistic_metrics.json");

    #[test]
    fn class_weights_match_scikit_learn() {
        let m: Metrics = serde_json::from_str(METRICS).unwrap();
        let fx: Fixture = serde_json::from_str(FIXTURES[2].1).unwrap();
        let (neg, pos) = ClassWeight::Balanced.class_weights(&fx.y, None).unwrap();
        assert!((neg - m.class_weight_balanced_rare[0]).abs() < 1e-12);
        assert!((pos - m.class_weight_balanced_rare[1]).abs() < 1e-12);
        let (neg, pos) = ClassWeight::Balanced
            .class_weights(&fx.y, Some(&fx.sample_weight))
            .unwrap();
        assert!((neg - m.class_weight_balanced_rare_weighted[0]).abs() < 1e-12);
        assert!((pos - m.class_weight_balanced_rare_weighted[1]).abs() < 1e-12);
        let w = ClassWeight::Balanced
            .sample_weights(&[1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
            .unwrap();
        assert_eq!(w, vec![0.75, 0.75, 0.75, 0.75, 1.5, 1.5]); // scikit-learn's doc example
        let cw = ClassWeight::Explicit {
            positive: 5.0,
            negative: 1.0,
        };
        assert_eq!(cw.sample_weights(&[0.0, 1.0]).unwrap(), vec![1.0, 5.0]);
        assert_eq!(
            ClassWeight::None.sample_weights(&[0.0, 1.0]).unwrap(),
            vec![1.0, 1.0]
        );
        assert!(ClassWeight::Balanced.sample_weights(&[0.0, 0.0]).is_err());
        assert!(ClassWeight::Balanced.sample_weights(&[1.0]).is_err());
        assert!(ClassWeight::None.sample_weights(&[0.0, 2.0]).is_err());
    }

    #[test]
    fn class_weight_serde_spelling() {
        let parse = |s: &str| serde_json::from_str::<ClassWeight>(s);
        assert_eq!(parse("\"balanced\"").unwrap(), ClassWeight::Balanced);
        assert_eq!(parse("\"none\"").unwrap(), ClassWeight::None);
        assert_eq!(
            parse("{\"positive\": 5.0}").unwrap(),
            ClassWeight::Explicit {
                positive: 5.0,
                negative: 1.0
            }
        );
        assert!(parse("\"balance\"").is_err());
        assert!(parse("{\"positive\": -1.0}").is_err());
        for cw in [
            ClassWeight::Balanced,
            ClassWeight::None,
            ClassWeight::Explicit {
                positive: 3.0,
                negative: 0.5,
            },
        ] {
            let s = serde_json::to_string(&cw).unwrap();
            assert_eq!(parse(&s).unwrap(), cw);
        }
    }

    #[test]
    fn average_precision_matches_scikit_learn() {
        let m: Metrics = serde_json::from_str(METRICS).unwrap();
        assert!(m.average_precision.len() >= 4);
        for case in &m.average_precision {
            let w = case
                .weight
                .clone()
                .unwrap_or_else(|| vec![1.0; case.y.len()]);
            let ap = average_precision(&case.y, &case.score, &w).unwrap();
            assert!(
                (ap - case.average_precision).abs() < 1e-12,
                "{ap} vs {}",
                case.average_precision
            );
        }
        // Hand-checked: ranking 1, 0, 1 gives (1/2)(1) + (1/2)(2/3).
        let ap = average_precision(&[1.0, 0.0, 1.0], &[0.9, 0.8, 0.7], &[1.0; 3]).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15);
        // All tied: AP is the (weighted) prevalence.
        let ap = average_precision(&[1.0, 0.0, 0.0, 0.0], &[0.5; 4], &[1.0; 4]).unwrap();
        assert!((ap - 0.25).abs() < 1e-15);
    }

    // ---- fitting behaviour --------------------------------------------------------

    #[test]
    fn warm_start_reaches_the_same_minimizer() {
        let fx: Fixture = serde_json::from_str(FIXTURES[2].1).unwrap();
        let x = Matrix::from_rows(&fx.x).unwrap();
        let w = vec![1.0; fx.y.len()];
        let from = tight(0.01, true).fit(&x, &fx.y, &w, None).unwrap();
        let cold = tight(1.0, true).fit(&x, &fx.y, &w, None).unwrap();
        let warm = tight(1.0, true).fit(&x, &fx.y, &w, Some(&from)).unwrap();
        let mut a = cold.coef.clone();
        a.push(cold.intercept);
        let mut b = warm.coef.clone();
        b.push(warm.intercept);
        // Both stop by the same rules (gradient or 64 eps relative objective
        // change), which pin the minimizer to about 1e-7, not to the last digit.
        assert!(norm_rel(&b, &a) < 1e-6, "{cold:?} vs {warm:?}");
        let bad = FittedLogisticRegression {
            coef: vec![0.0; 3],
            ..from
        };
        assert!(tight(1.0, true).fit(&x, &fx.y, &w, Some(&bad)).is_err());
    }

    #[test]
    fn predict_proba_is_sigmoid_of_decision_function() {
        let m = FittedLogisticRegression {
            coef: vec![1.0, -2.0],
            intercept: 0.5,
            c: 1.0,
            n_iter: 0,
            objective: 0.0,
            converged: true,
        };
        let x = Matrix::from_rows(&[vec![0.0, 0.0], vec![1.0, 1.0]]).unwrap();
        let p = m.predict_proba(&x).unwrap();
        assert!((p[0] - sigmoid(0.5)).abs() < 1e-15);
        assert!((p[1] - sigmoid(-0.5)).abs() < 1e-15);
        assert!(m.predict_proba(&Matrix::new(2, 3)).is_err());
        let json = serde_json::to_string(&m).unwrap();
        let back: FittedLogisticRegression = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn params_check_refuses_bad_values() {
        let ok = LogisticRegressionParams::default();
        assert!(ok.check().is_ok());
        for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let p = LogisticRegressionParams { c, ..ok.clone() };
            let err = p.check().unwrap_err();
            assert!(
                matches!(err, Error::Params { ref name, .. } if name == "c"),
                "{err}"
            );
        }
        for tol in [0.0, -1e-4, f64::NAN] {
            assert!(
                LogisticRegressionParams { tol, ..ok.clone() }
                    .check()
                    .is_err()
            );
        }
        assert!(
            LogisticRegressionParams {
                max_iter: 0,
                ..ok.clone()
            }
            .check()
            .is_err()
        );
        // fit checks the params before the data.
        let x = Matrix::new(2, 1);
        let p = LogisticRegressionParams {
            c: -1.0,
            ..ok.clone()
        };
        assert!(matches!(
            p.fit(&x, &[0.0, 1.0], &[1.0, 1.0], None),
            Err(Error::Params { .. })
        ));

        let grid = GridSearchParams {
            c_grid: vec![0.1, 1.0],
            n_folds: 3,
            tol: 1e-6,
            max_iter: 100,
        };
        assert!(grid.check().is_ok());
        for bad in [
            GridSearchParams {
                c_grid: vec![],
                ..grid.clone()
            },
            GridSearchParams {
                c_grid: vec![1.0, 0.0],
                ..grid.clone()
            },
            GridSearchParams {
                c_grid: vec![f64::NAN],
                ..grid.clone()
            },
            GridSearchParams {
                n_folds: 1,
                ..grid.clone()
            },
            GridSearchParams {
                tol: 0.0,
                ..grid.clone()
            },
            GridSearchParams {
                max_iter: 0,
                ..grid.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fit_refuses_bad_data() {
        let p = LogisticRegressionParams::default();
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0]]).unwrap();
        let y = [0.0, 1.0, 0.0];
        let w = [1.0; 3];
        assert!(p.fit(&x, &y, &w, None).is_ok());
        assert!(p.fit(&x, &[0.0, 1.0], &w, None).is_err()); // length
        assert!(p.fit(&x, &y, &[1.0; 2], None).is_err()); // length
        assert!(p.fit(&x, &[0.0, 2.0, 0.0], &w, None).is_err()); // label
        assert!(p.fit(&x, &y, &[1.0, -1.0, 1.0], None).is_err()); // weight
        assert!(p.fit(&x, &y, &[1.0, f64::NAN, 1.0], None).is_err()); // weight
        assert!(p.fit(&x, &[0.0; 3], &w, None).is_err()); // one class
        assert!(p.fit(&x, &y, &[1.0, 0.0, 1.0], None).is_err()); // positive weight 0
        assert!(p.fit(&Matrix::new(0, 1), &[], &[], None).is_err()); // no rows
        let nan = Matrix::from_rows(&[vec![0.0], vec![f64::NAN], vec![2.0]]).unwrap();
        assert!(p.fit(&nan, &y, &w, None).is_err());
    }

    // ---- prior correction ---------------------------------------------------------

    #[test]
    fn prior_correction_formula() {
        assert_eq!(prior_correction_shift(0.2, 0.2).unwrap(), 0.0);
        // 50/50 sample of a 1% population: odds ratio 99.
        let s = prior_correction_shift(0.5, 0.01).unwrap();
        assert!((s + 99f64.ln()).abs() < 1e-12);
        for (a, b) in [
            (0.0, 0.1),
            (1.0, 0.1),
            (0.5, 0.0),
            (0.5, 1.0),
            (f64::NAN, 0.5),
        ] {
            assert!(prior_correction_shift(a, b).is_err());
        }
        let f = effective_positive_fraction(&[1.0, 0.0, 0.0], &[2.0, 1.0, 1.0]).unwrap();
        assert!((f - 0.5).abs() < 1e-15);
        assert!(effective_positive_fraction(&[1.0, 0.0], &[0.0, 0.0]).is_err());
    }

    #[test]
    fn prior_correction_recovers_population_intercept() {
        // Population: intercept -4, ~2.5% positives. Keep every positive and an
        // equal number of negatives (a 50/50 case-control sample), fit almost
        // unpenalized, then shift the intercept back to the population.
        let true_b = -4.0;
        let beta = [1.0, -0.5];
        let mut rng = Rng(2001);
        let (x, y) = simulate(&mut rng, 200_000, true_b, &beta);
        let n_pos = y.iter().filter(|&&v| v == 1.0).count();
        let tau = n_pos as f64 / y.len() as f64;
        let mut keep = Vec::new();
        let mut negs = 0;
        for (i, &v) in y.iter().enumerate() {
            if v == 1.0 {
                keep.push(i);
            } else if negs < n_pos {
                keep.push(i);
                negs += 1;
            }
        }
        let xs = x.select_rows(&keep);
        let ys: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
        let ws = vec![1.0; ys.len()];
        let fit = tight(1e4, true).fit(&xs, &ys, &ws, None).unwrap();
        let ybar = effective_positive_fraction(&ys, &ws).unwrap();
        assert!((ybar - 0.5).abs() < 1e-12);
        let corrected = fit.intercept + prior_correction_shift(ybar, tau).unwrap();
        assert!(
            (fit.intercept - true_b).abs() > 2.0,
            "the uncorrected intercept {} should be far off",
            fit.intercept
        );
        assert!(
            (corrected - true_b).abs() < 0.15,
            "corrected {corrected} vs {true_b}"
        );
        assert!((fit.coef[0] - beta[0]).abs() < 0.15 && (fit.coef[1] - beta[1]).abs() < 0.15);

        // Balanced class weights make ybar 1/2 as well, on the full population.
        let wb = ClassWeight::Balanced.sample_weights(&y).unwrap();
        let ybar = effective_positive_fraction(&y, &wb).unwrap();
        assert!((ybar - 0.5).abs() < 1e-12);
        let fit = tight(1e4, true).fit(&x, &y, &wb, None).unwrap();
        let corrected = fit.intercept + prior_correction_shift(ybar, tau).unwrap();
        assert!((corrected - true_b).abs() < 0.15, "corrected {corrected}");
    }

    // ---- grid search --------------------------------------------------------------

    #[test]
    fn grid_search_picks_a_sensible_c_and_scores_every_row_once() {
        let fx: Fixture = serde_json::from_str(FIXTURES[2].1).unwrap();
        let x = Matrix::from_rows(&fx.x).unwrap();
        let y = &fx.y;
        let n = y.len();
        // Members of 4 consecutive rows; fold = member id mod 5 (grouped).
        let folds: Vec<usize> = (0..n).map(|i| (i / 4) % 5).collect();
        let cw = ClassWeight::Balanced.sample_weights(y).unwrap();
        let eval = vec![1.0; n];
        let params = GridSearchParams {
            c_grid: vec![100.0, 1e-5, 1.0, 0.01, 1.0],
            n_folds: 5,
            tol: 1e-8,
            max_iter: 1000,
        };
        let res = params.grid_search(&x, y, &cw, &eval, &folds).unwrap();
        let cs: Vec<f64> = res.scores.iter().map(|s| s.c).collect();
        assert_eq!(cs, vec![1e-5, 0.01, 1.0, 100.0]);
        let best = &res.scores[res.best_index];
        assert_eq!(best.c, res.best_c);
        assert!(res.scores.iter().all(|s| s.mean_ap <= best.mean_ap));
        assert!(
            res.scores
                .iter()
                .all(|s| s.fold_ap.len() == 5 && s.all_converged)
        );
        let prevalence = y.iter().sum::<f64>() / n as f64;
        assert!(best.mean_ap > 2.0 * prevalence, "{:?}", res.scores);
        eprintln!("grid: {:?} best C {}", res.scores, res.best_c);

        // Out-of-fold scores: one per row, each from the fit that did not see it.
        assert_eq!(res.oof_scores.len(), n);
        assert!(res.oof_scores.iter().all(|p| *p > 0.0 && *p < 1.0));
        let lr = LogisticRegressionParams {
            c: res.best_c,
            tol: 1e-8,
            max_iter: 1000,
            fit_intercept: true,
        };
        for fold in 0..5 {
            let train: Vec<usize> = (0..n).filter(|&i| folds[i] != fold).collect();
            let yt: Vec<f64> = train.iter().map(|&i| y[i]).collect();
            let wt: Vec<f64> = train.iter().map(|&i| cw[i]).collect();
            let fit = lr.fit(&x.select_rows(&train), &yt, &wt, None).unwrap();
            let held: Vec<usize> = (0..n).filter(|&i| folds[i] == fold).collect();
            let (mut yh, mut sh) = (Vec::new(), Vec::new());
            for &i in &held {
                let p = sigmoid(fit.decision_function(x.row(i)));
                assert!((p - res.oof_scores[i]).abs() < 1e-6, "row {i}");
                yh.push(y[i]);
                sh.push(res.oof_scores[i]);
            }
            let ap = average_precision(&yh, &sh, &vec![1.0; yh.len()]).unwrap();
            assert!((ap - best.fold_ap[fold]).abs() < 1e-12);
        }
        // The refit uses every row.
        let full = lr.fit(&x, y, &cw, None).unwrap();
        assert!(norm_rel(&res.model.coef, &full.coef) < 1e-6);
    }

    #[test]
    fn grid_search_ties_go_to_the_smaller_c() {
        // No features: every C gives constant scores, so every AP is the prevalence.
        let n = 40;
        let x = Matrix::new(n, 0);
        let y: Vec<f64> = (0..n).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        let folds: Vec<usize> = (0..n).map(|i| (i / 4) % 2).collect();
        let w = vec![1.0; n];
        let params = GridSearchParams {
            c_grid: vec![10.0, 0.1, 1.0],
            n_folds: 2,
            tol: 1e-8,
            max_iter: 100,
        };
        let res = params.grid_search(&x, &y, &w, &w, &folds).unwrap();
        assert_eq!(res.best_c, 0.1);
        assert_eq!(res.best_index, 0);
        assert!(res.scores.iter().all(|s| (s.mean_ap - 0.25).abs() < 1e-12));
    }

    #[test]
    fn grid_search_refuses_bad_folds() {
        let n = 20;
        let x = Matrix::new(n, 1);
        let y: Vec<f64> = (0..n).map(|i| if i < 4 { 1.0 } else { 0.0 }).collect();
        let w = vec![1.0; n];
        let params = GridSearchParams {
            c_grid: vec![1.0],
            n_folds: 2,
            tol: 1e-6,
            max_iter: 100,
        };
        // Fold 1 has no positive row.
        let folds: Vec<usize> = (0..n).map(|i| usize::from(i >= 10)).collect();
        assert!(matches!(
            params.grid_search(&x, &y, &w, &w, &folds),
            Err(Error::Data { .. })
        ));
        // Fold id out of range, wrong length.
        let folds: Vec<usize> = (0..n).map(|i| i % 3).collect();
        assert!(params.grid_search(&x, &y, &w, &w, &folds).is_err());
        assert!(params.grid_search(&x, &y, &w, &w, &[0, 1]).is_err());
        // An empty fold.
        let folds = vec![0; n];
        assert!(params.grid_search(&x, &y, &w, &w, &folds).is_err());
    }

    #[test]
    fn platt_is_the_identity_on_calibrated_scores_and_undoes_a_distortion() {
        // Labels drawn from sigmoid(z): Platt recovers a = 0, b = 1 within noise;
        // from sigmoid(0.5 + 2 z) it recovers (0.5, 2).
        let mut rng = Rng(77);
        for (a0, b0) in [(0.0, 1.0), (0.5, 2.0)] {
            let n = 200_000;
            let z: Vec<f64> = (0..n).map(|_| -3.0 + 2.0 * rng.normal()).collect();
            let y: Vec<f64> = z
                .iter()
                .map(|&v| f64::from(rng.uniform() < sigmoid(a0 + b0 * v)))
                .collect();
            let w = vec![1.0; n];
            let f = PlattParams::default().fit(&z, &y, &w).unwrap();
            assert!((f.a - a0).abs() < 0.08 && (f.b - b0).abs() < 0.05, "{f:?}");
        }
        assert!(PlattParams::default().fit(&[0.1], &[1.0], &[1.0]).is_err());
        assert!(
            PlattParams::default()
                .fit(&[0.1, f64::NAN], &[1.0, 0.0], &[1.0, 1.0])
                .is_err()
        );
    }

    #[test]
    fn weighted_fit_and_platt_calibrate_a_downsampled_population() {
        // A known logistic population (intercept -4.5, about 2 % positives); keep
        // every positive and 10 % of negatives, weighted 10, with balanced class
        // weights on top (the loss sees a 50/50 problem); calibrate on out-of-fold
        // scores weighted back to the population; on fresh held-out rows of the same
        // population, the mean predicted probability is within 5 % of the observed rate.
        let beta = [1.0, -0.7, 0.4];
        let mut rng = Rng(4242);
        let (x, y) = simulate(&mut rng, 300_000, -4.5, &beta);
        let mut keep = Vec::new();
        let mut sampling = Vec::new();
        for (i, &v) in y.iter().enumerate() {
            if v == 1.0 {
                keep.push(i);
                sampling.push(1.0);
            } else if rng.uniform() < 0.1 {
                keep.push(i);
                sampling.push(10.0);
            }
        }
        let xs = x.select_rows(&keep);
        let ys: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
        let (neg, pos) = ClassWeight::Balanced
            .class_weights(&ys, Some(&sampling))
            .unwrap();
        let w: Vec<f64> = ys
            .iter()
            .zip(&sampling)
            .map(|(&v, &s)| s * if v == 1.0 { pos } else { neg })
            .collect();
        let folds: Vec<usize> = (0..ys.len()).map(|i| i % 3).collect();
        let grid = GridSearchParams {
            c_grid: vec![1.0],
            n_folds: 3,
            tol: 1e-8,
            max_iter: 500,
        }
        .grid_search(&xs, &ys, &w, &sampling, &folds)
        .unwrap();
        let cal = PlattParams::default()
            .fit(&grid.oof_decision, &ys, &sampling)
            .unwrap();
        let (xh, yh) = simulate(&mut rng, 300_000, -4.5, &beta);
        let mean_p = xh
            .rows()
            .map(|r| cal.apply(grid.model.decision_function(r)))
            .sum::<f64>()
            / yh.len() as f64;
        let rate = yh.iter().sum::<f64>() / yh.len() as f64;
        assert!(
            (mean_p / rate - 1.0).abs() < 0.05,
            "mean predicted {mean_p} vs observed {rate}"
        );
        // Without the calibration the balanced fit is far off (about 25x too high).
        let raw = xh
            .rows()
            .map(|r| sigmoid(grid.model.decision_function(r)))
            .sum::<f64>()
            / yh.len() as f64;
        assert!(raw / rate > 5.0, "uncalibrated {raw} vs {rate}");
    }

    #[test]
    fn platt_matches_scikit_learn() {
        // tests/data/sklearn/platt.json from scripts/fixtures/sklearn_platt.py:
        // scikit-learn's _sigmoid_calibration (L-BFGS, gtol 1e-6) against Newton here;
        // they agree to about 1e-9.
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/sklearn/platt.json"
        ))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let floats = |x: &serde_json::Value| -> Vec<f64> {
            x.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().parse().unwrap())
                .collect()
        };
        for case in v["cases"].as_array().unwrap() {
            let (z, y) = (floats(&case["z"]), floats(&case["y"]));
            let w = if case["w"].is_null() {
                vec![1.0; y.len()]
            } else {
                floats(&case["w"])
            };
            let a_sk: f64 = case["A"].as_str().unwrap().parse().unwrap();
            let b_sk: f64 = case["B"].as_str().unwrap().parse().unwrap();
            let f = PlattParams::default().fit(&z, &y, &w).unwrap();
            let name = case["name"].as_str().unwrap();
            assert!((f.a + b_sk).abs() < 1e-7, "{name}: a {} vs {}", f.a, -b_sk);
            assert!((f.b + a_sk).abs() < 1e-7, "{name}: b {} vs {}", f.b, -a_sk);
        }
    }
}
