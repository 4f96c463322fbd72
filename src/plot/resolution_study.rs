//! The study at several input sizes as one figure (chapter 11, Figure 11.4): on the left the
//! test metrics of each size with their 95 % bootstrap intervals, on the right the training
//! time of an epoch on a log axis beside the growth the convolutions' work alone would give
//! (\\(\propto S^2\\), from the smallest size). The x axis is the input side, one tick per size,
//! labelled with the dural sac's median width at that size.
//!
//! The PNG is [`RESOLUTION_FIGURE_SIZE`], drawn at [`SUPERSAMPLING`] times that and shrunk.

use super::axis::{
    check_finite, check_positive_for_log, decade_range, log_coordinate, log_tick_label,
};
use super::supersample::{downsample_rgb, SUPERSAMPLING};
use super::{draw_legend, drawing_error, register_bundled_font, save_rgb_png, FONT, PALETTE};
use crate::error::{Error, Result};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::path::Path;

/// Width and height in pixels of the figure.
pub const RESOLUTION_FIGURE_SIZE: (u32, u32) = (1200, 520);

/// The legend names of the four test metrics of the left panel, in the order of
/// [`StudyPoint::metrics`].
pub const METRIC_NAMES: [&str; 4] = ["accuracy", "macro-F1", "Moderate recall", "Severe recall"];

/// One test metric of one run: its value and, when known, its 95 % interval `(low, high)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricPoint {
    /// The metric on the whole test split (0–1).
    pub value: f64,
    /// Its interval, drawn as a bar with whiskers.
    pub interval: Option<(f64, f64)>,
}

/// What the figure shows of one run at one input size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StudyPoint {
    /// Input side, pixels.
    pub image_size: usize,
    /// Median width of the dural sac at this size, pixels (shown under the tick).
    pub sac_width_px: Option<f64>,
    /// Training seconds of one epoch (> 0).
    pub seconds_per_epoch: f64,
    /// The test metrics, in the order of [`METRIC_NAMES`].
    pub metrics: [MetricPoint; 4],
}

/// The x position of an input side: \\(\log_2 S\\), so that 32, 64, 128, 256 are equally spaced.
fn x_of(image_size: usize) -> f64 {
    (image_size as f64).log2()
}

/// The tick label of `x` (a \\(\log_2\\) of a side): `64² · sac 5.9 px` for a size of the study,
/// empty between them.
fn tick_label(rows: &[StudyPoint], x: f64) -> String {
    rows.iter()
        .find(|r| (x_of(r.image_size) - x).abs() < 1e-6)
        .map(|r| match r.sac_width_px {
            Some(w) => format!("{}² · sac {w:.1} px", r.image_size),
            None => format!("{}²", r.image_size),
        })
        .unwrap_or_default()
}

/// Draw the study of `rows` (sorted by size or not; at least one) and save it at `path`.
/// Errors when there is no row, two rows share a size, a number is not finite or a time is not
/// positive.
pub fn plot_resolution_study(path: impl AsRef<Path>, rows: &[StudyPoint]) -> Result<()> {
    let (width, height) = RESOLUTION_FIGURE_SIZE;
    let rgb = render_resolution_study(rows)?;
    save_rgb_png(path, &rgb, width, height)
}

/// The figure of [`plot_resolution_study`] as a packed RGB8 buffer of
/// [`RESOLUTION_FIGURE_SIZE`].
pub fn render_resolution_study(rows: &[StudyPoint]) -> Result<Vec<u8>> {
    validate(rows)?;
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| r.image_size);
    register_bundled_font();
    let s = SUPERSAMPLING;
    let (width, height) = (RESOLUTION_FIGURE_SIZE.0 * s, RESOLUTION_FIGURE_SIZE.1 * s);
    let mut big = vec![0u8; (width * height * 3) as usize];
    draw(&mut big, &rows).map_err(|e| drawing_error("resolution study", e))?;
    downsample_rgb(&big, width, height, s)
}

