//! `lumbar convert`: one DICOM slice to an 8-bit grayscale PNG at its native size.

use super::pixels::read_slice;
use crate::error::{Error, Result};
use crate::prepare::image_ops::{min_max_to_u8, write_gray_png};
use std::path::Path;

/// Convert `input` (a DICOM file) to `output` (a PNG), min-max normalised to 0–255 at the
/// native matrix size, written atomically. Returns the image size `(rows, columns)`.
///
/// Refuses, before reading anything, an `output` that does not end in `.png` or that is the
/// input file itself (`lumbar convert a.dcm a.dcm` would otherwise replace the DICOM).
pub fn convert_file(input: &Path, output: &Path) -> Result<(usize, usize)> {
    check_output(input, output)?;
    let slice = read_slice(input)?;
    let image = min_max_to_u8(slice.pixels.view());
    write_gray_png(output, image.view())?;
    Ok(image.dim())
}

/// The output must be a `.png` path other than the input.
fn check_output(input: &Path, output: &Path) -> Result<()> {
    let is_png = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !is_png {
        return Err(Error::invalid(format!(
            "convert: the output {} must end in .png (nothing was written)",
            output.display()
        )));
    }
    let same = match (input.canonicalize(), output.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false, // the output does not exist yet, so it is not the input
    };
    if same {
        return Err(Error::invalid(format!(
            "convert: the output {} is the input file itself (nothing was written)",
            output.display()
        )));
    }
    Ok(())
}
