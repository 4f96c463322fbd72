//! A line chart: named curves `y(x)` on one pair of axes, each axis linear or logarithmic, with
//! a legend and an optional dashed vertical marker. The book draws its analytic functions
//! (chapter 2's grader, chapter 6's softmax) and its measured series (chapters 8 and 9) with it.
//!
//! The PNG is [`LINE_CHART_SIZE`] (800 × 500 pixels), drawn at [`SUPERSAMPLING`] times that
//! size and shrunk, so that curves and text are smooth.
//!
//! Axis ranges, unless [`LineChart::y_range`] fixes the y one:
//! - linear x: exactly the data's range; linear y: the data's range plus 6 % of it above and
//!   below, but never below 0 when no value is negative (a probability axis starts at 0);
//! - logarithmic: the whole decades containing the data (e.g. `0.01 … 10`).

use super::axis::{
    axis_tick_label, check_finite, check_positive_for_log, decade_range, decades, log_coordinate,
};
use super::supersample::{downsample_rgb, SUPERSAMPLING};
use super::{draw_legend, drawing_error, register_bundled_font, save_rgb_png, FONT};
use crate::error::{Error, Result};
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Width and height in pixels of every line-chart PNG.
pub const LINE_CHART_SIZE: (u32, u32) = (800, 500);

/// One named curve of a [`LineChart`].
#[derive(Clone, Debug)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// The points `(x, y)`, joined in this order.
    pub points: Vec<(f64, f64)>,
    /// Stroke colour (e.g. one of [`super::PALETTE`]).
    pub color: RGBColor,
    /// Dashed instead of solid (default: solid).
    pub dashed: bool,
}

impl Line {
    /// A solid curve through `points`.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Line {
        Line {
            label: label.into(),
            points,
            color,
            dashed: false,
        }
    }

    /// A solid curve through `(xs[i], ys[i])`; fails if the two slices differ in length.
    pub fn from_xy(
        label: impl Into<String>,
        xs: &[f64],
        ys: &[f64],
        color: RGBColor,
    ) -> Result<Line> {
        let label = label.into();
        if xs.len() != ys.len() {
            return Err(Error::invalid(format!(
                "line \"{label}\": {} x values but {} y values; need one of each per point",
                xs.len(),
                ys.len()
            )));
        }
        let points = xs.iter().copied().zip(ys.iter().copied()).collect();
        Ok(Line::new(label, points, color))
    }

    /// The same curve, dashed.
    pub fn dashed(self) -> Line {
        Line {
            dashed: true,
            ..self
        }
    }
}

/// A line chart: title, axis names, curves, and how the axes are scaled.
#[derive(Clone, Debug)]
pub struct LineChart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Name of the x axis (with its unit).
    pub x_desc: &'a str,
    /// Name of the y axis (with its unit).
    pub y_desc: &'a str,
    /// The curves, drawn in this order (the last on top).
    pub lines: Vec<Line>,
    /// Logarithmic x axis (every x must be > 0). Default: linear.
    pub log_x: bool,
    /// Logarithmic y axis (every y must be > 0). Default: linear.
    pub log_y: bool,
    /// Where the legend goes. Default: upper right.
    pub legend: SeriesLabelPosition,
    /// Optional dashed vertical marker `(x, label)`, labelled at its top. Default: none.
    pub marker: Option<(f64, String)>,
    /// The y range shown, `(bottom, top)`, instead of the automatic one (see the module
    /// documentation). Points outside it are clipped. Default: automatic.
    pub y_range: Option<(f64, f64)>,
}

impl<'a> LineChart<'a> {
    /// A chart of `lines` with linear axes, the legend at the upper right, no marker and
    /// automatic ranges; change the public fields for anything else.
    pub fn new(title: &'a str, x_desc: &'a str, y_desc: &'a str, lines: Vec<Line>) -> Self {
        LineChart {
            title,
            x_desc,
            y_desc,
            lines,
            log_x: false,
            log_y: false,
            legend: SeriesLabelPosition::UpperRight,
            marker: None,
            y_range: None,
        }
    }
}

/// Draw `chart` and save it as a [`LINE_CHART_SIZE`] PNG at `path`, atomically.
///
/// Errors (nothing is written) when there is no line or a line has no point, a coordinate is
/// NaN or infinite, a value on a logarithmic axis is ≤ 0, `y_range` is empty, or the file
/// cannot be written.
pub fn save_line_chart(path: impl AsRef<Path>, chart: &LineChart) -> Result<()> {
    let rgb = render_line_chart(chart)?;
    let (width, height) = LINE_CHART_SIZE;
    save_rgb_png(path, &rgb, width, height)
}

