//! DICOM reading: native vs RLE decoding, header attributes, bad files, convert and inspect.

mod common;

use common::{temp_dir, write_dicom, SliceSpec, NATIVE, RLE};
use lumbar_cnn::dicom::{read_header, read_slice};

#[test]
fn rle_decodes_to_the_same_pixels_as_native() {
    let dir = temp_dir("rle-native");
    let mut spec = SliceSpec::simple(NATIVE, 23, 17); // odd sizes exercise segment padding
    spec.rescale = Some((2.0, -50.0));
    write_dicom(&dir.join("native.dcm"), &spec);
    spec.transfer_syntax = RLE;
    write_dicom(&dir.join("rle.dcm"), &spec);
    let native = read_slice(&dir.join("native.dcm")).unwrap();
    let rle = read_slice(&dir.join("rle.dcm")).unwrap();
    assert_eq!(native.pixels.dim(), (23, 17));
    assert_eq!(native.pixels, rle.pixels);
    // The modality LUT is applied: value = stored · slope + intercept.
    for (v, stored) in native.pixels.iter().zip(&spec.pixels) {
        assert_eq!(*v, 2.0 * *stored as f32 - 50.0);
    }
    assert_eq!(rle.header.transfer_syntax, RLE);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn header_reads_geometry_and_tolerates_missing_tags() {
    let dir = temp_dir("header");
    let mut spec = SliceSpec::simple(RLE, 8, 8);
    spec.instance_number = Some(17);
    spec.image_position = Some([-95.5, -80.25, 31.0]);
    spec.slice_location = None;
    spec.modality = None;
    spec.series_description = None;
    spec.slice_thickness = None;
    write_dicom(&dir.join("17.dcm"), &spec);
    let h = read_header(&dir.join("17.dcm")).unwrap();
    assert_eq!(h.instance_number, Some(17));
    assert_eq!(h.image_position, Some([-95.5, -80.25, 31.0]));
    assert_eq!(h.image_orientation, Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]));
    assert_eq!((h.rows, h.columns), (8, 8));
    assert_eq!(h.bits_stored, Some(12));
    assert_eq!(h.slice_location, None);
    assert_eq!(h.modality, None);
    assert_eq!(h.series_description, None);
    assert_eq!(h.normal(), Some([0.0, 0.0, 1.0]));
    assert!(h.is_axial());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_and_truncated_files_are_errors_naming_the_file() {
    let dir = temp_dir("corrupt");
    let garbage = dir.join("garbage.dcm");
    std::fs::write(&garbage, b"not a dicom file at all").unwrap();
    let err = read_slice(&garbage).unwrap_err().to_string();
    assert!(err.contains("garbage.dcm"), "{err}");

    let truncated = dir.join("truncated.dcm");
    write_dicom(&truncated, &SliceSpec::simple(NATIVE, 32, 32));
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 500]).unwrap();
    let err = read_slice(&truncated).unwrap_err().to_string();
    assert!(err.contains("truncated.dcm"), "{err}");

    // A truncated RLE file is an error too (the RLE decoder itself would panic on it).
    let truncated_rle = dir.join("truncated_rle.dcm");
    write_dicom(&truncated_rle, &SliceSpec::simple(RLE, 32, 32));
    let bytes = std::fs::read(&truncated_rle).unwrap();
    std::fs::write(&truncated_rle, &bytes[..bytes.len() - 500]).unwrap();
    let err = read_slice(&truncated_rle).unwrap_err().to_string();
    assert!(err.contains("truncated_rle.dcm"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn convert_writes_a_min_max_png_at_native_size() {
    let dir = temp_dir("convert");
    let spec = SliceSpec::simple(RLE, 12, 20);
    write_dicom(&dir.join("a.dcm"), &spec);
    let (rows, cols) =
        lumbar_cnn::dicom::convert::convert_file(&dir.join("a.dcm"), &dir.join("a.png")).unwrap();
    assert_eq!((rows, cols), (12, 20));
    let png = lumbar_cnn::prepare::image_ops::read_gray_png(&dir.join("a.png")).unwrap();
    assert_eq!(png.dim(), (12, 20));
    assert_eq!(png.iter().min(), Some(&0));
    assert_eq!(png.iter().max(), Some(&255));
    // The brightest stored pixel is the white one.
    let argmax = spec
        .pixels
        .iter()
        .enumerate()
        .max_by_key(|(_, v)| **v)
        .unwrap()
        .0;
    assert_eq!(png[(argmax / 20, argmax % 20)], 255);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_lists_the_tags_the_pipeline_uses() {
    let dir = temp_dir("inspect");
    write_dicom(&dir.join("a.dcm"), &SliceSpec::simple(RLE, 8, 8));
    let lines = lumbar_cnn::dicom::inspect::describe(&read_header(&dir.join("a.dcm")).unwrap());
    let get = |name: &str| lines.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert!(get("TransferSyntaxUID").contains("RLE Lossless"));
    assert_eq!(get("Rows"), "8");
    assert_eq!(get("SliceLocation"), "20.0");
    assert_eq!(get("axial"), "yes");
    std::fs::remove_dir_all(&dir).unwrap();
}
