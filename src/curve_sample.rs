//! Thinning a precision-recall curve for people and plots: `pr_curve_points.csv`
//! stays exact (one row per distinct score), `pr_curve_points_sampled.csv` keeps at
//! most [`MAX_SAMPLED_POINTS`] of them, spaced evenly by distance along the curve so
//! the steep head (few rows, large moves) keeps its shape and the long flat tail
//! (many rows, tiny moves) is not over-drawn. Pure.

/// At most this many points in `pr_curve_points_sampled.csv` and the plots.
pub(crate) const MAX_SAMPLED_POINTS: usize = 1000;

/// Indices (ascending) of at most `max` points of the polyline `(x[i], y[i])`, kept
/// at even arc length: with the cumulative length
///
/// `s_0 = 0, s_i = s_{i-1} + sqrt((x_i - x_{i-1})^2 + (y_i - y_{i-1})^2)`,
///
/// point `i` is kept when it is the first to reach the next mark `k * step`; the
/// first and last points are always kept, and `step` is the smallest (found by
/// bisection) that keeps at most `max` points. Both axes of a PR
/// curve are in [0, 1], so one unit of precision weighs as much as one of recall.
/// Every point when there are at most `max`. This is equal arc-length resampling
/// of a polyline without interpolation, so each kept point is a real row of the
/// exact curve (and its threshold stays exact).
pub(crate) fn thin_by_arc_length(x: &[f64], y: &[f64], max: usize) -> Vec<usize> {
    let n = x.len().min(y.len());
    if n <= max {
        return (0..n).collect();
    }
    if max < 2 {
        return (0..max).collect();
    }
    let mut s = vec![0.0; n];
    for i in 1..n {
        s[i] = s[i - 1] + (x[i] - x[i - 1]).hypot(y[i] - y[i - 1]);
    }
    let total = s[n - 1];
    if total <= 0.0 {
        // Every point in one place: the two ends say it all.
        return vec![0, n - 1];
    }
    // A long move passes several marks but keeps one point, so the step `L / (max -
    // 1)` can leave much of the budget unused: the smallest step whose points fit
    // in `max` is found by bisection (the count only falls as the step grows).
    let (mut lo, mut hi) = (0.0, total);
    let mut best = kept_at_step(&s, total);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        let k = kept_at_step(&s, mid);
        if k.len() <= max {
            best = k;
            hi = mid;
        } else {
            lo = mid;
        }
    }
    best
}

/// The points kept with marks every `step` along the cumulative length `s`: the
/// first point at or past each mark, and both ends.
fn kept_at_step(s: &[f64], step: f64) -> Vec<usize> {
    let n = s.len();
    let mut kept = vec![0];
    let mut mark = step;
    for (i, &si) in s.iter().enumerate().take(n - 1).skip(1) {
        if si >= mark {
            kept.push(i);
            // Skip the marks this point already passed: a long jump counts once.
            mark = (si / step).floor() * step + step;
        }
    }
    kept.push(n - 1);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_curves_are_kept_whole() {
        let x = [0.0, 0.5, 1.0];
        assert_eq!(thin_by_arc_length(&x, &x, 1000), vec![0, 1, 2]);
        assert_eq!(thin_by_arc_length(&[], &[], 1000), Vec::<usize>::new());
    }

    #[test]
    fn points_are_spaced_by_distance_not_by_count() {
        // 10,000 points: the first 10 cover recall 0..0.9 (long moves), the other
        // 9,990 crawl over the last 0.1. Every n-th point would keep ~1 of the head.
        let mut x: Vec<f64> = (0..10).map(|i| i as f64 * 0.09).collect();
        x.extend((0..9_990).map(|i| 0.9 + 0.1 * i as f64 / 9_989.0));
        let y = vec![0.5; x.len()];
        let kept = thin_by_arc_length(&x, &y, 100);
        assert!(kept.len() <= 100 && kept.len() >= 95, "{}", kept.len());
        assert_eq!(kept[0], 0);
        assert_eq!(*kept.last().unwrap(), x.len() - 1);
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
        // Every head point is kept (each move is longer than a step of L/99).
        assert_eq!(&kept[..10], &(0..10).collect::<Vec<_>>()[..]);
        // The rest of the budget goes to the tail, evenly by distance: its gaps
        // (in index) are all about equal.
        let tail: Vec<usize> = kept.iter().copied().filter(|&i| i >= 10).collect();
        assert!(tail.len() >= 75, "{}", tail.len());
        let gaps: Vec<usize> = tail.windows(2).map(|w| w[1] - w[0]).collect();
        let (lo, hi) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
        assert!(hi - lo <= 1 || *hi == gaps[gaps.len() - 1], "{gaps:?}");
    }

    #[test]
    fn the_cap_holds_on_a_long_curve() {
        let n = 250_000;
        let x: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| 1.0 - v * v).collect();
        let kept = thin_by_arc_length(&x, &y, MAX_SAMPLED_POINTS);
        assert!(kept.len() <= MAX_SAMPLED_POINTS && kept.len() > 990);
        // Even spacing: the longest gap is within twice the mean.
        let gaps: Vec<f64> = kept
            .windows(2)
            .map(|w| (x[w[1]] - x[w[0]]).hypot(y[w[1]] - y[w[0]]))
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!(gaps.iter().all(|&g| g < 2.0 * mean));
        // A flat curve in one place keeps its ends.
        assert_eq!(
            thin_by_arc_length(&[0.3; 5000], &[0.3; 5000], 10),
            vec![0, 4999]
        );
    }
}
