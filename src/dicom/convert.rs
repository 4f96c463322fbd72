//! `lumbar convert`: one DICOM slice to an 8-bit grayscale PNG at its native size.

use super::pixels::read_slice;
use crate::error::Result;
use crate::prepare::image_ops::{min_max_to_u8, write_gray_png};
use std::path::Path;

/// Convert `input` (a DICOM file) to `output` (a PNG), min-max normalised to 0–255 at the
/// native matrix size, written atomically. Returns the image size `(rows, columns)`.
pub fn convert_file(input: &Path, output: &Path) -> Result<(usize, usize)> {
    let slice = read_slice(input)?;
    let image = min_max_to_u8(slice.pixels.view());
    write_gray_png(output, image.view())?;
    Ok(image.dim())
}
