//! The RLE Lossless encoder, checked against an independent decoder: dicom-pixeldata.

use dicom_pixeldata::PixelDecoder;
use lumbar_cnn::synth::dicom_writer::{encode_slice, PixelEncoding, SliceTags};
use lumbar_cnn::synth::geometry::Plane;
use rand::{Rng, SeedableRng};

/// Encode `pixels` as a one-slice DICOM file and decode it back with dicom-rs.
fn round_trip(pixels: &[u16], rows: usize, cols: usize, encoding: PixelEncoding) -> Vec<u16> {
    let plane = Plane::centred(
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        0.5,
        rows,
        cols,
    );
    let tags = SliceTags {
        patient_id: "1",
        study_uid: "2.25.1",
        series_uid: "2.25.2",
        sop_uid: "2.25.3",
        frame_uid: "2.25.4",
        series_number: 1,
        instance_number: 1,
        plane: &plane,
        slice_thickness: Some(4.0),
        slice_location: None,
    };
    let bytes = encode_slice(&tags, pixels, encoding).unwrap();
    assert_eq!(&bytes[128..132], b"DICM");
    let obj = dicom_object::from_reader(&bytes[128..]).unwrap();
    let decoded = obj.decode_pixel_data().unwrap();
    decoded
        .data()
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect()
}

#[test]
fn rle_frames_decode_exactly_for_every_kind_of_content() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let (rows, cols) = (37, 61); // odd sizes: rows of odd length, odd pixel count
    let noise: Vec<u16> = (0..rows * cols)
        .map(|_| rng.random_range(0..4096))
        .collect();
    let constant = vec![1234u16; rows * cols];
    let runs: Vec<u16> = (0..rows * cols).map(|i| ((i / 200) * 300) as u16).collect();
    let full_range: Vec<u16> = (0..rows * cols).map(|_| rng.random::<u16>()).collect();
    let long_rows: Vec<u16> = (0..3 * 700)
        .map(|i| if i % 700 < 300 { 7 } else { i as u16 })
        .collect();
    for (name, pixels, r, c) in [
        ("noise", &noise, rows, cols),
        ("constant", &constant, rows, cols),
        ("runs", &runs, rows, cols),
        ("full 16-bit range", &full_range, rows, cols),
        ("rows longer than 128", &long_rows, 3, 700),
    ] {
        assert_eq!(
            &round_trip(pixels, r, c, PixelEncoding::RleLossless),
            pixels,
            "{name}"
        );
        assert_eq!(
            &round_trip(pixels, r, c, PixelEncoding::Native),
            pixels,
            "{name} native"
        );
    }
}

#[test]
fn rle_compresses_runs() {
    let constant = vec![1000u16; 256 * 256];
    let plane = Plane::centred([0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], 1.0, 256, 256);
    let tags = SliceTags {
        patient_id: "1",
        study_uid: "2.25.1",
        series_uid: "2.25.2",
        sop_uid: "2.25.3",
        frame_uid: "2.25.4",
        series_number: 1,
        instance_number: 1,
        plane: &plane,
        slice_thickness: None,
        slice_location: None,
    };
    let rle = encode_slice(&tags, &constant, PixelEncoding::RleLossless).unwrap();
    let native = encode_slice(&tags, &constant, PixelEncoding::Native).unwrap();
    assert!(
        rle.len() * 20 < native.len(),
        "{} vs {}",
        rle.len(),
        native.len()
    );
}
