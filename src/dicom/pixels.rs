//! Decoding a slice's pixels (native or RLE Lossless, pure Rust) into an `f32` image.

use super::header::{open_dicom, SliceHeader};
use crate::error::{Error, Result};
use dicom_pixeldata::{ConvertOptions, PixelDecoder};
use ndarray::Array2;
use std::path::Path;

/// Transfer syntax UID of RLE Lossless, the one the RSNA files use.
pub const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// Check, before decoding, that the first RLE fragment holds complete segments: every
/// PackBits segment listed in the 64-byte RLE header must expand to `rows × columns` bytes
/// without running past its end. A truncated file fails here with a clear reason (the
/// decoder itself would panic on it).
fn check_rle_complete(
    obj: &dicom_object::DefaultDicomObject,
    header: &SliceHeader,
) -> std::result::Result<(), String> {
    let fragment = obj
        .get(dicom_dictionary_std::tags::PIXEL_DATA)
        .and_then(|e| e.value().fragments())
        .and_then(|f| f.first())
        .ok_or("RLE pixel data has no fragment")?;
    let word = |i: usize| -> Option<usize> {
        let b = fragment.get(4 * i..4 * i + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let segments = word(0).ok_or("RLE fragment shorter than its 64-byte header")?;
    if segments == 0 || segments > 15 {
        return Err(format!(
            "RLE header lists {segments} segments (expected 1 to 15)"
        ));
    }
    let needed = header.rows as usize * header.columns as usize;
    for s in 0..segments {
        let start = word(1 + s).ok_or("RLE header truncated")?;
        let end = if s + 1 < segments {
            word(2 + s).ok_or("RLE header truncated")?
        } else {
            fragment.len()
        };
        if start > end || end > fragment.len() {
            return Err(format!(
                "RLE segment {s} lies outside the fragment (truncated file?)"
            ));
        }
        // PackBits: n in 0..=127 copies n+1 literal bytes; n in 129..=255 repeats the next
        // byte 257-n times; 128 is a no-op.
        let (mut at, mut produced) = (start, 0usize);
        while produced < needed {
            let Some(&control) = fragment[..end].get(at) else {
                return Err(format!(
                    "RLE segment {s} ends after {produced} of {needed} bytes (truncated file?)"
                ));
            };
            match control {
                0..=127 => {
                    produced += control as usize + 1;
                    at += control as usize + 2;
                }
                128 => at += 1,
                _ => {
                    produced += 257 - control as usize;
                    at += 2;
                }
            }
            if at > end {
                return Err(format!("RLE segment {s} is cut short (truncated file?)"));
            }
        }
    }
    Ok(())
}

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
    if header.transfer_syntax == RLE_LOSSLESS {
        check_rle_complete(&obj, &header).map_err(|reason| Error::format(&shown, reason))?;
    }
    // The RLE decoder of dicom-transfer-syntax-registry 0.10 indexes out of bounds (panics)
    // on a truncated segment instead of returning an error; a bad file must not stop the run,
    // so a panic in the decoder is turned into this file's error.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        obj.decode_pixel_data_frame(0)
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
        return Err(Error::format(
            &shown,
            "pixel data contains non-finite values",
        ));
    }
    Ok(DicomSlice { header, pixels })
}
