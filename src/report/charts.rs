//! The report's charts, drawn with plotters' SVG backend into strings: a time-series chart
//! (lines with 95 % bands, filled points for reliable values, hollow points for unreliable ones,
//! a gap and an `S` mark at the foot of the chart for a suppressed one) and a horizontal bar chart
//! (grouped bars with their 95 % whiskers; signed values for a pyramid). The keys are the page's
//! (HTML beside each chart), so no legend box hides a point.
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use thiserror::Error;

/// A chart that could not be drawn (plotters' message).
#[derive(Debug, Error)]
#[error("drawing the chart {title:?}: {msg}")]
pub struct ChartError {
    pub title: String,
    pub msg: String,
}

type Result<T> = std::result::Result<T, ChartError>;

/// The series colours (colour-blind safe: Okabe–Ito), as `#rrggbb` for the page's legends too.
pub const PALETTE: [(u8, u8, u8); 6] = [
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (230, 159, 0),
];

/// `#rrggbb` of a palette colour.
pub fn hex(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02X}{g:02X}{b:02X}")
}

fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// One period of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Point {
    /// No observation for this period.
    Absent,
    /// Suppressed (`S`): no value, drawn as a gap with a mark, never as zero.
    Suppressed,
    Value {
        value: f64,
        lower: Option<f64>,
        upper: Option<f64>,
        unreliable: bool,
    },
}

impl Point {
    fn value(&self) -> Option<f64> {
        match self {
            Point::Value { value, .. } => Some(*value),
            _ => None,
        }
    }
}

/// One line of a time-series chart: a point per period.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

fn err(title: &str) -> impl Fn(String) -> ChartError + '_ {
    move |msg| ChartError {
        title: title.to_string(),
        msg,
    }
}

/// The y range of the values and bounds, padded; `lo0` starts it at zero when all are positive.
fn y_range(values: impl Iterator<Item = f64>, lo0: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if lo0 && lo >= 0.0 {
        lo = 0.0;
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-9);
    (if lo == 0.0 { 0.0 } else { lo - pad }, hi + pad)
}

/// Which period labels to print so that they do not overlap: one per 95 pixels at most.
fn label_step(n: usize, width: u32) -> usize {
    let most = (width as usize / 95).max(2);
    n.div_ceil(most).max(1)
}

