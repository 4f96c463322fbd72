//! Does a slice's header agree with its pixel data? Checked before decoding.
//!
//! A damaged file must be *skipped with its reason*, never decoded into a plausible-looking
//! image (a `Rows` smaller than the data turns the slice into a stretched stripe; 8 bits
//! allocated over 16-bit data gives noise) and never allowed to reach a decoder that panics
//! (`dicom-pixeldata` asserts `0 < BitsStored ≤ 32`). The rules follow DICOM PS3.3 C.7.6.3
//! (Image Pixel module) and PS3.5 Annex G (RLE Lossless):
//!
//! - `Rows`, `Columns` ≥ 1; `BitsAllocated` ∈ {8, 16, 32}; `1 ≤ BitsStored ≤ BitsAllocated`;
//! - `RescaleSlope`, when present, finite and not 0 (a slope of 0 maps every pixel to the
//!   intercept), `RescaleIntercept` finite;
//! - native pixel data holds exactly `frames · Rows · Columns · samples · BitsAllocated/8`
//!   bytes (one more is allowed: the padding to an even length);
//! - RLE pixel data: the 64-byte header lists `samples · BitsAllocated/8` segments, the first
//!   starting right after the header (offset 64), in increasing order, each expanding to
//!   exactly `Rows · Columns` bytes: not fewer (a truncated file), and not a row more (a `Rows`
//!   smaller than the data).

use super::header::SliceHeader;
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

/// Transfer syntax UID of RLE Lossless, the one the RSNA files use.
pub const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// Length of the RLE header that precedes the segments: 16 little-endian `u32` words.
const RLE_HEADER_BYTES: usize = 64;

/// Check the header's pixel attributes and the pixel data's size against each other; the
/// error is the reason, in words, for the caller to prefix with the file name.
pub fn check_pixel_data(obj: &DefaultDicomObject, header: &SliceHeader) -> Result<(), String> {
    let bytes_per_sample = check_attributes(header)?;
    let frames = number_of_frames(obj)?;
    let samples = samples_per_pixel(obj)?;
    let pixel_data = obj
        .get(tags::PIXEL_DATA)
        .ok_or("no Pixel Data (7FE0,0010)")?;
    let value = pixel_data.value();
    if let Some(fragments) = value.fragments() {
        if header.transfer_syntax != RLE_LOSSLESS {
            return Ok(()); // other compressed syntaxes: the decoder checks its own stream
        }
        let fragment = fragments.first().ok_or("RLE pixel data has no fragment")?;
        let pixels = header.rows as usize * header.columns as usize;
        return check_rle_fragment(fragment, samples * bytes_per_sample, pixels, header.columns);
    }
    let found = value
        .primitive()
        .map(|p| p.calculate_byte_len())
        .ok_or("Pixel Data is neither a value nor fragments")?;
    let expected =
        frames * header.rows as usize * header.columns as usize * samples * bytes_per_sample;
    if found != expected && found != expected + 1 {
        return Err(format!(
            "the header and the pixel data disagree: Pixel Data holds {found} bytes, but \
             {frames} frame(s) × Rows {} × Columns {} × {samples} sample(s) × BitsAllocated {}/8 \
             = {expected} bytes",
            header.rows,
            header.columns,
            8 * bytes_per_sample
        ));
    }
    Ok(())
}

/// The header-only rules; returns the bytes per sample (`BitsAllocated / 8`).
fn check_attributes(header: &SliceHeader) -> Result<usize, String> {
    if header.rows == 0 || header.columns == 0 {
        return Err(format!(
            "Rows × Columns is {} × {}: the image has no pixel",
            header.rows, header.columns
        ));
    }
    let allocated = header
        .bits_allocated
        .ok_or("missing Bits Allocated (0028,0100)")?;
    if ![8, 16, 32].contains(&allocated) {
        return Err(format!(
            "Bits Allocated (0028,0100) is {allocated}; a grayscale image uses 8, 16 or 32"
        ));
    }
    if let Some(stored) = header.bits_stored {
        if stored == 0 || stored > allocated {
            return Err(format!(
                "Bits Stored (0028,0101) is {stored}; it must lie in 1..=Bits Allocated ({allocated})"
            ));
        }
    }
    if let Some(slope) = header.rescale_slope {
        if slope == 0.0 || !slope.is_finite() {
            return Err(format!(
                "Rescale Slope (0028,1053) is {slope}: every pixel would lose its value"
            ));
        }
    }
    if let Some(intercept) = header.rescale_intercept {
        if !intercept.is_finite() {
            return Err(format!(
                "Rescale Intercept (0028,1052) is {intercept}, not a finite number"
            ));
        }
    }
    Ok(allocated as usize / 8)
}

/// (0028,0008) Number of Frames, 1 when absent.
fn number_of_frames(obj: &DefaultDicomObject) -> Result<usize, String> {
    match obj.get(tags::NUMBER_OF_FRAMES) {
        None => Ok(1),
        Some(e) => match e.to_int::<i64>() {
            Ok(n) if n >= 1 => Ok(n as usize),
            Ok(n) => Err(format!("Number of Frames (0028,0008) is {n}")),
            Err(err) => Err(format!("unreadable Number of Frames (0028,0008): {err}")),
        },
    }
}

/// (0028,0002) Samples per Pixel, 1 when absent; the caller later rejects colour images.
fn samples_per_pixel(obj: &DefaultDicomObject) -> Result<usize, String> {
    match obj.get(tags::SAMPLES_PER_PIXEL) {
        None => Ok(1),
        Some(e) => match e.to_int::<i64>() {
            Ok(n @ 1..=4) => Ok(n as usize),
            Ok(n) => Err(format!("Samples per Pixel (0028,0002) is {n}")),
            Err(err) => Err(format!("unreadable Samples per Pixel (0028,0002): {err}")),
        },
    }
}