/// Draw `chart` into a packed RGB8 buffer of [`LINE_CHART_SIZE`] (what [`save_line_chart`]
/// saves), with the same checks.
pub fn render_line_chart(chart: &LineChart) -> Result<Vec<u8>> {
    validate(chart)?;
    let (x_range, y_range) = ranges(chart);
    register_bundled_font();
    let s = SUPERSAMPLING;
    let (width, height) = (LINE_CHART_SIZE.0 * s, LINE_CHART_SIZE.1 * s);
    let mut big = vec![0u8; (width * height * 3) as usize];
    let (x0, x1) = x_range;
    let (y0, y1) = y_range;
    let drawn = match (chart.log_x, chart.log_y) {
        (false, false) => draw(&mut big, chart, x0..x1, y0..y1, y_range),
        (true, false) => draw(&mut big, chart, log_coordinate(x0, x1), y0..y1, y_range),
        (false, true) => draw(&mut big, chart, x0..x1, log_coordinate(y0, y1), y_range),
        (true, true) => draw(
            &mut big,
            chart,
            log_coordinate(x0, x1),
            log_coordinate(y0, y1),
            y_range,
        ),
    };
    drawn.map_err(|e| drawing_error(chart.title, e))?;
    downsample_rgb(&big, width, height, s)
}

/// Check every value before anything is drawn.
fn validate(c: &LineChart) -> Result<()> {
    if c.lines.is_empty() {
        return Err(Error::invalid(format!(
            "{}: a line chart needs at least one line",
            c.title
        )));
    }
    for line in &c.lines {
        if line.points.is_empty() {
            return Err(Error::invalid(format!(
                "{}: line \"{}\" has no points",
                c.title, line.label
            )));
        }
        for (i, &(x, y)) in line.points.iter().enumerate() {
            let at =
                |axis: &str| format!("{}: line \"{}\", point {i}, {axis}", c.title, line.label);
            check_finite(|| at("x"), x)?;
            check_finite(|| at("y"), y)?;
            if c.log_x {
                check_positive_for_log(|| at("x"), x)?;
            }
            if c.log_y {
                check_positive_for_log(|| at("y"), y)?;
            }
        }
    }
    if let Some((x, _)) = &c.marker {
        let at = || format!("{}: marker x", c.title);
        check_finite(at, *x)?;
        if c.log_x {
            check_positive_for_log(at, *x)?;
        }
    }
    if let Some((bottom, top)) = c.y_range {
        let at = || format!("{}: y_range", c.title);
        check_finite(at, bottom)?;
        check_finite(at, top)?;
        if c.log_y {
            check_positive_for_log(at, bottom)?;
        }
        if bottom >= top {
            return Err(Error::invalid(format!(
                "{}: y_range ({bottom}, {top}) is empty; the bottom must be below the top",
                c.title
            )));
        }
    }
    Ok(())
}

/// The x and y ranges shown (see the module documentation).
fn ranges(c: &LineChart) -> ((f64, f64), (f64, f64)) {
    let points = || c.lines.iter().flat_map(|l| l.points.iter().copied());
    let min_max = |values: &mut dyn Iterator<Item = f64>| {
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
    };
    let (x_lo, x_hi) = min_max(&mut points().map(|p| p.0));
    let (y_lo, y_hi) = min_max(&mut points().map(|p| p.1));
    let x = if c.log_x {
        decade_range(x_lo, x_hi)
    } else if x_hi > x_lo {
        (x_lo, x_hi)
    } else {
        (x_lo - 0.5, x_hi + 0.5)
    };
    let y = match c.y_range {
        Some(range) => range,
        None if c.log_y => decade_range(y_lo, y_hi),
        None => {
            let pad = if y_hi > y_lo {
                0.06 * (y_hi - y_lo)
            } else {
                (0.05 * y_hi.abs()).max(0.05)
            };
            let bottom = if y_lo >= 0.0 {
                (y_lo - pad).max(0.0)
            } else {
                y_lo - pad
            };
            (bottom, y_hi + pad)
        }
    };
    (x, y)
}