/// A time-series chart of `series` over `periods`, `width` × `height` pixels.
pub fn time_series(
    title: &str,
    y_desc: &str,
    periods: &[String],
    series: &[Series],
    size: (u32, u32),
) -> Result<String> {
    let e = err(title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let bounds = series
            .iter()
            .flat_map(|s| s.points.iter())
            .flat_map(|p| match p {
                Point::Value {
                    value,
                    lower,
                    upper,
                    ..
                } => vec![Some(*value), *lower, *upper],
                _ => vec![],
            });
        let (y0, y1) = y_range(bounds.flatten(), true);
        let n = periods.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y0..y1)
            .map_err(|x| e(x.to_string()))?;
        let step = label_step(n, size.0);
        let fmt = |x: &f64| period_label(periods, *x, step);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(60))
            .x_label_formatter(&fmt)
            .y_label_formatter(&|y| number_label(*y))
            .y_desc(y_desc)
            .max_light_lines(0)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 15))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (i, s) in series.iter().enumerate() {
            draw_series(&mut chart, i, s, y0, y1).map_err(&e)?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// The label of the period at `x` (every `step`-th one; others blank).
fn period_label(periods: &[String], x: f64, step: usize) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    let i = i as usize;
    match periods.get(i) {
        Some(p) if i.is_multiple_of(step) => p.clone(),
        _ => String::new(),
    }
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// What drawing an element on a chart can fail with, as text.
type Drawn = std::result::Result<(), String>;

/// One series: its band and line per run of consecutive values, its points (filled, hollow when
/// unreliable), and an `S` at the foot of the chart for each suppressed period.
fn draw_series(chart: &mut Chart, i: usize, s: &Series, y0: f64, y1: f64) -> Drawn {
    let c = color(i);
    for run in runs(&s.points) {
        draw_run(chart, c, &run)?;
    }
    let points = s.points.iter().enumerate().filter_map(|(x, p)| match p {
        Point::Value {
            value, unreliable, ..
        } => {
            let style = if *unreliable {
                c.stroke_width(2)
            } else {
                c.filled()
            };
            Some(Circle::new((x as f64, *value), 4, style))
        }
        _ => None,
    });
    chart.draw_series(points).map_err(|x| x.to_string())?;
    let foot = y0 + (y1 - y0) * 0.03;
    let suppressed = s
        .points
        .iter()
        .enumerate()
        .filter(|(_, p)| **p == Point::Suppressed);
    let marks = suppressed.map(|(x, _)| {
        let style = ("sans-serif", 16).into_font().color(&c);
        Text::new(
            "S",
            (x as f64, foot),
            style.pos(Pos::new(HPos::Center, VPos::Bottom)),
        )
    });
    chart.draw_series(marks).map_err(|x| x.to_string())?;
    Ok(())
}

/// The band and line of one run of consecutive values; a lone point's interval is a whisker.
fn draw_run(chart: &mut Chart, c: RGBColor, run: &[(f64, Point)]) -> Drawn {
    let upper = run
        .iter()
        .filter_map(|&(x, p)| bound(p, true).map(|u| (x, u)));
    let lower = run
        .iter()
        .rev()
        .filter_map(|&(x, p)| bound(p, false).map(|l| (x, l)));
    let band: Vec<(f64, f64)> = upper.chain(lower).collect();
    if band.len() >= 3 {
        let polygon = Polygon::new(band, c.mix(0.18).filled());
        chart
            .draw_series(std::iter::once(polygon))
            .map_err(|x| x.to_string())?;
    }
    let line: Vec<(f64, f64)> = run
        .iter()
        .filter_map(|&(x, p)| p.value().map(|v| (x, v)))
        .collect();
    let path = PathElement::new(line, c.stroke_width(2));
    chart
        .draw_series(std::iter::once(path))
        .map_err(|x| x.to_string())?;
    if let [(
        x,
        Point::Value {
            lower: Some(l),
            upper: Some(u),
            ..
        },
    )] = run
    {
        let whisker = PathElement::new(vec![(*x, *l), (*x, *u)], c.stroke_width(2));
        chart
            .draw_series(std::iter::once(whisker))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn bound(p: Point, upper: bool) -> Option<f64> {
    match p {
        Point::Value {
            lower, upper: u, ..
        } => {
            if upper {
                u
            } else {
                lower
            }
        }
        _ => None,
    }
}

/// Runs of consecutive periods with a value, each point with its x.
fn runs(points: &[Point]) -> Vec<Vec<(f64, Point)>> {
    let mut out: Vec<Vec<(f64, Point)>> = vec![Vec::new()];
    for (x, p) in points.iter().enumerate() {
        match p.value() {
            Some(_) => out.last_mut().map(|r| r.push((x as f64, *p))).unwrap_or(()),
            None => out.push(Vec::new()),
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// A bar's value with the lower and upper ends of its 95 % interval.
pub type Bar = (f64, Option<f64>, Option<f64>);

/// One group of bars: a value per category, or none. Groups in the same `slot` share a row
/// position (a pyramid's men and women, drawn on either side of zero); `colour` indexes the
/// palette; a group with an empty name stays out of the page's key.
#[derive(Debug, Clone)]
pub struct BarGroup {
    pub name: String,
    pub colour: usize,
    pub slot: usize,
    pub values: Vec<Option<Bar>>,
}

impl BarGroup {
    /// A group with its own colour and row position.
    pub fn new(name: impl Into<String>, index: usize, values: Vec<Option<Bar>>) -> BarGroup {
        BarGroup {
            name: name.into(),
            colour: index,
            slot: index,
            values,
        }
    }
}

/// Horizontal grouped bars, categories top to bottom; `abs_labels` prints |x| (pyramids).
pub fn hbars(
    title: &str,
    x_desc: &str,
    categories: &[String],
    groups: &[BarGroup],
    abs_labels: bool,
    width: u32,
) -> Result<String> {
    let e = err(title);
    let height = (90 + categories.len() as u32 * (10 + 9 * groups.len() as u32)).max(180);
    let longest = categories.iter().map(|c| c.chars().count()).max();
    let label_px = longest.unwrap_or(4) as u32 * 7 + 12;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let (x0, x1) = bar_range(groups, abs_labels);
        let n = categories.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(label_px.min(width / 2))
            .build_cartesian_2d(x0..x1, -0.5f64..(n - 0.5))
            .map_err(|x| e(x.to_string()))?;
        let ylab = |y: &f64| category_label(categories, *y);
        let xlab = |x: &f64| number_label(if abs_labels { x.abs() } else { *x });
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(categories.len().max(1))
            .y_label_formatter(&ylab)
            .x_label_formatter(&xlab)
            .x_desc(x_desc)
            .max_light_lines(0)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 15))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        let slots = groups.iter().map(|g| g.slot + 1).max().unwrap_or(1);
        let band = 0.8 / slots as f64;
        for g in groups {
            draw_bars(&mut chart, g, n, band).map_err(&e)?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// The value axis of a bar chart: every value and bound, from zero; symmetric for a pyramid.
fn bar_range(groups: &[BarGroup], symmetric: bool) -> (f64, f64) {
    let all = groups
        .iter()
        .flat_map(|g| g.values.iter().flatten())
        .flat_map(|(v, l, u)| [Some(*v), *l, *u]);
    let (x0, x1) = y_range(all.flatten(), true);
    if symmetric {
        let m = x0.abs().max(x1.abs());
        return (-m, m);
    }
    (x0, x1)
}

/// Category `i` is drawn at y = n - 1 - i (first on top).
fn category_label(categories: &[String], y: f64) -> String {
    let i = y.round();
    if (y - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    let n = categories.len();
    let i = i as usize;
    if i >= n {
        return String::new();
    }
    categories[n - 1 - i].clone()
}

fn draw_bars(
    chart: &mut Chart,
    g: &BarGroup,
    n: f64,
    band: f64,
) -> std::result::Result<(), String> {
    let c = color(g.colour);
    let offset = 0.4 - band * (g.slot + 1) as f64;
    let at = |ci: usize| n - 1.0 - ci as f64 + offset;
    let bars = g.values.iter().enumerate().filter_map(|(ci, v)| {
        v.map(|(v, _, _)| {
            Rectangle::new(
                [(0.0, at(ci) + band * 0.1), (v, at(ci) + band * 0.9)],
                c.filled(),
            )
        })
    });
    chart.draw_series(bars).map_err(|x| x.to_string())?;
    let whiskers = g.values.iter().enumerate().filter_map(|(ci, v)| match v {
        Some((_, Some(l), Some(u))) => {
            let y = at(ci) + band * 0.5;
            Some(PathElement::new(
                vec![(*l, y), (*u, y)],
                BLACK.stroke_width(1),
            ))
        }
        _ => None,
    });
    chart.draw_series(whiskers).map_err(|x| x.to_string())?;
    Ok(())
}

/// A tick label: no more digits than the scale needs.
pub fn number_label(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: f64) -> Point {
        Point::Value {
            value: x,
            lower: Some(x - 1.0),
            upper: Some(x + 1.0),
            unreliable: false,
        }
    }

    #[test]
    fn a_suppressed_point_breaks_the_line_and_is_not_zero() {
        let pts = [v(5.0), Point::Suppressed, v(6.0), v(7.0)];
        let r = runs(&pts);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].len(), 2);
        let svg = time_series(
            "t",
            "%",
            &["a".into(), "b".into(), "c".into(), "d".into()],
            &[Series {
                name: "s".into(),
                points: pts.to_vec(),
            }],
            (600, 300),
        )
        .expect("svg");
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        assert!(svg.contains(">\nS\n</text>"), "{svg}");
    }

    #[test]
    fn labels_are_sparse_and_readable() {
        assert_eq!(label_step(40, 540), 8);
        assert_eq!(label_step(2, 540), 1);
        assert_eq!(number_label(1234.6), "1235");
        assert_eq!(number_label(12.34), "12.3");
        assert_eq!(number_label(-0.5), "-0.50");
    }
}
