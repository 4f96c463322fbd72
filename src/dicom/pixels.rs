//! Decoding a slice's pixels (native or RLE Lossless, pure Rust) into an `f32` image.

use super::header::{open_dicom, SliceHeader};
use crate::error::{Error, Result};
use dicom_pixeldata::{ConvertOptions, PixelDecoder};
use ndarray::Array2;
use std::path::Path;

/// One decoded DICOM slice: its header and its modality values (`Rows × Columns`).
#[derive(Debug, Clone)]
pub struct DicomSlice {
    /// The attributes the pipeline uses.
    pub header: SliceHeader,
    /// Pixel values after the modality LUT (`stored · RescaleSlope + RescaleIntercept`),
    /// shape `[rows, columns]`, row-major as stored.
    pub pixels: Array2<f32>,
}

/// Read `path` once: header and pixels. Decodes every transfer syntax that
/// `dicom-pixeldata` handles in pure Rust (native little/big endian, RLE Lossless, deflate,
/// baseline JPEG), applies the modality LUT, and keeps the first frame.
///
/// Fails with a format error naming the file and the reason for a corrupt, truncated or
/// undecodable file, or for a colour (more than one sample per pixel) image.
pub fn read_slice(path: &Path) -> Result<DicomSlice> {
    let obj = open_dicom(path)?;
    let header = SliceHeader::from_object(path, &obj)?;
    let shown = path.display();
    let decoded = obj
        .decode_pixel_data_frame(0)
        .map_err(|e| Error::format(&shown, format!("cannot decode pixel data: {e}")))?;
    if decoded.samples_per_pixel() != 1 {
        return Err(Error::format(
            &shown,
            format!(
                "expected a grayscale image, found {} samples per pixel",
                decoded.samples_per_pixel()
            ),
        ));
    }
    let (rows, cols) = (decoded.rows() as usize, decoded.columns() as usize);
    let values: Vec<f32> = decoded
        .to_vec_frame_with_options(0, &ConvertOptions::new())
        .map_err(|e| Error::format(&shown, format!("cannot convert pixel data: {e}")))?;
    if values.len() != rows * cols {
        return Err(Error::format(
            &shown,
            format!(
                "pixel data holds {} values, expected Rows × Columns = {rows} × {cols}",
                values.len()
            ),
        ));
    }
    let pixels = Array2::from_shape_vec((rows, cols), values)
        .map_err(|e| Error::format(&shown, e.to_string()))?;
    if pixels.iter().any(|v| !v.is_finite()) {
        return Err(Error::format(&shown, "pixel data contains non-finite values"));
    }
    Ok(DicomSlice { header, pixels })
}
