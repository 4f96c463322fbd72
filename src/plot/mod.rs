//! Figures as PNG files, drawn with `plotters` into an in-memory RGB buffer and saved with the
//! `image` crate through [`crate::atomic_write`].
//!
//! Plotters normally asks the operating system for fonts (fontconfig/freetype). We switch that
//! off and bundle DejaVu Sans (`src/plot/fonts/`, free licence in `DejaVu-LICENSE.txt`), so
//! drawing text needs no system library: call [`register_bundled_font`] before drawing (every
//! function in this module does it for you).
//!
//! The figures: learning curves ([`curves`]), confusion matrices ([`confusion`]), grids of
//! grayscale images ([`image_grid`]), a model's layer diagram ([`architecture`]), two general
//! charts the book's chapters use, [`line_chart`] and [`bar_chart`], small matrices as grids
//! of numbers ([`number_grid`]), and the study at several input sizes ([`resolution_study`]).

pub mod architecture;
pub mod axis;
pub mod bar_chart;
pub mod confusion;
pub mod curves;
pub mod image_grid;
pub mod line_chart;
pub mod number_grid;
pub mod resolution_study;
pub mod supersample;

use crate::error::{Error, Result};
use std::path::Path;
use std::sync::Once;

/// The TrueType bytes of DejaVu Sans, compiled into the binary.
const DEJAVU_SANS: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// The font family name under which the bundled font is registered; use it in text styles,
/// e.g. `(FONT, 20).into_font()`.
pub const FONT: &str = "sans-serif";

/// Matplotlib's default colour cycle ("tab10"), first six: blue, orange, green, red, purple,
/// brown. The book's charts colour their curves and bars in this order.
pub const PALETTE: [plotters::style::RGBColor; 6] = [
    plotters::style::RGBColor(31, 119, 180),
    plotters::style::RGBColor(255, 127, 14),
    plotters::style::RGBColor(44, 160, 44),
    plotters::style::RGBColor(214, 39, 40),
    plotters::style::RGBColor(148, 103, 189),
    plotters::style::RGBColor(140, 86, 75),
];

/// Register the bundled font with plotters (idempotent, thread-safe). Without it every text
/// drawing call fails at run time with `FontUnavailable`.
pub fn register_bundled_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [
            plotters::style::FontStyle::Normal,
            plotters::style::FontStyle::Bold,
        ] {
            plotters::style::register_font(FONT, style, DEJAVU_SANS).unwrap_or_else(|_| {
                panic!("the bundled DejaVu Sans font is not a valid TrueType file")
            });
        }
    });
}

/// Save a packed RGB8 buffer of `width × height` pixels as a PNG at `path`, atomically.
pub fn save_rgb_png(path: impl AsRef<Path>, rgb: &[u8], width: u32, height: u32) -> Result<()> {
    let path = path.as_ref();
    if rgb.len() != (width as usize) * (height as usize) * 3 {
        return Err(Error::shape(
            format!("save_rgb_png({})", path.display()),
            [height as usize, width as usize, 3],
            rgb.len(),
        ));
    }
    let mut encoded = Vec::new();
    image::codecs::png::PngEncoder::new(&mut encoded)
        .write_image(rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::format(path.display(), format!("PNG encoding failed: {e}")))?;
    crate::atomic_write::write_atomic(path, &encoded)
}

use image::ImageEncoder;

/// Turn a plotters drawing error into our error type, naming the figure being drawn.
pub fn drawing_error(figure: &str, error: impl std::fmt::Display) -> Error {
    Error::format(figure, format!("drawing failed: {error}"))
}

/// Draw the legend of the supersampled charts (drawn at `s` times their size, see
/// [`supersample`]): at `position`, labels in the bundled font at `font_size` final pixels,
/// on a nearly opaque white box with a grey border.
pub fn draw_legend<'a, DB, CT>(
    chart: &mut plotters::prelude::ChartContext<'a, DB, CT>,
    position: plotters::prelude::SeriesLabelPosition,
    font_size: f64,
    s: u32,
) -> std::result::Result<(), String>
where
    DB: plotters::prelude::DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate,
{
    use plotters::prelude::*;
    chart
        .configure_series_labels()
        .position(position)
        .margin(10 * s)
        .legend_area_size(30 * s)
        .label_font((FONT, font_size * s as f64))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160).stroke_width(s))
        .draw()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    #[test]
    fn draws_text_with_the_bundled_font() {
        register_bundled_font();
        let (w, h) = (200u32, 60u32);
        let mut buf = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            root.fill(&WHITE).unwrap();
            root.draw(&Text::new("Severe 62 mm²", (5, 20), (FONT, 20).into_font()))
                .unwrap();
            root.present().unwrap();
        }
        let dark = buf.iter().filter(|&&v| v < 128).count();
        assert!(dark > 50, "text left only {dark} dark bytes");
    }
}
