//! Decoding a slice's pixels (native or RLE Lossless, pure Rust) into an `f32` image.

use super::header::{open_dicom, SliceHeader};
use super::validate::check_pixel_data;
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
    // Header and pixel data must agree before anything is decoded: a damaged file is skipped
    // with its reason instead of becoming a plausible-looking image.
    check_pixel_data(&obj, &header).map_err(|reason| Error::format(&shown, reason))?;
    // The decoders of dicom-pixeldata 0.10 panic on some corrupt streams (an RLE segment
    // cut short, an impossible bit depth) instead of returning an error. The checks above
    // refuse every such case we know of; should one remain, a bad file must still not stop
    // the run, so a panic in decoding or conversion becomes this file's error.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let decoded = obj
            .decode_pixel_data_frame(0)
            .map_err(|e| format!("cannot decode pixel data: {e}"))?;
        if decoded.samples_per_pixel() != 1 {
            return Err(format!(
                "expected a grayscale image, found {} samples per pixel",
                decoded.samples_per_pixel()
            ));
        }
        let values: Vec<f32> = decoded
            .to_vec_frame_with_options(0, &ConvertOptions::new())
            .map_err(|e| format!("cannot convert pixel data: {e}"))?;
        Ok((decoded.rows() as usize, decoded.columns() as usize, values))
    }))
    .map_err(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown".into());
        Error::format(
            &shown,
            format!("pixel data decoder failed (truncated or corrupt data?): {reason}"),
        )
    })?
    .map_err(|reason| Error::format(&shown, reason))?;
    let (rows, cols, values) = decoded;
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
        return Err(Error::format(
            &shown,
            "pixel data contains non-finite values",
        ));
    }
    Ok(DicomSlice { header, pixels })
}
