//! Chapter 1 of the book: what is in a DICOM file. Writes a two-study synthetic dataset, opens
//! one axial slice, prints the tags `lumbar inspect` prints, takes its RLE Lossless pixel data
//! apart (header, the two byte segments, PackBits), and places the slice in patient
//! coordinates.
//!
//! `cargo run --release --example 01_dicom_file`
//! (figure: `book/src/figures/01-byte-planes.png`; `LUMBAR_BOOK_TINY=1` uses smaller images and
//! writes the figure to a temporary folder instead).

use lumbar_cnn::book_examples::{save_grid, synth_dataset, tiny};
use lumbar_cnn::dicom::{inspect::describe, read_header, read_slice};
use lumbar_cnn::levels::assign::image_centre;
use lumbar_cnn::plot::image_grid::{normalize_to_u8, GrayTile};
use lumbar_cnn::rsna::layout::RsnaLayout;
use lumbar_cnn::synth::gallery::read_pixels;
use lumbar_cnn::synth::rle_encoder::{encode_rle_frame_u16, packbits_decode, packbits_encode_row};
use lumbar_cnn::synth::SynthConfig;
use lumbar_cnn::{Error, Result};

fn main() -> Result<()> {
    let side = if tiny() { 128 } else { 384 };
    // Short stacks only: the chapter shows how a series jumps from one disc's stack to the next
    // (continuous stacks are chapter 3's).
    let config = SynthConfig {
        axial_matrix: (side, side),
        continuous_share: 0.0,
        ..SynthConfig::small(2, 1)
    };
    let data = synth_dataset("01_dicom_file", &config)?;
    // The middle slice of the first axial series: one near the middle of the spine.
    // (Some synthetic series, like some real ones, lack `SliceLocation`: we show
    // one that has them.)
    let (study, series, files) = RsnaLayout::open(&data)?
        .axial_t2_series()?
        .into_iter()
        .find(|(_, _, files)| read_header(&files[0]).is_ok_and(|h| h.slice_location.is_some()))
        .ok_or_else(|| Error::invalid("the dataset has no complete Axial T2 series"))?;
    let file = files[files.len() / 2].clone();
    println!(
        "study {study}, series {series}: {} axial slices",
        files.len()
    );

    preamble(&file)?;
    inspect(&file)?;
    rle(&file)?;
    packbits_by_hand();
    coordinates(&files)?;
    Ok(())
}

/// The first bytes of the file: 128 bytes of preamble, then the magic word `DICM`.
fn preamble(file: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    println!("\n== The file ==");
    println!(
        "{} bytes; bytes 0–127 all zero: {}; bytes 128–131: {:?}",
        bytes.len(),
        bytes[..128].iter().all(|&b| b == 0),
        String::from_utf8_lossy(&bytes[128..132])
    );
    Ok(())
}

/// What `lumbar inspect FILE` prints.
fn inspect(file: &std::path::Path) -> Result<()> {
    println!("\n== lumbar inspect ==");
    // ANCHOR: inspect
    let header = read_header(file)?;
    for (name, value) in describe(&header) {
        println!("{name:<30} {value}");
    }
    // ANCHOR_END: inspect
    let slice = read_slice(file)?;
    let (lo, hi) = slice
        .pixels
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    println!(
        "decoded pixels: {:?}, values {lo} … {hi} (12 bits stored: at most 4095)",
        slice.pixels.dim()
    );
    Ok(())
}