fn validate(rows: &[StudyPoint]) -> Result<()> {
    if rows.is_empty() {
        return Err(Error::invalid("resolution study: no run to draw"));
    }
    for (i, r) in rows.iter().enumerate() {
        if r.image_size == 0 {
            return Err(Error::invalid(format!(
                "resolution study: row {i} has size 0"
            )));
        }
        if rows[..i].iter().any(|o| o.image_size == r.image_size) {
            return Err(Error::invalid(format!(
                "resolution study: two runs at {}²; keep one per size",
                r.image_size
            )));
        }
        for (name, m) in METRIC_NAMES.iter().zip(&r.metrics) {
            let at = || format!("resolution study, {}², {name}", r.image_size);
            check_finite(at, m.value)?;
            if let Some((low, high)) = m.interval {
                check_finite(at, low)?;
                check_finite(at, high)?;
            }
        }
        check_positive_for_log(
            || format!("resolution study, {}², seconds per epoch", r.image_size),
            r.seconds_per_epoch,
        )?;
    }
    Ok(())
}

fn draw(rgb: &mut [u8], rows: &[StudyPoint]) -> std::result::Result<(), String> {
    let s = SUPERSAMPLING;
    let (sf, si) = (s as f64, s as i32);
    let size = (RESOLUTION_FIGURE_SIZE.0 * s, RESOLUTION_FIGURE_SIZE.1 * s);
    let root = BitMapBackend::with_buffer(rgb, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally((RESOLUTION_FIGURE_SIZE.0 * s) * 56 / 100);
    let x_lo = x_of(rows[0].image_size) - 0.45;
    let x_hi = x_of(rows[rows.len() - 1].image_size) + 0.45;
    let label = |x: &f64| tick_label(rows, *x);
    // One label per whole log2 step (32, 64, 128, …): plotters then puts its ticks there.
    let ticks = (x_hi.floor() - x_lo.ceil()) as usize + 1;

    // Left: the test metrics with their intervals, each metric a little apart from the others.
    let mut chart = ChartBuilder::on(&left)
        .caption(
            "Test metrics (95 % intervals over test studies)",
            (FONT, 21.0 * sf),
        )
        .margin(16 * s)
        .x_label_area_size(48 * s)
        .y_label_area_size(60 * s)
        .build_cartesian_2d(x_lo..x_hi, 0.0..1.05)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("input side · median width of the dural sac")
        .y_desc("test metric")
        .x_labels(ticks)
        .x_label_formatter(&label)
        .y_labels(12)
        .max_light_lines(0)
        .disable_x_mesh()
        .axis_desc_style((FONT, 16.0 * sf))
        .label_style((FONT, 14.0 * sf))
        .axis_style(BLACK.stroke_width(s))
        .set_all_tick_mark_size(5 * si)
        .bold_line_style(RGBColor(225, 225, 225).stroke_width(s))
        .draw()
        .map_err(|e| e.to_string())?;
    for m in 0..4 {
        let color = PALETTE[m];
        let offset = (m as f64 - 1.5) * 0.06;
        let name = METRIC_NAMES[m];
        let points: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| (x_of(r.image_size) + offset, r.metrics[m].value))
            .collect();
        for r in rows {
            if let Some((low, high)) = r.metrics[m].interval {
                let x = x_of(r.image_size) + offset;
                let whisker = 0.018;
                let style = color.stroke_width(2 * s);
                chart
                    .draw_series([
                        PathElement::new([(x, low), (x, high)], style),
                        PathElement::new([(x - whisker, low), (x + whisker, low)], style),
                        PathElement::new([(x - whisker, high), (x + whisker, high)], style),
                    ])
                    .map_err(|e| e.to_string())?;
            }
        }
        let stroke = color.stroke_width(3 * s);
        chart
            .draw_series(LineSeries::new(points.clone(), stroke))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24 * si, y)], stroke));
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 5 * si, color.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight, 15.0, s)?;

    // Right: seconds per epoch on a log axis, and S² growth from the smallest size.
    let first = &rows[0];
    let expected = |r: &StudyPoint| {
        first.seconds_per_epoch * (r.image_size as f64 / first.image_size as f64).powi(2)
    };
    let all = rows
        .iter()
        .flat_map(|r| [r.seconds_per_epoch, expected(r)])
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (y_lo, y_hi) = decade_range(all.0, all.1);
    let decades = (y_hi / y_lo).log10();
    let mut chart = ChartBuilder::on(&right)
        .caption("Training time of one epoch", (FONT, 21.0 * sf))
        .margin(16 * s)
        .x_label_area_size(48 * s)
        .y_label_area_size(70 * s)
        .build_cartesian_2d(x_lo..x_hi, log_coordinate(y_lo, y_hi))
        .map_err(|e| e.to_string())?;
    let short_label = |x: &f64| {
        rows.iter()
            .find(|r| (x_of(r.image_size) - *x).abs() < 1e-6)
            .map(|r| format!("{}²", r.image_size))
            .unwrap_or_default()
    };
    let y_fmt = |v: &f64| log_tick_label(*v, decades);
    chart
        .configure_mesh()
        .x_desc("input side")
        .y_desc("seconds per epoch (log)")
        .x_labels(ticks)
        .x_label_formatter(&short_label)
        .y_labels(60)
        .y_label_formatter(&y_fmt)
        .max_light_lines(0)
        .disable_x_mesh()
        .axis_desc_style((FONT, 16.0 * sf))
        .label_style((FONT, 14.0 * sf))
        .axis_style(BLACK.stroke_width(s))
        .set_all_tick_mark_size(5 * si)
        .bold_line_style(RGBColor(225, 225, 225).stroke_width(s))
        .draw()
        .map_err(|e| e.to_string())?;
    let measured: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (x_of(r.image_size), r.seconds_per_epoch))
        .collect();
    let square: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (x_of(r.image_size), expected(r)))
        .collect();
    let gray = RGBColor(120, 120, 120).stroke_width(2 * s);
    chart
        .draw_series([DashedPathElement::new(square, 8 * si, 5 * si, gray)])
        .map_err(|e| e.to_string())?
        .label(format!(
            "× (S / {})², from the {}² run",
            first.image_size, first.image_size
        ))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 24 * si, y)], gray));
    let stroke = PALETTE[0].stroke_width(3 * s);
    chart
        .draw_series(LineSeries::new(measured.clone(), stroke))
        .map_err(|e| e.to_string())?
        .label("measured (median epoch)")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 24 * si, y)], stroke));
    chart
        .draw_series(
            measured
                .iter()
                .map(|&p| Circle::new(p, 5 * si, PALETTE[0].filled())),
        )
        .map_err(|e| e.to_string())?;
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 15.0, s)?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(image_size: usize, seconds_per_epoch: f64) -> StudyPoint {
        let m = MetricPoint {
            value: 0.8,
            interval: Some((0.6, 0.95)),
        };
        StudyPoint {
            image_size,
            sac_width_px: Some(image_size as f64 / 11.0),
            seconds_per_epoch,
            metrics: [
                m,
                m,
                MetricPoint {
                    interval: None,
                    ..m
                },
                m,
            ],
        }
    }

    #[test]
    fn draws_one_to_four_sizes_at_the_figure_size() {
        let all = [
            point(32, 28.0),
            point(64, 45.0),
            point(128, 140.0),
            point(256, 540.0),
        ];
        for n in 1..=all.len() {
            let rgb = render_resolution_study(&all[..n]).unwrap();
            let (w, h) = RESOLUTION_FIGURE_SIZE;
            assert_eq!(rgb.len(), (w * h * 3) as usize);
            assert!(rgb.iter().any(|&v| v < 128), "something is drawn");
        }
    }

    #[test]
    fn ticks_are_labelled_with_size_and_sac_width() {
        let rows = [point(32, 28.0), point(64, 45.0)];
        assert_eq!(tick_label(&rows, 6.0), "64² · sac 5.8 px");
        assert_eq!(tick_label(&rows, 5.5), "");
    }

    #[test]
    fn bad_rows_are_refused() {
        assert!(render_resolution_study(&[]).is_err());
        let twice = render_resolution_study(&[point(32, 1.0), point(32, 2.0)]).unwrap_err();
        assert!(twice.to_string().contains("two runs at 32²"), "{twice}");
        let mut nan = point(64, 3.0);
        nan.metrics[1].value = f64::NAN;
        assert!(render_resolution_study(&[nan]).is_err());
        assert!(render_resolution_study(&[point(64, 0.0)]).is_err());
    }
}
