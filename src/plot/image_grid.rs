//! A grid of grayscale images with a caption under each, saved as a PNG: the synthetic-data
//! gallery and the augmentation figure both use it.
//!
//! Tiles are resampled to a common square size (box-averaged when shrinking, nearest-neighbour
//! when enlarging, so the pixels of a small image stay visible), laid out row by row under an
//! optional title, and captioned with the bundled font.

use super::{drawing_error, register_bundled_font, save_rgb_png, FONT};
use crate::error::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

/// One grayscale image (row-major, `width × height` bytes) and its caption.
#[derive(Clone, Debug)]
pub struct GrayTile {
    /// Pixel values 0 (black) … 255 (white), row-major.
    pub pixels: Vec<u8>,
    /// Image width in pixels.
    pub width: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Text drawn under the image.
    pub caption: String,
}

impl GrayTile {
    /// A tile from row-major bytes; fails if the length is not `width × height`.
    pub fn new(
        pixels: Vec<u8>,
        width: usize,
        height: usize,
        caption: impl Into<String>,
    ) -> Result<GrayTile> {
        if pixels.len() != width * height || width == 0 || height == 0 {
            return Err(Error::shape("GrayTile", [height, width], pixels.len()));
        }
        Ok(GrayTile {
            pixels,
            width,
            height,
            caption: caption.into(),
        })
    }

    /// A tile from a 2-D array `[height, width]`.
    pub fn from_array(
        image: ndarray::ArrayView2<u8>,
        caption: impl Into<String>,
    ) -> Result<GrayTile> {
        let (height, width) = image.dim();
        GrayTile::new(image.iter().copied().collect(), width, height, caption)
    }
}

/// One colour image (row-major RGB, `width × height × 3` bytes) and its caption: a Grad-CAM
/// or saliency overlay, for instance.
#[derive(Clone, Debug)]
pub struct RgbTile {
    /// Red, green, blue bytes of each pixel, row-major.
    pub rgb: Vec<u8>,
    /// Image width in pixels.
    pub width: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Text drawn under the image.
    pub caption: String,
}

impl RgbTile {
    /// A tile from row-major RGB bytes; fails if the length is not `3 × width × height`.
    pub fn new(
        rgb: Vec<u8>,
        width: usize,
        height: usize,
        caption: impl Into<String>,
    ) -> Result<RgbTile> {
        if rgb.len() != 3 * width * height || width == 0 || height == 0 {
            return Err(Error::shape("RgbTile", [height, width, 3], rgb.len()));
        }
        Ok(RgbTile {
            rgb,
            width,
            height,
            caption: caption.into(),
        })
    }

    /// The gray tile as a colour one (the same value in the three channels).
    pub fn from_gray(tile: &GrayTile) -> RgbTile {
        RgbTile {
            rgb: tile.pixels.iter().flat_map(|&v| [v, v, v]).collect(),
            width: tile.width,
            height: tile.height,
            caption: tile.caption.clone(),
        }
    }

    /// Channel `c` (0 red, 1 green, 2 blue) as its own row-major plane.
    fn channel(&self, c: usize) -> Vec<u8> {
        self.rgb.iter().skip(c).step_by(3).copied().collect()
    }
}

/// Map any values linearly onto 0–255 (minimum → 0, maximum → 255; a constant image → 0).
pub fn normalize_to_u8(values: &[f32]) -> Vec<u8> {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = hi - lo;
    values
        .iter()
        .map(|&v| {
            if range > 0.0 {
                ((v - lo) / range * 255.0).round() as u8
            } else {
                0
            }
        })
        .collect()
}

/// Resample a `width × height` image to `new_w × new_h`: each output pixel is the mean of the
/// input pixels whose centres fall in its footprint, or the nearest one if none does.
pub fn resample_box(
    pixels: &[u8],
    width: usize,
    height: usize,
    new_w: usize,
    new_h: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(new_w * new_h);
    let (sx, sy) = (width as f64 / new_w as f64, height as f64 / new_h as f64);
    for oy in 0..new_h {
        let (y0, y1) = (
            (oy as f64 * sy).round() as usize,
            ((oy + 1) as f64 * sy).round() as usize,
        );
        for ox in 0..new_w {
            let (x0, x1) = (
                (ox as f64 * sx).round() as usize,
                ((ox + 1) as f64 * sx).round() as usize,
            );
            let (mut sum, mut n) = (0u64, 0u64);
            for y in y0..y1.min(height) {
                for x in x0..x1.min(width) {
                    sum += pixels[y * width + x] as u64;
                    n += 1;
                }
            }
            let nearest = || {
                let x = (((ox as f64 + 0.5) * sx) as usize).min(width - 1);
                let y = (((oy as f64 + 0.5) * sy) as usize).min(height - 1);
                pixels[y * width + x]
            };
            out.push(
                (sum + n / 2)
                    .checked_div(n)
                    .map_or_else(nearest, |mean| mean as u8),
            );
        }
    }
    out
}

