//! The report's charts as SVG text (plotters' SVG backend, no fonts needed to draw:
//! the text stays text, the viewer lays it out). Every label style is set
//! explicitly, since plotters shrinks unset ones to an unreadable default. Pure:
//! numbers in, a string out.

use std::fmt::Display;
use std::ops::Range;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// Chart size in CSS pixels (the PNG doubles it).
pub(crate) const WIDTH: u32 = 720;
pub(crate) const HEIGHT: u32 = 420;
const FONT: &str = "sans-serif";
/// Font sizes in CSS pixels as they should appear in the SVG.
const CAPTION_PX: f64 = 19.0;
const LABEL_PX: f64 = 13.0;
const AXIS_PX: f64 = 14.0;

/// The size to ask plotters for so that `px` comes out: its SVG backend writes
/// `font-size` as the requested size / 1.24 (a point-to-pixel factor), which
/// silently shrinks every label whose size is not set this way.
fn font(px: f64) -> (&'static str, f64) {
    (FONT, px * 1.24)
}

const CURVE: RGBColor = RGBColor(31, 119, 180);
const POINT: RGBColor = RGBColor(214, 39, 40);
const NEGATIVE: RGBColor = RGBColor(127, 127, 127);
const GRID: RGBColor = RGBColor(225, 225, 225);

fn plot_err(e: impl Display) -> Error {
    Error::Output {
        location: "report.html".into(),
        problem: format!("a chart could not be drawn ({e})"),
        fix: "report this as a bug, with the run's run_summary.json".into(),
    }
}

/// The operating point on the test window with its two-sided intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OperatingPoint {
    pub(crate) recall: f64,
    pub(crate) precision: f64,
    pub(crate) recall_interval: Option<(f64, f64)>,
    pub(crate) precision_interval: Option<(f64, f64)>,
}

/// Draws into a fresh SVG string of the chart size.
fn svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<String> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(without_empty_texts(&s))
}

/// The SVG without its empty `<text>` elements (plotters writes one for each axis
/// key point a label formatter leaves blank): text nobody can see has no place in
/// a chart, and a reader's check that every label has a width would trip on it.
fn without_empty_texts(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        let Some(len) = rest[start..].find("</text>") else {
            break;
        };
        let end = start + len + "</text>".len();
        let element = &rest[start..end];
        let body = element.split_once('>').map_or("", |(_, b)| b);
        out.push_str(&rest[..start]);
        if !body.trim_end_matches("</text>").trim().is_empty() {
            out.push_str(element);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn label_style() -> TextStyle<'static> {
    font(LABEL_PX).into_font().color(&BLACK)
}

fn axis_style() -> TextStyle<'static> {
    font(AXIS_PX).into_font().color(&BLACK)
}

/// Range `[lo, hi]` padded by 5 % (and widened when flat) for an axis.
fn padded(lo: f64, hi: f64) -> Range<f64> {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    (lo - pad)..(hi + pad)
}

/// The precision-recall curve (recall on x), the precision floor, and the
/// operating point with its interval box (recall x precision bounds).
pub(crate) fn pr_curve(
    recall: &[f64],
    precision: &[f64],
    band: &[(f64, f64, f64)],
    point: Option<OperatingPoint>,
    floor: f64,
) -> Result<String> {
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Precision-recall on the test window", font(CAPTION_PX))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(58)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("recall")
            .y_desc("precision")
            .label_style(label_style())
            .axis_desc_style(axis_style())
            .light_line_style(GRID)
            .draw()
            .map_err(plot_err)?;
        if band.len() > 1 {
            // Upper bounds left to right, then lower bounds back: one closed shape.
            let outline: Vec<(f64, f64)> = band
                .iter()
                .map(|&(r, _, hi)| (r, hi))
                .chain(band.iter().rev().map(|&(r, lo, _)| (r, lo)))
                .collect();
            chart
                .draw_series([Polygon::new(outline, CURVE.mix(0.15).filled())])
                .map_err(plot_err)?
                .label("precision interval (bootstrap)")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 4), (x + 20, y + 4)], CURVE.mix(0.15).filled())
                });
        }
        chart
            .draw_series(LineSeries::new(
                recall.iter().zip(precision).map(|(&r, &p)| (r, p)),
                CURVE.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label("test window")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], CURVE.stroke_width(2)));
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, floor), (1.0, floor)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(plot_err)?
            .label(format!("precision floor {floor}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        if let Some(op) = point {
            let (r0, r1) = op.recall_interval.unwrap_or((op.recall, op.recall));
            let (p0, p1) = op
                .precision_interval
                .unwrap_or((op.precision, op.precision));
            chart
                .draw_series([Rectangle::new(
                    [(r0, p0), (r1, p1)],
                    POINT.mix(0.18).filled(),
                )])
                .map_err(plot_err)?;
            chart
                .draw_series([
                    PathElement::new(
                        vec![(r0, op.precision), (r1, op.precision)],
                        POINT.stroke_width(2),
                    ),
                    PathElement::new(
                        vec![(op.recall, p0), (op.recall, p1)],
                        POINT.stroke_width(2),
                    ),
                ])
                .map_err(plot_err)?;
            chart
                .draw_series([Circle::new((op.recall, op.precision), 6, POINT.filled())])
                .map_err(plot_err)?
                .label("operating point (box: intervals)")
                .legend(|(x, y)| Circle::new((x + 10, y), 5, POINT.filled()));
        }
        legend(&mut chart)
    })
}

