//! A vertical bar chart: one bar per labelled value, the value printed above each bar, the label
//! under it, on a linear axis from 0 or a logarithmic one; optionally a dashed horizontal
//! reference line. The book's speed figures (chapters 7, 9 and 13) are drawn with it.
//!
//! Size: [`BAR_CHART_HEIGHT`] (500) pixels high and at least [`MIN_BAR_CHART_WIDTH`] (800)
//! wide; wider when a label's longest word would not fit under its bar, so that labels never
//! overlap ([`bar_chart_size`] gives the exact size). Labels are wrapped at spaces to the width
//! of a bar's slot, and at every `\n` in them. Drawn at [`SUPERSAMPLING`] times the size and
//! shrunk, so that text is smooth.
//!
//! Axis range: linear, from 0 to 15 % above the highest bar; logarithmic, the whole decades
//! from the lowest bar to twice the highest (room for the value above it). A logarithmic axis
//! is what shows a bar of 0.3 next to one of 110.

use super::axis::{
    axis_tick_label, check_finite, check_positive_for_log, decade_range, decades, log_coordinate,
};
use super::supersample::{downsample_rgb, SUPERSAMPLING};
use super::{drawing_error, register_bundled_font, save_rgb_png, FONT};
use crate::error::{Error, Result};
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Height in pixels of every bar-chart PNG.
pub const BAR_CHART_HEIGHT: u32 = 500;
/// The narrowest bar-chart PNG, in pixels (wider when the labels need it).
pub const MIN_BAR_CHART_WIDTH: u32 = 800;

/// Font size (pixels) of the labels under the bars.
const LABEL_FONT: f64 = 15.0;
/// Line height (pixels) of the labels under the bars.
const LABEL_LINE: u32 = 18;
/// Free space (pixels) left on each side of a label inside its bar's slot.
const LABEL_PAD: u32 = 6;
/// Outer margin of the chart and width of the y-label area, in pixels.
const MARGIN: u32 = 18;
const Y_LABEL_AREA: u32 = 70;

/// One bar of a [`BarChart`].
#[derive(Clone, Debug)]
pub struct Bar {
    /// The label under the bar (wrapped at spaces, and at every `\n`).
    pub label: String,
    /// The bar's height, ≥ 0 (> 0 on a logarithmic axis).
    pub value: f64,
    /// Fill colour (e.g. one of [`super::PALETTE`]).
    pub color: RGBColor,
}

/// A vertical bar chart with the value written above each bar.
#[derive(Clone, Debug)]
pub struct BarChart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Name of the y axis (with its unit).
    pub y_desc: &'a str,
    /// The bars, left to right.
    pub bars: Vec<Bar>,
    /// Logarithmic y axis (every value must be > 0). Default: linear from 0.
    pub log_y: bool,
    /// How a value is printed above its bar. Default: [`three_significant_digits`].
    pub value_format: fn(f64) -> String,
    /// Optional dashed horizontal reference line `(y, label)`, labelled at its left end.
    /// Default: none.
    pub reference: Option<(f64, String)>,
}

impl<'a> BarChart<'a> {
    /// A chart of `bars` on a linear axis from 0, values printed with three significant
    /// digits, no reference line; change the public fields for anything else.
    pub fn new(title: &'a str, y_desc: &'a str, bars: Vec<Bar>) -> Self {
        BarChart {
            title,
            y_desc,
            bars,
            log_y: false,
            value_format: three_significant_digits,
            reference: None,
        }
    }
}

/// `110.21` → `"110"`, `1.6543` → `"1.65"`, `0.3` → `"0.300"`: the default value format.
pub fn three_significant_digits(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals = (2 - value.abs().log10().floor() as i32).max(0) as usize;
    format!("{value:.decimals$}")
}

/// Draw `chart` and save it as a PNG of [`bar_chart_size`] at `path`, atomically.
///
/// Errors (nothing is written) when there is no bar, a value is NaN or infinite, negative, or
/// ≤ 0 on a logarithmic axis (likewise the reference line), or the file cannot be written.
pub fn save_bar_chart(path: impl AsRef<Path>, chart: &BarChart) -> Result<()> {
    let (rgb, (width, height)) = render_bar_chart(chart)?;
    save_rgb_png(path, &rgb, width, height)
}

/// Draw `chart` into a packed RGB8 buffer (what [`save_bar_chart`] saves) and return it with
/// its `(width, height)` in pixels, with the same checks.
pub fn render_bar_chart(chart: &BarChart) -> Result<(Vec<u8>, (u32, u32))> {
    validate(chart)?;
    let layout = layout(chart)?;
    let (y0, y1) = y_range(chart);
    let s = SUPERSAMPLING;
    let (width, height) = (layout.width * s, BAR_CHART_HEIGHT * s);
    let mut big = vec![0u8; (width * height * 3) as usize];
    let drawn = if chart.log_y {
        draw(&mut big, chart, &layout, log_coordinate(y0, y1), (y0, y1))
    } else {
        draw(&mut big, chart, &layout, y0..y1, (y0, y1))
    };
    drawn.map_err(|e| drawing_error(chart.title, e))?;
    let rgb = downsample_rgb(&big, width, height, s)?;
    Ok((rgb, (layout.width, BAR_CHART_HEIGHT)))
}

