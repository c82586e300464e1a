//! The minimizer: limited-memory BFGS with the More-Thuente line search, the same
//! algorithm family and stopping rules as scipy's `L-BFGS-B` (no bounds) that
//! scikit-learn calls, started from a Hessian preconditioner when the caller gives
//! one ([`Preconditioner`]; the stopping rules and the minimizer are the same, the
//! iterations far fewer). Generic over the objective (a closure returning the value
//! and writing the gradient); [`super::estimator`] is its caller.

use std::collections::VecDeque;

use crate::numeric::{cholesky_in_place, cholesky_solve, dot, inf_norm};

/// A fixed approximation `M` of the objective's Hessian, held as its Cholesky
/// factor: the two-loop recursion starts from `H0 = M^-1` instead of a multiple of
/// the identity (Nocedal & Wright, *Numerical Optimization*, 2nd ed., section 7.2:
/// any symmetric positive definite `H0` keeps L-BFGS's guarantees). On correlated
/// features the scaled identity needs a hundred and more iterations that `M`
/// absorbs; the minimizer and the stopping rules are unchanged.
pub(super) struct Preconditioner {
    l: Vec<f64>,
    n: usize,
}

impl Preconditioner {
    /// From a symmetric `n x n` matrix (row-major); `None` when it is not
    /// numerically positive definite (the caller then runs plain L-BFGS).
    pub(super) fn from_hessian(mut h: Vec<f64>, n: usize) -> Option<Preconditioner> {
        (h.len() == n * n && cholesky_in_place(&mut h, n)).then_some(Preconditioner { l: h, n })
    }

    /// `v <- M^-1 v`.
    fn apply(&self, v: &mut [f64]) {
        cholesky_solve(&self.l, self.n, v);
    }
}

/// Settings of [`minimize_lbfgs`].
pub(super) struct LbfgsOptions {
    /// Number of `(s, y)` pairs kept.
    pub(super) memory: usize,
    /// Largest number of iterations (accepted steps).
    pub(super) max_iter: usize,
    /// Stop when `max_i |g_i| <= gtol` (scipy's `pgtol`; no bounds, so the projected
    /// gradient is the gradient).
    pub(super) gtol: f64,
    /// Stop when `(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= ftol` (scipy's
    /// `factr * epsmch`).
    pub(super) ftol: f64,
    /// Largest number of objective evaluations in one line search.
    pub(super) max_line_search: usize,
}

/// Where [`minimize_lbfgs`] stopped.
pub(super) struct LbfgsOutcome {
    /// The last accepted point.
    pub(super) x: Vec<f64>,
    /// The objective there.
    pub(super) f: f64,
    /// Iterations (accepted steps) taken.
    pub(super) n_iter: usize,
    /// Whether the gradient or the relative objective change rule was met.
    pub(super) converged: bool,
}

/// A preconditioned fit takes a fresh Hessian after this many iterations, then
/// after twice, four times as many, and so on.
const PRECONDITIONER_REFRESH: usize = 5;

/// Largest step the line search may take (scipy's `stpmx` for unbounded problems).
const MAX_STEP: f64 = 1e10;

/// Limited-memory BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
/// Algorithm 7.4 two-loop recursion with `H0 = (s.y / y.y) I`, Algorithm 7.5) with
/// the More-Thuente line search. A failed line search clears the memory and retries
/// along the steepest descent; a second failure in a row stops (not converged).
///
/// `precondition`, called at `x0` when it is not already a solution (and again after
/// 5, 10, 20, ... iterations), may give a [`Preconditioner`]: then `H0 = M^-1`, the
/// first step tries the full step `-M^-1 g` (a Newton step when `M` is the Hessian
/// there), and the fallback direction is `-M^-1 g` rather than `-g`. If a line search
/// fails along the preconditioned direction with no stored pairs, the fit goes on
/// without the preconditioner.
pub(super) fn minimize_lbfgs<F, P>(
    mut fg: F,
    x0: Vec<f64>,
    opts: &LbfgsOptions,
    mut precondition: P,
) -> LbfgsOutcome
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
    P: FnMut(&[f64]) -> Option<Preconditioner>,
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
    let mut pre = precondition(&x);
    let mut hist: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(opts.memory);
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = vec![0.0; opts.memory];
    let mut n_iter = 0;
    let mut converged = false;
    while n_iter < opts.max_iter {
        two_loop(&hist, &g, &mut d, &mut alpha, pre.as_ref());
        let mut dg = dot(&d, &g);
        if dg.is_nan() || dg >= 0.0 {
            hist.clear();
            two_loop(&hist, &g, &mut d, &mut alpha, pre.as_ref());
            dg = dot(&d, &g);
            if dg.is_nan() || dg >= 0.0 {
                d.iter_mut().zip(&g).for_each(|(di, gi)| *di = -gi);
                dg = -dot(&g, &g);
            }
        }
        let stp0 = if hist.is_empty() && pre.is_none() {
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
                // A preconditioned direction that fails is retried as plain L-BFGS
                // (steepest descent first) before giving up.
                if pre.take().is_some() {
                    continue;
                }
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
        // The Hessian at the start can be far from the one near the solution (a
        // cold start on rare positives puts every row at s (1 - s) = 1/4): a fit
        // still running after 5, 10, 20, ... iterations takes a fresh one there.
        // The stored pairs stay valid; only H0 changes.
        if pre.is_some()
            && n_iter % PRECONDITIONER_REFRESH == 0
            && (n_iter / PRECONDITIONER_REFRESH).is_power_of_two()
            && let Some(fresh) = precondition(&x)
        {
            pre = Some(fresh);
        }
    }
    LbfgsOutcome {
        x,
        f,
        n_iter,
        converged,
    }
}

