//! Learning curves: a metric of the training and the validation set over the epochs, with the
//! epoch whose weights early stopping restored marked by a dashed vertical line (the article's
//! Figure 5, accuracy, and Figure 6, loss).
//!
//! Epochs are 1-based: value `i` of a series belongs to epoch `i + 1`, as Keras prints them.

use super::axis::{check_positive_for_log, decade_range, decades, log_coordinate, log_tick_label};
use super::{drawing_error, register_bundled_font, save_rgb_png, FONT};
use crate::error::{Error, Result};
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Width and height in pixels of every learning-curve PNG.
pub const CURVE_SIZE: (u32, u32) = (900, 600);

/// Colour of the training curve (matplotlib's default blue, as in the article's figures).
pub const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180);
/// Colour of the validation curve (matplotlib's default orange).
pub const VAL_COLOR: RGBColor = RGBColor(255, 127, 14);
/// Pixels above the plotting area: the title and, under it, the best-epoch label.
const TITLE_BAND: u32 = 78;

/// Colour of the best-epoch marker.
pub const BEST_COLOR: RGBColor = RGBColor(44, 160, 44);

/// One learning-curve figure: a metric per epoch for the training and validation sets.
#[derive(Clone, Copy, Debug)]
pub struct EpochCurves<'a> {
    /// Title above the plot, e.g. `"Training and validation accuracy"`.
    pub title: &'a str,
    /// Name of the metric, used on the y axis and in the legend, e.g. `"accuracy"`.
    pub metric: &'a str,
    /// Metric on the training set, one value per epoch (epoch 1 first).
    pub train: &'a [f32],
    /// Metric on the validation set, same length as `train`.
    pub val: &'a [f32],
    /// The epoch (1-based) whose weights were kept, if early stopping restored one.
    pub best_epoch: Option<usize>,
}

/// Figure 5: training vs validation accuracy (fractions in `0..=1`) per epoch, as a
/// 900×600 PNG at `path`. `best_epoch` (1-based) draws the restored-weights marker.
pub fn plot_accuracy_curves(
    path: impl AsRef<Path>,
    train_accuracy: &[f32],
    val_accuracy: &[f32],
    best_epoch: Option<usize>,
) -> Result<()> {
    plot_epoch_curves(
        path,
        &EpochCurves {
            title: "Training and validation accuracy",
            metric: "accuracy",
            train: train_accuracy,
            val: val_accuracy,
            best_epoch,
        },
    )
}

/// Figure 6: training vs validation loss (cross-entropy) per epoch, as a 900×600 PNG at
/// `path`. `best_epoch` (1-based) draws the restored-weights marker.
pub fn plot_loss_curves(
    path: impl AsRef<Path>,
    train_loss: &[f32],
    val_loss: &[f32],
    best_epoch: Option<usize>,
) -> Result<()> {
    plot_epoch_curves(
        path,
        &EpochCurves {
            title: "Training and validation loss",
            metric: "loss",
            train: train_loss,
            val: val_loss,
            best_epoch,
        },
    )
}

/// Figure 6 with a logarithmic loss axis (whole decades, e.g. `0.01 … 10`): for runs whose
/// first epochs' validation loss is many times the rest, which squeezes the later epochs onto
/// the floor of a linear axis. Otherwise as [`plot_loss_curves`]; every loss must be > 0.
pub fn plot_loss_curves_log_y(
    path: impl AsRef<Path>,
    train_loss: &[f32],
    val_loss: &[f32],
    best_epoch: Option<usize>,
) -> Result<()> {
    let curves = EpochCurves {
        title: "Training and validation loss",
        metric: "loss",
        train: train_loss,
        val: val_loss,
        best_epoch,
    };
    let rgb = render_epoch_curves(&curves, true)?;
    let (width, height) = CURVE_SIZE;
    save_rgb_png(path, &rgb, width, height)
}

