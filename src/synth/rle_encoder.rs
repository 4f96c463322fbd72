//! The DICOM **RLE Lossless** encoder (transfer syntax `1.2.840.10008.1.2.5`, PS3.5 Annex G).
//!
//! The RSNA files are stored RLE-compressed. dicom-rs can *decode* RLE but not encode it, so the
//! synthetic generator carries this small encoder. It has three ideas:
//!
//! 1. **Byte planes ("segments").** A 16-bit pixel is split into its two bytes, and all the
//!    most-significant bytes of the frame form segment 1, all the least-significant bytes
//!    segment 2 (for 8-bit data there is one segment). The high bytes of an MR image change
//!    slowly (0–15 for 12-bit data), so they form long runs that compress very well.
//! 2. **PackBits** compresses each segment, row by row (a run never crosses a row boundary).
//!    The output is a series of packets, each a header byte `n` read as a signed `i8`:
//!    * `0 ≤ n ≤ 127` — a *literal* packet: the next `n + 1` bytes are copied as they are;
//!    * `-127 ≤ n ≤ -1` — a *replicate* packet: the next single byte is repeated `1 − n`
//!      times (2 to 128);
//!    * `n = -128` — a no-op, which we use as the padding byte.
//! 3. **The RLE header**: 64 bytes, sixteen little-endian `u32`: the number of segments, then
//!    the byte offset of each segment from the start of the header (the first is always 64),
//!    unused offsets zero. Each segment is padded to an even length with the no-op byte, so the
//!    whole frame — one fragment of the encapsulated pixel data — has an even length as DICOM
//!    requires, and a decoder that reads the padding sees a harmless no-op.
//!
//! In the file, the frame is stored as encapsulated pixel data: an (empty) basic offset table
//! item followed by one fragment per frame (see [`crate::synth::dicom_writer`]).

/// The PackBits header byte that means "do nothing"; used to pad a segment to an even length.
pub const PACKBITS_NO_OP: u8 = 0x80;

/// Size of the RLE header: sixteen `u32` (segment count + fifteen offsets).
pub const RLE_HEADER_BYTES: usize = 64;

// ANCHOR: packbits
/// Encode one row of bytes with PackBits, appending the packets to `out`.
///
/// Runs of 3 or more equal bytes become replicate packets (a run of 2 costs as much as a
/// literal, so it stays literal unless it starts a packet); everything else is gathered into
/// literal packets of at most 128 bytes.
pub fn packbits_encode_row(row: &[u8], out: &mut Vec<u8>) {
    let n = row.len();
    let mut i = 0;
    // Start of the pending literal bytes not yet written.
    let mut literal_start = 0;
    while i < n {
        // Length of the run of equal bytes starting at i (at most 128).
        let mut run = 1;
        while i + run < n && run < 128 && row[i + run] == row[i] {
            run += 1;
        }
        if run >= 3 {
            flush_literals(&row[literal_start..i], out);
            out.push((1i16 - run as i16) as i8 as u8);
            out.push(row[i]);
            i += run;
            literal_start = i;
        } else {
            i += run;
        }
    }
    flush_literals(&row[literal_start..n], out);
}

/// Write `bytes` as literal packets of at most 128 bytes each.
fn flush_literals(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.chunks(128) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
}

// ANCHOR_END: packbits

/// Decode PackBits packets (the inverse of [`packbits_encode_row`]), for tests and for
/// readers who want to see the format from both sides. Returns `None` on a truncated packet.
pub fn packbits_decode(mut packets: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((&header, rest)) = packets.split_first() {
        let h = header as i8;
        if h >= 0 {
            let count = h as usize + 1;
            out.extend_from_slice(rest.get(..count)?);
            packets = &rest[count..];
        } else if h != -128 {
            let (&value, rest) = rest.split_first()?;
            out.extend(std::iter::repeat_n(value, (1 - h as isize) as usize));
            packets = rest;
        } else {
            packets = rest;
        }
    }
    Some(out)
}

