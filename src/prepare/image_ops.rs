//! Small image operations of the pipeline: min-max to 8 bits, bilinear resize, PNG I/O.

use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use image::{ExtendedColorType, ImageEncoder};
use ndarray::{Array2, ArrayView2};
use std::path::Path;

// ANCHOR: min_max
/// Min-max normalise to 0–255 (as the notebook did before saving PNGs):
/// `round(255 · (v − min) / (max − min))`. A constant image becomes all zeros.
pub fn min_max_to_u8(image: ArrayView2<f32>) -> Array2<u8> {
    let (min, max) = image
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = max - min;
    // A constant (or empty) image has no range to stretch.
    if range.is_nan() || range <= 0.0 {
        return Array2::zeros(image.dim());
    }
    image.mapv(|v| ((v - min) / range * 255.0).round().clamp(0.0, 255.0) as u8)
}
// ANCHOR_END: min_max

// ANCHOR: resize_bilinear
/// Bilinear resize of a single-channel image to `[out_rows, out_cols]`, with TensorFlow 2's
/// `tf.image.resize(method='bilinear')` convention (half-pixel centres, no antialiasing) that
/// Keras' `image_dataset_from_directory` uses: source coordinate = `(dst + 0.5)·scale − 0.5`,
/// clamped to the image.
pub fn resize_bilinear(image: ArrayView2<f32>, out_rows: usize, out_cols: usize) -> Array2<f32> {
    let (rows, cols) = image.dim();
    if (rows, cols) == (out_rows, out_cols) {
        return image.to_owned();
    }
    let axis = |out: usize, len: usize| -> Vec<(usize, usize, f32)> {
        let scale = len as f32 / out as f32;
        (0..out)
            .map(|d| {
                let s = ((d as f32 + 0.5) * scale - 0.5).clamp(0.0, (len - 1) as f32);
                let lo = s.floor() as usize;
                let hi = (lo + 1).min(len - 1);
                (lo, hi, s - lo as f32)
            })
            .collect()
    };
    let (ys, xs) = (axis(out_rows, rows), axis(out_cols, cols));
    Array2::from_shape_fn((out_rows, out_cols), |(r, c)| {
        let (y0, y1, fy) = ys[r];
        let (x0, x1, fx) = xs[c];
        let top = image[(y0, x0)] * (1.0 - fx) + image[(y0, x1)] * fx;
        let bottom = image[(y1, x0)] * (1.0 - fx) + image[(y1, x1)] * fx;
        top * (1.0 - fy) + bottom * fy
    })
}
// ANCHOR_END: resize_bilinear

/// Round and clamp `f32` pixel values to 8 bits.
pub fn to_u8(image: ArrayView2<f32>) -> Array2<u8> {
    image.mapv(|v| v.round().clamp(0.0, 255.0) as u8)
}

/// A decoded DICOM slice (modality values `[rows, cols]`) as the 8-bit `size × size` image
/// `prepare` stores as PNG: [`min_max_to_u8`], then [`resize_bilinear`], then [`to_u8`].
/// `lumbar predict` calls it too, so a slice reaches the network exactly as in training.
pub fn slice_to_u8(pixels: ArrayView2<f32>, size: usize) -> Array2<u8> {
    let gray = min_max_to_u8(pixels).mapv(f32::from);
    to_u8(resize_bilinear(gray.view(), size, size).view())
}

/// Encode an 8-bit grayscale image as PNG bytes.
pub fn encode_gray_png(image: ArrayView2<u8>) -> Result<Vec<u8>> {
    let (rows, cols) = image.dim();
    let pixels: Vec<u8> = image.iter().copied().collect();
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(&pixels, cols as u32, rows as u32, ExtendedColorType::L8)
        .map_err(|e| Error::invalid(format!("PNG encoding failed: {e}")))?;
    Ok(bytes)
}

/// Write an 8-bit grayscale PNG atomically.
pub fn write_gray_png(path: &Path, image: ArrayView2<u8>) -> Result<()> {
    write_atomic(path, &encode_gray_png(image)?)
}

/// Read a PNG as 8-bit grayscale `[rows, cols]` (colour images are converted to luma).
pub fn read_gray_png(path: &Path) -> Result<Array2<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .map_err(|e| Error::format(path.display(), format!("not a readable PNG: {e}")))?
        .to_luma8();
    let (w, h) = decoded.dimensions();
    Array2::from_shape_vec((h as usize, w as usize), decoded.into_raw())
        .map_err(|e| Error::format(path.display(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn min_max_spans_0_to_255() {
        let out = min_max_to_u8(array![[-100.0f32, 0.0], [50.0, 1900.0]].view());
        assert_eq!(out[(0, 0)], 0);
        assert_eq!(out[(1, 1)], 255);
        assert_eq!(out[(0, 1)], (100.0f32 / 2000.0 * 255.0).round() as u8);
        assert!(min_max_to_u8(array![[3.0f32, 3.0]].view())
            .iter()
            .all(|&v| v == 0));
    }

    #[test]
    fn resize_keeps_constants_and_linear_ramps() {
        let flat = Array2::from_elem((7, 5), 42.0f32);
        assert!(resize_bilinear(flat.view(), 16, 16)
            .iter()
            .all(|&v| (v - 42.0).abs() < 1e-4));
        // Downscaling a ramp by 2 with half-pixel centres averages neighbour pairs.
        let ramp = Array2::from_shape_fn((1, 8), |(_, c)| c as f32);
        let half = resize_bilinear(ramp.view(), 1, 4);
        assert_eq!(half.row(0).to_vec(), vec![0.5, 2.5, 4.5, 6.5]);
    }

    #[test]
    fn png_round_trip() {
        let dir = std::env::temp_dir().join(format!("lumbar-png-{}", std::process::id()));
        let path = dir.join("a.png");
        let img = Array2::from_shape_fn((3, 4), |(r, c)| (r * 60 + c * 10) as u8);
        write_gray_png(&path, img.view()).unwrap();
        assert_eq!(read_gray_png(&path).unwrap(), img);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