/// Check an RLE Lossless frame: `segments` byte planes, each PackBits-encoded to exactly
/// `pixels` bytes (PS3.5 G.3.1: 129…255 repeat the next byte 257−n times, 0…127 copy n+1
/// literal bytes, 128 is a no-op).
pub fn check_rle_fragment(
    fragment: &[u8],
    segments: usize,
    pixels: usize,
    columns: u32,
) -> Result<(), String> {
    let word = |i: usize| -> Option<usize> {
        let b = fragment.get(4 * i..4 * i + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let listed = word(0).ok_or("RLE fragment shorter than its 64-byte header")?;
    if fragment.len() < RLE_HEADER_BYTES {
        return Err("RLE fragment shorter than its 64-byte header".into());
    }
    if listed != segments {
        return Err(format!(
            "RLE header lists {listed} segments, but the header's Bits Allocated and Samples per \
             Pixel call for {segments}"
        ));
    }
    for s in 0..segments {
        let start = word(1 + s).ok_or("RLE header truncated")?;
        let end = if s + 1 < segments {
            word(2 + s).ok_or("RLE header truncated")?
        } else {
            fragment.len()
        };
        if s == 0 && start != RLE_HEADER_BYTES {
            return Err(format!(
                "RLE segment 0 starts at offset {start}; it must start at {RLE_HEADER_BYTES}, \
                 right after the header"
            ));
        }
        if start > end || end > fragment.len() {
            return Err(format!(
                "RLE segment {s} lies outside the fragment (offsets {start}..{end} of {}; truncated file?)",
                fragment.len()
            ));
        }
        let produced = expand_packbits(&fragment[start..end], pixels)
            .map_err(|reason| format!("RLE segment {s}: {reason}"))?;
        if produced < pixels {
            return Err(format!(
                "RLE segment {s} ends after {produced} of {pixels} bytes (truncated file?)"
            ));
        }
        // What is left of the segment after the image: padding, or more image rows than
        // `Rows` says (a header that understates the image).
        if produced >= pixels + columns as usize {
            return Err(format!(
                "RLE segment {s} holds {produced} bytes, at least one row more than Rows × \
                 Columns = {pixels}: the header and the pixel data disagree"
            ));
        }
    }
    Ok(())
}

/// The number of bytes a PackBits stream expands to, reading past `pixels` only to count
/// what is left over; an error when a run reaches beyond the stream's end.
fn expand_packbits(stream: &[u8], pixels: usize) -> Result<usize, String> {
    let (mut at, mut produced) = (0usize, 0usize);
    while at < stream.len() {
        let control = stream[at];
        let (bytes, step) = match control {
            0..=127 => (control as usize + 1, control as usize + 2),
            128 => (0, 1),
            _ => (257 - control as usize, 2),
        };
        if at + step > stream.len() {
            if produced >= pixels {
                break; // a cut-short run in the padding after a complete image
            }
            return Err(format!(
                "a run is cut short after {produced} of {pixels} bytes (truncated file?)"
            ));
        }
        produced += bytes;
        at += step;
    }
    Ok(produced)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-byte RLE header listing `offsets`, followed by `body`.
    fn fragment(offsets: &[u32], body: &[u8]) -> Vec<u8> {
        let mut out = (offsets.len() as u32).to_le_bytes().to_vec();
        for i in 0..15 {
            out.extend_from_slice(&offsets.get(i).copied().unwrap_or(0).to_le_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn a_complete_segment_with_padding_passes() {
        // 6 pixels: a literal run of 6 bytes (control 5) then one padding byte.
        let f = fragment(&[64], &[5, 1, 2, 3, 4, 5, 6, 0]);
        assert_eq!(check_rle_fragment(&f, 1, 6, 3), Ok(()));
    }

    #[test]
    fn a_first_offset_of_zero_is_refused() {
        let f = fragment(&[0], &[5, 1, 2, 3, 4, 5, 6]);
        let err = check_rle_fragment(&f, 1, 6, 3).unwrap_err();
        assert!(err.contains("starts at offset 0"), "{err}");
    }

    #[test]
    fn too_few_and_too_many_rows_are_refused() {
        let short = fragment(&[64], &[2, 1, 2, 3]);
        assert!(check_rle_fragment(&short, 1, 6, 3)
            .unwrap_err()
            .contains("ends after 3 of 6"));
        // 9 bytes for a 2 × 3 image: a third row the header does not declare.
        let long = fragment(&[64], &[8, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(check_rle_fragment(&long, 1, 6, 3)
            .unwrap_err()
            .contains("one row more"));
    }

    #[test]
    fn the_segment_count_must_match_bits_allocated() {
        // Two segments (16-bit data) read as one (BitsAllocated 8).
        let f = fragment(&[64, 71], &[5, 1, 2, 3, 4, 5, 6, 5, 1, 2, 3, 4, 5, 6]);
        assert!(check_rle_fragment(&f, 1, 6, 3)
            .unwrap_err()
            .contains("lists 2 segments"));
        assert_eq!(check_rle_fragment(&f, 2, 6, 3), Ok(()));
    }

    #[test]
    fn a_run_cut_short_is_a_truncation() {
        let f = fragment(&[64], &[5, 1, 2]);
        assert!(check_rle_fragment(&f, 1, 6, 3)
            .unwrap_err()
            .contains("cut short"));
    }
}