/// The `(width, height)` in pixels of the PNG that [`save_bar_chart`] writes for `chart`:
/// `BAR_CHART_HEIGHT` high and `max(MIN_BAR_CHART_WIDTH, margins + y labels + bars × slot)`
/// wide, where a slot is the longest word of any label plus 6 pixels on either side.
pub fn bar_chart_size(chart: &BarChart) -> Result<(u32, u32)> {
    validate(chart)?;
    Ok((layout(chart)?.width, BAR_CHART_HEIGHT))
}

/// Where the bars' labels go: the figure width and each label's wrapped lines.
struct Layout {
    width: u32,
    labels: Vec<Vec<String>>,
}

/// The width in pixels of `text` in the label font.
fn text_width(text: &str) -> Result<u32> {
    (FONT, LABEL_FONT)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .map_err(|e| Error::invalid(format!("cannot measure the label \"{text}\": {e}")))
}

/// Split `label` at its `\n`s, then fill each part word by word into lines of at most
/// `max_width` pixels (a word longer than that gets a line of its own).
fn wrap_label(label: &str, max_width: u32) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for part in label.split('\n') {
        let mut line = String::new();
        for word in part.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if line.is_empty() || text_width(&candidate)? <= max_width {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            }
        }
        lines.push(line);
    }
    Ok(lines)
}

/// The figure width and the wrapped labels (see [`bar_chart_size`]).
fn layout(c: &BarChart) -> Result<Layout> {
    register_bundled_font();
    let mut widest_word = 0;
    for bar in &c.bars {
        for word in bar.label.split_whitespace() {
            widest_word = widest_word.max(text_width(word)?);
        }
    }
    let n = c.bars.len() as u32;
    let frame = 2 * MARGIN + Y_LABEL_AREA;
    let width = MIN_BAR_CHART_WIDTH.max(frame + n * (widest_word + 2 * LABEL_PAD));
    let slot = (width - frame) / n;
    let labels = c
        .bars
        .iter()
        .map(|bar| wrap_label(&bar.label, slot - 2 * LABEL_PAD))
        .collect::<Result<_>>()?;
    Ok(Layout { width, labels })
}

/// Check every value before anything is drawn.
fn validate(c: &BarChart) -> Result<()> {
    if c.bars.is_empty() {
        return Err(Error::invalid(format!(
            "{}: a bar chart needs at least one bar",
            c.title
        )));
    }
    let reference = c
        .reference
        .iter()
        .map(|(y, label)| (*y, format!("reference line \"{label}\"")));
    let values = c
        .bars
        .iter()
        .map(|b| (b.value, format!("bar \"{}\"", b.label)))
        .chain(reference);
    for (value, what) in values {
        let at = || format!("{}: {what}", c.title);
        check_finite(at, value)?;
        if c.log_y {
            check_positive_for_log(at, value)?;
        } else if value < 0.0 {
            return Err(Error::invalid(format!(
                "{}: {what} is {value}; bars start at 0 and need values ≥ 0",
                c.title
            )));
        }
    }
    Ok(())
}

/// The y range shown (see the module documentation).
fn y_range(c: &BarChart) -> (f64, f64) {
    let values = c
        .bars
        .iter()
        .map(|b| b.value)
        .chain(c.reference.iter().map(|r| r.0));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if c.log_y {
        decade_range(lo, 2.0 * hi)
    } else if hi > 0.0 {
        (0.0, 1.15 * hi)
    } else {
        (0.0, 1.0)
    }
}