fn legend<'a, X, Y>(chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>) -> Result<()>
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .label_font(label_style())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_err)
}

/// The reliability plot: mean calibrated score against the observed positive rate
/// per score bin, with the diagonal of perfect calibration.
pub(crate) fn reliability(mean_score: &[f64], observed: &[f64]) -> Result<String> {
    let hi = mean_score
        .iter()
        .chain(observed)
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1e-3)
        * 1.08;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Calibration (test window, score deciles)", font(CAPTION_PX))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..hi, 0.0..hi)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("mean calibrated score")
            .y_desc("observed positive rate")
            .label_style(label_style())
            .axis_desc_style(axis_style())
            .light_line_style(GRID)
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (hi, hi)],
                6,
                4,
                BLACK.into(),
            ))
            .map_err(plot_err)?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        chart
            .draw_series(LineSeries::new(
                mean_score.iter().zip(observed).map(|(&s, &o)| (s, o)),
                CURVE.stroke_width(2),
            ))
            .map_err(plot_err)?;
        chart
            .draw_series(
                mean_score
                    .iter()
                    .zip(observed)
                    .map(|(&s, &o)| Circle::new((s, o), 4, CURVE.filled())),
            )
            .map_err(plot_err)?
            .label("score decile")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, CURVE.filled()));
        legend(&mut chart)
    })
}

/// Share of each series' rows per score bin (40 bins over log10 of the score, as
/// the scores of a rare label crowd near 0), with the threshold marked. A series is
/// (legend name, scores), e.g. the test rows of each label.
pub(crate) fn score_histograms(
    caption: &str,
    series: &[(String, &[f64])],
    threshold: Option<f64>,
) -> Result<String> {
    const BINS: usize = 40;
    const COLOURS: [RGBColor; 2] = [NEGATIVE, POINT];
    let log = |s: f64| s.max(1e-6).log10();
    let all = series.iter().flat_map(|s| s.1.iter()).map(|&s| log(s));
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let x = padded(lo, hi);
    let width = (x.end - x.start) / BINS as f64;
    let shares = |scores: &[f64]| -> Vec<f64> {
        let mut h = vec![0.0; BINS];
        for &s in scores {
            let b = (((log(s) - x.start) / width) as usize).min(BINS - 1);
            h[b] += 1.0;
        }
        let n = scores.len().max(1) as f64;
        h.iter().map(|c| c / n).collect()
    };
    let hists: Vec<Vec<f64>> = series.iter().map(|s| shares(s.1)).collect();
    let top = hists
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.1;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, font(CAPTION_PX))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(58)
            .build_cartesian_2d(x.clone(), 0.0..top)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("calibrated score (log10)")
            .y_desc("share of the rows")
            .label_style(label_style())
            .axis_desc_style(axis_style())
            .light_line_style(GRID)
            .draw()
            .map_err(plot_err)?;
        for (k, (h, (name, scores))) in hists.iter().zip(series).enumerate() {
            let color = COLOURS[k % COLOURS.len()];
            chart
                .draw_series(h.iter().enumerate().map(|(b, &v)| {
                    let x0 = x.start + b as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, v)], color.mix(0.45).filled())
                }))
                .map_err(plot_err)?
                .label(format!("{name} ({} rows)", scores.len()))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.mix(0.45).filled())
                });
        }
        if let Some(t) = threshold {
            let t = log(t);
            chart
                .draw_series(LineSeries::new([(t, 0.0), (t, top)], BLACK.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("threshold (log10 = {t:.2})"))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2))
                });
        }
        legend(&mut chart)
    })
}