/// Draw `tiles` in a grid of `columns` columns, each resampled to `tile_size²` pixels with its
/// caption below, under `title` (empty for none), and save the PNG at `path`.
pub fn draw_image_grid(
    path: impl AsRef<Path>,
    tiles: &[GrayTile],
    columns: usize,
    tile_size: u32,
    title: &str,
) -> Result<()> {
    let colour: Vec<RgbTile> = tiles.iter().map(RgbTile::from_gray).collect();
    draw_rgb_grid(path, &colour, columns, tile_size, title)
}

/// [`draw_image_grid`] for colour tiles: each channel is resampled as a gray image would be.
pub fn draw_rgb_grid(
    path: impl AsRef<Path>,
    tiles: &[RgbTile],
    columns: usize,
    tile_size: u32,
    title: &str,
) -> Result<()> {
    let path = path.as_ref();
    if tiles.is_empty() || columns == 0 || tile_size == 0 {
        return Err(Error::invalid(format!(
            "image grid {}: needs at least one tile, one column and a positive tile size",
            path.display()
        )));
    }
    register_bundled_font();
    let (margin, caption_h) = (10u32, 26u32);
    let title_h = if title.is_empty() { 0 } else { 36 };
    let rows = tiles.len().div_ceil(columns) as u32;
    let width = columns as u32 * (tile_size + margin) + margin;
    let height = title_h + rows * (tile_size + caption_h + margin) + margin;
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    let origin = |i: usize| {
        let (r, c) = ((i / columns) as u32, (i % columns) as u32);
        (
            margin + c * (tile_size + margin),
            title_h + margin + r * (tile_size + caption_h + margin),
        )
    };
    let side = tile_size as usize;
    for (i, tile) in tiles.iter().enumerate() {
        let planes: Vec<Vec<u8>> = (0..3)
            .map(|c| resample_box(&tile.channel(c), tile.width, tile.height, side, side))
            .collect();
        let (x0, y0) = origin(i);
        for y in 0..tile_size {
            for x in 0..tile_size {
                let from = (y * tile_size + x) as usize;
                let at = (((y0 + y) * width + x0 + x) * 3) as usize;
                for c in 0..3 {
                    rgb[at + c] = planes[c][from];
                }
            }
        }
    }
    {
        let figure = path.display().to_string();
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        if !title.is_empty() {
            root.draw(&Text::new(
                title.to_string(),
                (margin as i32, 8),
                (FONT, 20).into_font().color(&BLACK),
            ))
            .map_err(|e| drawing_error(&figure, e))?;
        }
        for (i, tile) in tiles.iter().enumerate() {
            let (x0, y0) = origin(i);
            root.draw(&Text::new(
                tile.caption.clone(),
                (x0 as i32, (y0 + tile_size + 4) as i32),
                (FONT, 16).into_font().color(&BLACK),
            ))
            .map_err(|e| drawing_error(&figure, e))?;
        }
        root.present().map_err(|e| drawing_error(&figure, e))?;
    }
    save_rgb_png(path, &rgb, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_resampling_averages_and_nearest_enlarges() {
        let image = vec![0u8, 100, 200, 50];
        assert_eq!(resample_box(&image, 2, 2, 1, 1), vec![88]);
        assert_eq!(
            resample_box(&image, 2, 2, 4, 4),
            vec![0, 0, 100, 100, 0, 0, 100, 100, 200, 200, 50, 50, 200, 200, 50, 50]
        );
    }

    #[test]
    fn grid_png_has_the_expected_size_and_tiles() {
        let dir = std::env::temp_dir().join(format!("lumbar-grid-{}", std::process::id()));
        let path = dir.join("grid.png");
        let tiles: Vec<GrayTile> = (0..3)
            .map(|i| GrayTile::new(vec![(i * 100) as u8; 16], 4, 4, format!("tile {i}")).unwrap())
            .collect();
        draw_image_grid(&path, &tiles, 2, 40, "A grid").unwrap();
        let png = image::open(&path).unwrap().to_rgb8();
        assert_eq!(
            png.dimensions(),
            (2 * 50 + 10, 36 + 2 * (40 + 26 + 10) + 10)
        );
        // The middle of the second tile is gray 100.
        assert_eq!(png.get_pixel(60 + 20, 36 + 10 + 20).0, [100, 100, 100]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(GrayTile::new(vec![0; 5], 2, 2, "bad").is_err());
    }
}