/// Draw any [`EpochCurves`] figure and save it as a [`CURVE_SIZE`] PNG at `path`.
///
/// Errors (nothing is written) when a series is empty, the two lengths differ, a value is NaN
/// or infinite (naming the series and epoch), or `best_epoch` is not one of the epochs.
pub fn plot_epoch_curves(path: impl AsRef<Path>, curves: &EpochCurves) -> Result<()> {
    let path = path.as_ref();
    let rgb = render_epoch_curves(curves, false)?;
    let (width, height) = CURVE_SIZE;
    save_rgb_png(path, &rgb, width, height)
}

/// Check the series: non-empty, equal lengths, finite values, a valid best epoch.
fn validate(c: &EpochCurves) -> Result<()> {
    if c.train.is_empty() || c.val.is_empty() {
        return Err(Error::invalid(format!(
            "{}: cannot plot an empty series ({} training and {} validation values)",
            c.title,
            c.train.len(),
            c.val.len()
        )));
    }
    if c.train.len() != c.val.len() {
        return Err(Error::invalid(format!(
            "{}: {} training values but {} validation values; need one of each per epoch",
            c.title,
            c.train.len(),
            c.val.len()
        )));
    }
    for (set, series) in [("training", c.train), ("validation", c.val)] {
        if let Some((i, &value)) = series.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                location: format!("{}: {set} {} of epoch {}", c.title, c.metric, i + 1),
                value,
            });
        }
    }
    if let Some(best) = c.best_epoch {
        if best == 0 || best > c.train.len() {
            return Err(Error::invalid(format!(
                "{}: best epoch {best} is not one of the epochs 1..={}",
                c.title,
                c.train.len()
            )));
        }
    }
    Ok(())
}

/// The y range shown: the data's range with 8 % headroom, not below 0 when all values are
/// ≥ 0. A constant series gets a range centred on its value (±5 % of it, at least ±0.05), so
/// the line is drawn mid-height rather than on an axis.
fn y_range(values: impl Iterator<Item = f32> + Clone) -> (f64, f64) {
    let lo = values.clone().fold(f64::INFINITY, |a, v| a.min(v as f64));
    let hi = values.fold(f64::NEG_INFINITY, |a, v| a.max(v as f64));
    if hi - lo <= 1e-12 {
        let pad = (0.05 * hi.abs()).max(0.05);
        return (lo - pad, hi + pad);
    }
    let pad = 0.08 * (hi - lo);
    let bottom = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (bottom, hi + pad)
}

/// Draw the figure into a packed RGB buffer of [`CURVE_SIZE`], on a logarithmic y axis if
/// `log_y` (every value must then be > 0).
fn render_epoch_curves(c: &EpochCurves, log_y: bool) -> Result<Vec<u8>> {
    validate(c)?;
    let values = || c.train.iter().chain(c.val).map(|&v| v as f64);
    if log_y {
        for (i, v) in values().enumerate() {
            let set = if i < c.train.len() {
                "training"
            } else {
                "validation"
            };
            let epoch = i % c.train.len() + 1;
            check_positive_for_log(
                || format!("{}: {set} {} of epoch {epoch}", c.title, c.metric),
                v,
            )?;
        }
    }
    register_bundled_font();
    let (width, height) = CURVE_SIZE;
    let mut rgb = vec![0u8; (width * height * 3) as usize];
    let drawn = if log_y {
        let lo = values().fold(f64::INFINITY, f64::min);
        let hi = values().fold(f64::NEG_INFINITY, f64::max);
        let (y_lo, y_hi) = decade_range(lo, hi);
        draw_epoch_curves(&mut rgb, c, log_coordinate(y_lo, y_hi), (y_lo, y_hi), true)
    } else {
        let (y_lo, y_hi) = y_range(c.train.iter().chain(c.val).copied());
        draw_epoch_curves(&mut rgb, c, y_lo..y_hi, (y_lo, y_hi), false)
    };
    drawn.map_err(|e| drawing_error(c.title, e))?;
    Ok(rgb)
}

