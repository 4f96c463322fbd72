//! The confusion matrix as an annotated heatmap (the article's Figure 7): rows are the actual
//! class, columns the predicted class, in the article's class order, each cell showing its
//! count and, optionally, the percentage of its row.
//!
//! A cell's shade is its **row fraction** (count / samples of that actual class), from white
//! (0 %) to dark blue (100 %): the diagonal then reads as the recall of each class, and a
//! rare class is as visible as a common one. Text is white on dark cells, black on light ones.

use super::{drawing_error, register_bundled_font, save_rgb_png, FONT};
use crate::error::{Error, Result};
use crate::metrics::{ConfusionMatrix, CLASS_NAMES, NUM_CLASSES};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;
use std::path::Path;

/// Width and height in pixels of the confusion-matrix PNG.
pub const CONFUSION_SIZE: (u32, u32) = (700, 630);

/// Side of one cell in pixels.
const CELL: i32 = 150;
/// Top-left pixel of the grid (room on the left for "Actual" and the class names).
const GRID_ORIGIN: (i32, i32) = (200, 85);

/// Lightest shade (a 0 % cell): matplotlib's "Blues" colormap at 0.
const LIGHT: (f64, f64, f64) = (247.0, 251.0, 255.0);
/// Darkest shade (a 100 % cell): "Blues" at 1.
const DARK: (f64, f64, f64) = (8.0, 48.0, 107.0);

/// The fill colour of a cell holding `fraction` (0..=1) of its row.
pub fn cell_color(fraction: f64) -> RGBColor {
    let t = fraction.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(
        mix(LIGHT.0, DARK.0),
        mix(LIGHT.1, DARK.1),
        mix(LIGHT.2, DARK.2),
    )
}

/// Black or white, whichever contrasts more with `background` (relative luminance < 0.5 →
/// white text).
pub fn text_color_on(background: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = background;
    let luminance = (0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64) / 255.0;
    if luminance < 0.5 {
        WHITE
    } else {
        BLACK
    }
}

/// Draw `matrix` as a [`CONFUSION_SIZE`] PNG at `path`, titled `title`. With
/// `show_percentages`, each cell also shows its share of the row (e.g. `88.0 %`) under the
/// count (`–` in the row of a class with no samples). Errors when the matrix holds no samples
/// (nothing is written).
pub fn plot_confusion_matrix(
    path: impl AsRef<Path>,
    matrix: &ConfusionMatrix,
    title: &str,
    show_percentages: bool,
) -> Result<()> {
    if matrix.total() == 0 {
        return Err(Error::invalid(format!(
            "confusion matrix \"{title}\": no samples to draw (all counts are 0)"
        )));
    }
    register_bundled_font();
    let (width, height) = CONFUSION_SIZE;
    let mut rgb = vec![0u8; (width * height * 3) as usize];
    draw_confusion(&mut rgb, matrix, title, show_percentages)
        .map_err(|e| drawing_error(title, e))?;
    save_rgb_png(path, &rgb, width, height)
}

/// The drawing itself, in pixel coordinates; any plotters error is returned as text.
fn draw_confusion(
    rgb: &mut [u8],
    matrix: &ConfusionMatrix,
    title: &str,
    show_percentages: bool,
) -> std::result::Result<(), String> {
    let root = BitMapBackend::with_buffer(rgb, CONFUSION_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (x0, y0) = GRID_ORIGIN;
    let n = NUM_CLASSES as i32;
    let (x1, y1) = (x0 + n * CELL, y0 + n * CELL);
    let centred = |size: u32| {
        (FONT, size)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center))
    };
    // Title, centred over the grid.
    root.draw(&Text::new(
        title.to_string(),
        ((x0 + x1) / 2, 35),
        centred(26),
    ))
    .map_err(|e| e.to_string())?;

    let fractions = matrix.row_normalized();
    let supports = matrix.supports();
    for (actual, row) in matrix.counts.iter().enumerate() {
        for (predicted, &count) in row.iter().enumerate() {
            let fraction = fractions[actual][predicted];
            let (cx, cy) = (x0 + predicted as i32 * CELL, y0 + actual as i32 * CELL);
            let fill = cell_color(fraction);
            root.draw(&Rectangle::new(
                [(cx, cy), (cx + CELL, cy + CELL)],
                fill.filled(),
            ))
            .map_err(|e| e.to_string())?;
            let ink = text_color_on(fill);
            let centre = (cx + CELL / 2, cy + CELL / 2);
            let count = count.to_string();
            let count_style = (FONT, 34, FontStyle::Bold)
                .into_font()
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            if show_percentages {
                // A class absent from the data has no percentages to show.
                let percent = if supports[actual] == 0 {
                    "–".to_string()
                } else {
                    format!("{:.1} %", 100.0 * fraction)
                };
                let small = (FONT, 18)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(count, (centre.0, centre.1 - 14), count_style))
                    .map_err(|e| e.to_string())?;
                root.draw(&Text::new(percent, (centre.0, centre.1 + 22), small))
                    .map_err(|e| e.to_string())?;
            } else {
                root.draw(&Text::new(count, centre, count_style))
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    // Thin white lines between cells and a grey frame around the grid.
    for k in 1..n {
        let (x, y) = (x0 + k * CELL, y0 + k * CELL);
        root.draw(&PathElement::new([(x, y0), (x, y1)], WHITE.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        root.draw(&PathElement::new([(x0, y), (x1, y)], WHITE.stroke_width(2)))
            .map_err(|e| e.to_string())?;
    }
    root.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))
    .map_err(|e| e.to_string())?;

    // Class names: under the columns (predicted) and left of the rows (actual).
    for (k, name) in CLASS_NAMES.iter().enumerate() {
        let middle = k as i32 * CELL + CELL / 2;
        root.draw(&Text::new(
            name.to_string(),
            (x0 + middle, y1 + 22),
            centred(19),
        ))
        .map_err(|e| e.to_string())?;
        let right_aligned = (FONT, 19)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(
            name.to_string(),
            (x0 - 12, y0 + middle),
            right_aligned,
        ))
        .map_err(|e| e.to_string())?;
    }

    // Axis titles.
    root.draw(&Text::new(
        "Predicted".to_string(),
        ((x0 + x1) / 2, y1 + 60),
        (FONT, 22, FontStyle::Bold)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(|e| e.to_string())?;
    root.draw(&Text::new(
        "Actual".to_string(),
        (30, (y0 + y1) / 2),
        (FONT, 22, FontStyle::Bold)
            .into_font()
            .transform(FontTransform::Rotate270)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