// ANCHOR: rle_frame
/// Encode one 16-bit monochrome frame (`rows × cols` values, row-major) as a DICOM RLE
/// fragment: the 64-byte header, then the most-significant-byte segment, then the
/// least-significant-byte segment, each PackBits-coded row by row and padded to even length.
pub fn encode_rle_frame_u16(pixels: &[u16], rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(
        pixels.len(),
        rows * cols,
        "encode_rle_frame_u16: {} pixels for a {rows}×{cols} frame",
        pixels.len()
    );
    let high: Vec<u8> = pixels.iter().map(|&p| (p >> 8) as u8).collect();
    let low: Vec<u8> = pixels.iter().map(|&p| (p & 0xFF) as u8).collect();
    encode_rle_segments(&[&high, &low], cols)
}

// ANCHOR_END: rle_frame

/// Encode one 8-bit monochrome frame (`rows × cols` bytes) as a DICOM RLE fragment with one
/// segment.
pub fn encode_rle_frame_u8(pixels: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(
        pixels.len(),
        rows * cols,
        "encode_rle_frame_u8: {} pixels for a {rows}×{cols} frame",
        pixels.len()
    );
    encode_rle_segments(&[pixels], cols)
}

// ANCHOR: rle_segments
/// Assemble the header and the PackBits-coded `planes` (each a full frame of bytes, rows of
/// `cols` bytes) into one RLE fragment.
fn encode_rle_segments(planes: &[&[u8]], cols: usize) -> Vec<u8> {
    assert!(
        (1..=15).contains(&planes.len()),
        "RLE allows 1 to 15 segments"
    );
    let mut out = vec![0u8; RLE_HEADER_BYTES];
    out[0..4].copy_from_slice(&(planes.len() as u32).to_le_bytes());
    for (index, plane) in planes.iter().enumerate() {
        let offset = out.len() as u32;
        out[4 + 4 * index..8 + 4 * index].copy_from_slice(&offset.to_le_bytes());
        for row in plane.chunks(cols.max(1)) {
            packbits_encode_row(row, &mut out);
        }
        if out.len() % 2 == 1 {
            out.push(PACKBITS_NO_OP);
        }
    }
    out
}
// ANCHOR_END: rle_segments

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_round_trips_runs_and_literals() {
        let mut row = vec![7u8; 300];
        row.extend([1, 2, 3, 3, 4, 4, 4, 4, 5]);
        row.extend((0..=255u8).cycle().take(400));
        let mut packets = Vec::new();
        packbits_encode_row(&row, &mut packets);
        assert_eq!(packbits_decode(&packets).unwrap(), row);
        // 300 equal bytes need three replicate packets (128 + 128 + 44): 6 bytes.
        assert_eq!(&packets[..2], &[(1i16 - 128) as i8 as u8, 7]);
    }

    #[test]
    fn header_lists_two_segments_msb_first() {
        let pixels: Vec<u16> = (0..12).map(|i| 0x0100 * (i % 3) + i).collect();
        let frame = encode_rle_frame_u16(&pixels, 3, 4);
        assert_eq!(frame.len() % 2, 0);
        let count = u32::from_le_bytes(frame[0..4].try_into().unwrap());
        let first = u32::from_le_bytes(frame[4..8].try_into().unwrap()) as usize;
        let second = u32::from_le_bytes(frame[8..12].try_into().unwrap()) as usize;
        assert_eq!((count, first), (2, 64));
        let high = packbits_decode(&frame[first..second]).unwrap();
        let low = packbits_decode(&frame[second..]).unwrap();
        let expected_high: Vec<u8> = pixels.iter().map(|p| (p >> 8) as u8).collect();
        let expected_low: Vec<u8> = pixels.iter().map(|p| (p & 0xFF) as u8).collect();
        assert_eq!((high, low), (expected_high, expected_low));
    }
}