/// The plotting itself; any plotters error is returned as text.
fn draw_epoch_curves<Y>(
    rgb: &mut [u8],
    c: &EpochCurves,
    y_spec: Y,
    (y_lo, y_hi): (f64, f64),
    log_y: bool,
) -> std::result::Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let epochs = c.train.len() as i32;
    let root = BitMapBackend::with_buffer(rgb, CURVE_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let title_style = (FONT, 28)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(
        c.title,
        (CURVE_SIZE.0 as i32 / 2, 14),
        title_style,
    ))
    .map_err(|e| e.to_string())?;

    // x runs one epoch past each end so the first and last markers are not cut; those two
    // ticks are left unlabelled.
    let mut chart = ChartBuilder::on(&root)
        .margin(20)
        .margin_top(TITLE_BAND)
        .x_label_area_size(55)
        .y_label_area_size(75)
        .build_cartesian_2d(0..epochs + 1, y_spec)
        .map_err(|e| e.to_string())?;
    let epoch_label = |e: &i32| {
        if (1..=epochs).contains(e) {
            e.to_string()
        } else {
            String::new()
        }
    };
    let y_desc = capitalised(c.metric);
    chart
        .configure_mesh()
        .x_desc("Epoch")
        .y_desc(y_desc.as_str())
        .x_labels((epochs as usize + 2).min(14))
        // On a log axis the 60 requested ticks become 1, 2, …, 9 × each power of ten.
        .y_labels(if log_y { 60 } else { 8 })
        .max_light_lines(if log_y { 0 } else { 10 })
        .x_label_formatter(&epoch_label)
        .y_label_formatter(&|v| {
            if log_y {
                log_tick_label(*v, decades(y_lo, y_hi))
            } else {
                format!("{v:.2}")
            }
        })
        .axis_desc_style((FONT, 20))
        .label_style((FONT, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(|e| e.to_string())?;

    for (set, series, color) in [
        ("Training", c.train, TRAIN_COLOR),
        ("Validation", c.val, VAL_COLOR),
    ] {
        let points: Vec<(i32, f64)> = series
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i32 + 1, v as f64))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
            .map_err(|e| e.to_string())?
            .label(format!("{set} {}", c.metric))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3)));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(|e| e.to_string())?;
    }

    // The legend goes to the corner away from where the curves end.
    let last = (c.train[c.train.len() - 1] + c.val[c.val.len() - 1]) as f64 / 2.0;
    let middle = if log_y {
        (y_lo * y_hi).sqrt()
    } else {
        (y_lo + y_hi) / 2.0
    };
    let curves_end_high = last > middle;

    if let Some(best) = c.best_epoch {
        let best = best as i32;
        let line = DashedLineSeries::new(
            [(best, y_lo), (best, y_hi)],
            10,
            6,
            BEST_COLOR.stroke_width(2),
        );
        chart
            .draw_series(line)
            .map_err(|e| e.to_string())?
            .label(format!("Best epoch {best} (weights restored)"))
            .legend(|(x, y)| {
                DashedPathElement::new([(x, y), (x + 24, y)], 6, 4, BEST_COLOR.stroke_width(2))
            });
        // Label above the plot, at the top end of the line, in the band between the title
        // and the plotting area, so it never covers a curve or the legend.
        let (x, top) = chart.backend_coord(&(best, y_hi));
        let (anchor, x) = if x > CURVE_SIZE.0 as i32 - 90 {
            (HPos::Right, x + 8)
        } else {
            (HPos::Center, x)
        };
        let style = (FONT, 18)
            .into_font()
            .color(&BEST_COLOR)
            .pos(Pos::new(anchor, VPos::Bottom));
        root.draw(&Text::new(
            format!("best: epoch {best}"),
            (x, top - 5),
            style,
        ))
        .map_err(|e| e.to_string())?;
    }

    chart
        .configure_series_labels()
        .position(if curves_end_high {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        })
        .margin(12)
        .label_font((FONT, 18))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// `"accuracy"` → `"Accuracy"`.
fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