/// Re-encode the stored pixels and measure the RLE segments.
fn rle(file: &std::path::Path) -> Result<()> {
    println!("\n== RLE Lossless ==");
    let (values, rows, cols) = read_pixels(file)?;
    let frame = encode_rle_frame_u16(&values, rows, cols);
    let word = |i: usize| u32::from_le_bytes(frame[4 * i..4 * i + 4].try_into().unwrap()) as usize;
    let (segments, first, second) = (word(0), word(1), word(2));
    let raw = rows * cols;
    println!("RLE header: {segments} segments, offsets {first} and {second}");
    println!(
        "segment 1 (high bytes): {raw} bytes → {} bytes ({:.1} %)",
        second - first,
        100.0 * (second - first) as f64 / raw as f64
    );
    println!(
        "segment 2 (low bytes):  {raw} bytes → {} bytes ({:.1} %)",
        frame.len() - second,
        100.0 * (frame.len() - second) as f64 / raw as f64
    );
    println!(
        "whole frame: {} bytes → {} bytes ({:.1} %)",
        2 * raw,
        frame.len(),
        100.0 * frame.len() as f64 / (2 * raw) as f64
    );
    let high_decoded = packbits_decode(&frame[first..second]).unwrap_or_default();
    let distinct_high = {
        let mut v: Vec<u8> = high_decoded.clone();
        v.sort_unstable();
        v.dedup();
        v
    };
    println!("distinct high bytes: {distinct_high:?}");

    let high: Vec<f32> = values.iter().map(|&v| (v >> 8) as f32).collect();
    let low: Vec<f32> = values.iter().map(|&v| (v & 0xFF) as f32).collect();
    let whole: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let tiles = vec![
        GrayTile::new(normalize_to_u8(&whole), cols, rows, "the slice (min–max)")?,
        GrayTile::new(normalize_to_u8(&high), cols, rows, "high bytes (segment 1)")?,
        GrayTile::new(
            low.iter().map(|&v| v as u8).collect(),
            cols,
            rows,
            "low bytes (segment 2)",
        )?,
    ];
    save_grid(
        "01-byte-planes.png",
        &tiles,
        3,
        220,
        "One 16-bit slice and the two byte planes RLE compresses",
    )
}

/// The PackBits packets of a short row, decoded back.
fn packbits_by_hand() {
    println!("\n== PackBits by hand ==");
    let row = [7u8, 7, 7, 7, 7, 1, 2, 3, 9, 9];
    let mut packets = Vec::new();
    packbits_encode_row(&row, &mut packets);
    println!("row      {row:?}");
    println!("packets  {packets:?}");
    println!(
        "as i8    {:?}",
        packets.iter().map(|&b| b as i8).collect::<Vec<_>>()
    );
    println!(
        "decoded  {:?}",
        packbits_decode(&packets).unwrap_or_default()
    );
}

/// Where the slices of one series are, in patient coordinates.
fn coordinates(files: &[std::path::PathBuf]) -> Result<()> {
    println!("\n== Patient coordinates of the series (first 6 files by name) ==");
    println!(
        "{:>8} {:>28} {:>10} {:>10} {:>10}",
        "instance", "ImagePositionPatient", "IPP·n", "centre·n", "SliceLoc"
    );
    for file in files.iter().take(6) {
        let h = read_header(file)?;
        let n = h.normal().unwrap_or([0.0, 0.0, 1.0]);
        let ipp = h.image_position.unwrap_or_default();
        let centre = image_centre(&h).unwrap_or_default();
        let along = centre[0] * n[0] + centre[1] * n[1] + centre[2] * n[2];
        println!(
            "{:>8} [{:>7.1}, {:>7.1}, {:>7.1}] {:>10.1} {:>10.1} {:>10}",
            h.instance_number.unwrap_or(-1),
            ipp[0],
            ipp[1],
            ipp[2],
            h.position_along(n).unwrap_or(f64::NAN),
            along,
            h.slice_location
                .map_or("missing".to_string(), |s| format!("{s:.1}"))
        );
    }
    let h = read_header(&files[0])?;
    println!(
        "orientation {:?}\nnormal {:?}",
        h.image_orientation
            .unwrap_or_default()
            .map(|v| (v * 1000.0).round() / 1000.0),
        h.normal()
            .unwrap_or_default()
            .map(|v| (v * 1000.0).round() / 1000.0)
    );
    Ok(())
}