/// The plotting itself at `SUPERSAMPLING` times the final size; plotters errors as text.
fn draw<X, Y>(
    rgb: &mut [u8],
    c: &LineChart,
    x_spec: X,
    y_spec: Y,
    (y0, y1): (f64, f64),
) -> std::result::Result<(), String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let s = SUPERSAMPLING;
    let (sf, si) = (s as f64, s as i32);
    let size = (LINE_CHART_SIZE.0 * s, LINE_CHART_SIZE.1 * s);
    let root = BitMapBackend::with_buffer(rgb, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(c.title, (FONT, 24.0 * sf))
        .margin(18 * s)
        .x_label_area_size(50 * s)
        .y_label_area_size(70 * s)
        .build_cartesian_2d(x_spec, y_spec)
        .map_err(|e| e.to_string())?;
    let x_range = chart.x_range();
    let x_decades = decades(x_range.start, x_range.end);
    let y_decades = decades(y0, y1);
    let x_fmt = |v: &f64| axis_tick_label(*v, c.log_x, x_decades);
    let y_fmt = |v: &f64| axis_tick_label(*v, c.log_y, y_decades);
    // On a log axis the 60 requested ticks become 1, 2, …, 9 × each power of ten.
    chart
        .configure_mesh()
        .x_desc(c.x_desc)
        .y_desc(c.y_desc)
        .x_labels(if c.log_x { 60 } else { 10 })
        .y_labels(if c.log_y { 60 } else { 8 })
        .max_light_lines(if c.log_x || c.log_y { 0 } else { 4 })
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .axis_desc_style((FONT, 18.0 * sf))
        .label_style((FONT, 15.0 * sf))
        .axis_style(BLACK.stroke_width(s))
        .set_all_tick_mark_size(5 * si)
        .light_line_style(RGBColor(240, 240, 240).stroke_width(s))
        .bold_line_style(RGBColor(215, 215, 215).stroke_width(s))
        .draw()
        .map_err(|e| e.to_string())?;
    for line in &c.lines {
        let color = line.color;
        let stroke = color.stroke_width(3 * s);
        let legend_len = 24 * si;
        let points = line.points.clone();
        let drawn = if line.dashed {
            chart.draw_series(DashedLineSeries::new(points, 8 * si, 5 * si, stroke))
        } else {
            chart.draw_series(LineSeries::new(points, stroke))
        };
        drawn
            .map_err(|e| e.to_string())?
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + legend_len, y)], stroke));
    }
    if let Some((x, label)) = &c.marker {
        chart
            .draw_series(DashedLineSeries::new(
                [(*x, y0), (*x, y1)],
                6 * si,
                5 * si,
                BLACK.mix(0.6).stroke_width(2 * s),
            ))
            .map_err(|e| e.to_string())?;
        let (px, py) = chart.backend_coord(&(*x, y1));
        let style = (FONT, 15.0 * sf)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Top));
        root.draw(&Text::new(label.clone(), (px + 6 * si, py + 6 * si), style))
            .map_err(|e| e.to_string())?;
    }
    draw_legend(&mut chart, c.legend.clone(), 16.0, s)?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart_of(points: Vec<(f64, f64)>) -> LineChart<'static> {
        LineChart::new("t", "x", "y", vec![Line::new("a", points, BLACK)])
    }

    #[test]
    fn linear_y_starts_at_zero_for_non_negative_data() {
        let (x, y) = ranges(&chart_of(vec![(0.0, 0.0), (1.0, 1.0)]));
        assert_eq!(x, (0.0, 1.0));
        assert_eq!(y.0, 0.0);
        assert!((y.1 - 1.06).abs() < 1e-12);
        let (_, y) = ranges(&chart_of(vec![(0.0, -1.0), (1.0, 1.0)]));
        assert!((y.0 + 1.12).abs() < 1e-12 && (y.1 - 1.12).abs() < 1e-12);
    }

    #[test]
    fn constant_and_log_ranges() {
        let (x, y) = ranges(&chart_of(vec![(2.0, 3.0)]));
        assert_eq!(x, (1.5, 2.5));
        assert!(y.0 < 3.0 && y.1 > 3.0);
        let mut chart = chart_of(vec![(0.5, 0.08), (20.0, 6.0)]);
        (chart.log_x, chart.log_y) = (true, true);
        let (x, y) = ranges(&chart);
        assert_eq!(x, (0.1, 100.0));
        assert!((y.0 - 0.01).abs() < 1e-15 && y.1 == 10.0);
        chart.y_range = Some((0.05, 8.0));
        assert_eq!(ranges(&chart).1, (0.05, 8.0));
    }
}