/// The plotting itself at `SUPERSAMPLING` times the final size; plotters errors as text.
fn draw<Y>(
    rgb: &mut [u8],
    c: &BarChart,
    layout: &Layout,
    y_spec: Y,
    (y0, y1): (f64, f64),
) -> std::result::Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let s = SUPERSAMPLING;
    let (sf, si) = (s as f64, s as i32);
    let n = c.bars.len() as f64;
    let lines = layout.labels.iter().map(Vec::len).max().unwrap_or(1) as u32;
    let root = BitMapBackend::with_buffer(rgb, (layout.width * s, BAR_CHART_HEIGHT * s))
        .into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(c.title, (FONT, 24.0 * sf))
        .margin(MARGIN * s)
        .x_label_area_size((12 + LABEL_LINE * lines) * s)
        .y_label_area_size(Y_LABEL_AREA * s)
        .build_cartesian_2d(0.0..n, y_spec)
        .map_err(|e| e.to_string())?;
    let y_decades = decades(y0, y1);
    let y_fmt = |v: &f64| axis_tick_label(*v, c.log_y, y_decades);
    // On a log axis the 60 requested ticks become 1, 2, …, 9 × each power of ten.
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc(c.y_desc)
        .y_labels(if c.log_y { 60 } else { 8 })
        .max_light_lines(if c.log_y { 0 } else { 4 })
        .y_label_formatter(&y_fmt)
        .axis_desc_style((FONT, 18.0 * sf))
        .label_style((FONT, 15.0 * sf))
        .axis_style(BLACK.stroke_width(s))
        .set_all_tick_mark_size(5 * si)
        .light_line_style(RGBColor(240, 240, 240).stroke_width(s))
        .bold_line_style(RGBColor(215, 215, 215).stroke_width(s))
        .draw()
        .map_err(|e| e.to_string())?;
    let value_style = (FONT, 16.0 * sf)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    let label_style = (FONT, LABEL_FONT * sf)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (i, (bar, label)) in c.bars.iter().zip(&layout.labels).enumerate() {
        let x = i as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x + 0.15, y0), (x + 0.85, bar.value)],
                bar.color.filled(),
            )))
            .map_err(|e| e.to_string())?;
        let (px, top) = chart.backend_coord(&(x + 0.5, bar.value));
        root.draw(&Text::new(
            (c.value_format)(bar.value),
            (px, top - 4 * si),
            value_style.clone(),
        ))
        .map_err(|e| e.to_string())?;
        let (_, base) = chart.backend_coord(&(x + 0.5, y0));
        for (k, line) in label.iter().enumerate() {
            let y = base + (6 + LABEL_LINE * k as u32) as i32 * si;
            root.draw(&Text::new(line.clone(), (px, y), label_style.clone()))
                .map_err(|e| e.to_string())?;
        }
    }
    if let Some((y, label)) = &c.reference {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, *y), (n, *y)],
                8 * si,
                5 * si,
                BLACK.mix(0.7).stroke_width(2 * s),
            ))
            .map_err(|e| e.to_string())?;
        let (px, py) = chart.backend_coord(&(0.0, *y));
        let style = (FONT, 15.0 * sf)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Bottom));
        root.draw(&Text::new(label.clone(), (px + 4 * si, py - 3 * si), style))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_wrap_at_spaces_and_newlines() {
        register_bundled_font();
        let narrow = text_width("im2col +").unwrap();
        let lines = wrap_label("im2col + textbook\n1 thread", narrow).unwrap();
        assert_eq!(lines, ["im2col +", "textbook", "1 thread"]);
        let wide = wrap_label("im2col + textbook", 10_000).unwrap();
        assert_eq!(wide, ["im2col + textbook"]);
        // A word wider than the line keeps a line of its own.
        assert_eq!(
            wrap_label("BatchNormalization", 5).unwrap(),
            ["BatchNormalization"]
        );
    }

    #[test]
    fn long_words_widen_the_figure() {
        let bar = |label: &str| Bar {
            label: label.to_string(),
            value: 1.0,
            color: BLACK,
        };
        let short = BarChart::new("t", "y", vec![bar("a"), bar("b")]);
        assert_eq!(bar_chart_size(&short).unwrap(), (MIN_BAR_CHART_WIDTH, 500));
        let long = BarChart::new("t", "y", vec![bar("BatchNormalization"); 12]);
        let (width, _) = bar_chart_size(&long).unwrap();
        let word = text_width("BatchNormalization").unwrap();
        assert_eq!(
            width,
            2 * MARGIN + Y_LABEL_AREA + 12 * (word + 2 * LABEL_PAD)
        );
        assert!(width > MIN_BAR_CHART_WIDTH);
    }

    #[test]
    fn ranges_and_value_format() {
        let bars = |values: &[f64]| {
            let bars = values
                .iter()
                .map(|&value| Bar {
                    label: String::new(),
                    value,
                    color: BLACK,
                })
                .collect();
            BarChart::new("t", "y", bars)
        };
        assert_eq!(y_range(&bars(&[0.0, 10.0])), (0.0, 11.5));
        assert_eq!(y_range(&bars(&[0.0])), (0.0, 1.0));
        let mut log = bars(&[0.3, 110.0]);
        log.log_y = true;
        assert_eq!(y_range(&log), (0.1, 1000.0));
        assert_eq!(three_significant_digits(110.21), "110");
        assert_eq!(three_significant_digits(1.6543), "1.65");
        assert_eq!(three_significant_digits(0.3), "0.300");
        assert_eq!(three_significant_digits(0.0), "0");
    }
}