/// Horizontal bars, one per (name, value), first on top; `x_desc` names the axis.
pub(crate) fn bars(caption: &str, x_desc: &str, items: &[(String, f64)]) -> Result<String> {
    let n = items.len().max(1) as i32;
    let lo = items.iter().map(|i| i.1).fold(0.0, f64::min);
    let hi = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let height = (HEIGHT as i32).max(90 + 22 * n) as u32;
    let label = |s: &str| -> String {
        if s.chars().count() > 34 {
            format!("{}…", s.chars().take(33).collect::<String>())
        } else {
            s.to_string()
        }
    };
    let names: Vec<String> = items.iter().map(|i| label(&i.0)).collect();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, font(CAPTION_PX))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(250)
            .build_cartesian_2d(padded(lo, hi), (0..n).into_segmented())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_labels(n as usize)
            .y_label_formatter(&|v: &SegmentValue<i32>| match v {
                SegmentValue::CenterOf(i) => {
                    names.get((n - 1 - i) as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .label_style(label_style())
            .axis_desc_style(axis_style())
            .disable_y_mesh()
            .light_line_style(GRID)
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(items.iter().enumerate().map(|(k, (_, v))| {
                let row = n - 1 - k as i32;
                let color = if *v >= 0.0 { POINT } else { CURVE };
                let mut r = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (*v, SegmentValue::Exact(row + 1)),
                    ],
                    color.mix(0.7).filled(),
                );
                r.set_margin(3, 3, 0, 0);
                r
            }))
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(without_empty_texts(&s))
}

/// One line of [`cv_by_c`]: its name and (C, mean AP, standard deviation) points.
pub(crate) type CvSeries = (String, Vec<(f64, f64, f64)>);

/// Cross-validated average precision by C (log10 on x), one line per class weight,
/// with +- one standard deviation of the folds.
pub(crate) fn cv_by_c(series: &[CvSeries]) -> Result<String> {
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (xl, xh, yl, yh) = pts.fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(cv, m, sd)| {
            let x = cv.log10();
            (a.min(x), b.max(x), c.min(m - sd), d.max(m + sd))
        },
    );
    const PALETTE: [RGBColor; 4] = [CURVE, POINT, RGBColor(44, 160, 44), RGBColor(148, 103, 189)];
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Cross-validated average precision by C", font(CAPTION_PX))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(padded(xl, xh), padded(yl, yh))
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("log10 C")
            .y_desc("mean fold average precision")
            .label_style(label_style())
            .axis_desc_style(axis_style())
            .light_line_style(GRID)
            .draw()
            .map_err(plot_err)?;
        for (k, (name, points)) in series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let mut points = points.clone();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(points.iter().map(|&(c, m, sd)| {
                    PathElement::new(vec![(c.log10(), m - sd), (c.log10(), m + sd)], color)
                }))
                .map_err(plot_err)?;
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|&(c, m, _)| (c.log10(), m)),
                    color.stroke_width(2),
                ))
                .map_err(plot_err)?
                .label(format!("class weight {name}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text elements of an SVG: (font-size, text).
    fn texts(svg: &str) -> Vec<(f64, String)> {
        let mut out = Vec::new();
        for part in svg.split("<text").skip(1) {
            let size = part
                .split("font-size=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0);
            let body = part
                .split('>')
                .nth(1)
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("");
            out.push((size, body.trim().to_string()));
        }
        out
    }

    #[test]
    fn the_pr_curve_has_its_labels_at_the_sizes_set() {
        let s = pr_curve(
            &[0.0, 0.5, 1.0],
            &[1.0, 0.6, 0.1],
            &[(0.2, 0.7, 0.9), (0.5, 0.5, 0.7), (0.9, 0.05, 0.15)],
            Some(OperatingPoint {
                recall: 0.5,
                precision: 0.6,
                recall_interval: Some((0.4, 0.6)),
                precision_interval: Some((0.5, 0.7)),
            }),
            0.5,
        )
        .unwrap();
        let t = texts(&s);
        assert!(t.iter().any(|(_, x)| x == "recall"));
        assert!(t.iter().any(|(_, x)| x == "precision"));
        assert!(t.iter().any(|(_, x)| x.contains("operating point")));
        assert!(t.iter().any(|(_, x)| x.contains("precision interval")));
        // The band is one closed shape through all six bounds.
        assert!(s.contains("<polygon"), "{s}");
        // No label shrunk below the sizes set (plotters' default would be smaller).
        assert!(t.iter().all(|(size, _)| *size >= LABEL_PX - 1e-9), "{t:?}");
        // The caption's size is rounded to whole points on the way (19 px -> 18.5).
        assert!(
            t.iter()
                .any(|(size, x)| *size > CAPTION_PX - 1.0 && x.starts_with("Precision"))
        );
        assert!(s.starts_with("<svg") && s.contains("</svg>"));
    }

    #[test]
    fn bars_name_every_item_and_every_chart_draws() {
        let items = vec![
            ("calls_prev_7d".to_string(), 0.8),
            ("channel_web".to_string(), -0.3),
        ];
        let s = bars("Coefficients", "log-odds", &items).unwrap();
        let t = texts(&s);
        assert!(t.iter().any(|(_, x)| x == "calls_prev_7d"));
        assert!(t.iter().any(|(_, x)| x == "channel_web"));
        assert!(reliability(&[0.01, 0.05], &[0.012, 0.04]).is_ok());
        let (neg, pos) = ([0.01, 0.02], [0.3]);
        let series = [
            ("label 0".to_string(), &neg[..]),
            ("label 1".to_string(), &pos[..]),
        ];
        assert!(score_histograms("by label", &series, Some(0.1)).is_ok());
        assert!(score_histograms("none", &[], None).is_ok());
        assert!(cv_by_c(&[("balanced".into(), vec![(0.1, 0.2, 0.01), (1.0, 0.25, 0.02)])]).is_ok());
        assert!(bars("empty", "x", &[]).is_ok());
        // No label is left blank.
        assert!(texts(&s).iter().all(|(_, x)| !x.is_empty()));
        assert_eq!(
            without_empty_texts("<svg><text a=\"1\">\n</text><text>x</text></svg>"),
            "<svg><text>x</text></svg>"
        );
    }
}