/// `d = -H g` by the two-loop recursion over the stored pairs `(s, y, 1 / s.y)`
/// (Nocedal & Wright, Algorithm 7.4), from `H0 = M^-1` with a preconditioner, else
/// `H0 = (s.y / y.y) I` of the newest pair (the identity with none).
fn two_loop(
    hist: &VecDeque<(Vec<f64>, Vec<f64>, f64)>,
    g: &[f64],
    d: &mut [f64],
    alpha: &mut [f64],
    pre: Option<&Preconditioner>,
) {
    d.copy_from_slice(g);
    for (k, (s, y, rho)) in hist.iter().enumerate().rev() {
        let a = rho * dot(s, d);
        alpha[k] = a;
        d.iter_mut().zip(y).for_each(|(di, yi)| *di -= a * yi);
    }
    if let Some(m) = pre {
        m.apply(d);
    } else if let Some((s, y, _)) = hist.back() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use crate::model::objective::{hessian, objective_and_gradient};
    use crate::model::test_support::{FIXTURES, Fixture, case_weights, norm_rel};

    /// Minimizes a fixture's scaled objective with or without the Hessian
    /// preconditioner; returns the solution and the iterations taken.
    fn solve(x: &Matrix, y: &[f64], w: &[f64], c: f64, preconditioned: bool) -> (Vec<f64>, usize) {
        let scale = c * w.iter().sum::<f64>();
        let opts = LbfgsOptions {
            memory: 10,
            max_iter: 10_000,
            gtol: 1e-10,
            ftol: 64.0 * f64::EPSILON,
            max_line_search: 50,
        };
        let out = minimize_lbfgs(
            |params, grad| {
                let f = objective_and_gradient(x, y, w, c, params, grad);
                grad.iter_mut().for_each(|g| *g /= scale);
                f / scale
            },
            vec![0.0; x.n_cols() + 1],
            &opts,
            |start: &[f64]| {
                if !preconditioned {
                    return None;
                }
                let mut h = hessian(x, w, c, start);
                h.iter_mut().for_each(|v| *v /= scale);
                Preconditioner::from_hessian(h, start.len())
            },
        );
        assert!(out.converged);
        (out.x, out.n_iter)
    }

    #[test]
    fn the_preconditioner_reaches_the_same_minimizer_in_fewer_iterations() {
        let (mut plain_iters, mut pre_iters) = (0, 0);
        for (name, text) in FIXTURES {
            let fx: Fixture = serde_json::from_str(text).unwrap();
            let x = Matrix::from_rows(&fx.x).unwrap();
            for case in fx.cases.iter().filter(|c| c.fit_intercept) {
                let w = case_weights(&fx, case);
                let (plain, n_plain) = solve(&x, &fx.y, &w, case.c, false);
                let (pre, n_pre) = solve(&x, &fx.y, &w, case.c, true);
                let mut exact = case.coef.clone();
                exact.push(case.intercept);
                assert!(norm_rel(&pre, &exact) < 1e-6, "{name} C={}", case.c);
                assert!(norm_rel(&plain, &pre) < 1e-6, "{name} C={}", case.c);
                plain_iters += n_plain;
                pre_iters += n_pre;
            }
        }
        assert!(
            pre_iters < plain_iters,
            "{pre_iters} vs {plain_iters} iterations"
        );
    }

    #[test]
    fn a_matrix_that_is_not_positive_definite_gives_no_preconditioner() {
        assert!(Preconditioner::from_hessian(vec![1.0, 2.0, 2.0, 1.0], 2).is_none());
        assert!(Preconditioner::from_hessian(vec![1.0; 3], 2).is_none());
        let m = Preconditioner::from_hessian(vec![4.0, 0.0, 0.0, 2.0], 2).unwrap();
        let mut v = vec![8.0, 2.0];
        m.apply(&mut v);
        assert!(
            (v[0] - 2.0).abs() < 1e-15 && (v[1] - 1.0).abs() < 1e-15,
            "{v:?}"
        );
    }
}
