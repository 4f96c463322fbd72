//! Damaged DICOM slices: every header that disagrees with its pixel data, every file that is
//! not a readable regular file, is refused with the file and the reason — never a panic, never
//! a plausible-looking image. Each case starts from a valid slice and damages one thing.

mod common;

use common::{temp_dir, write_dicom, SliceSpec, NATIVE, RLE};
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use lumbar_cnn::dicom::{read_header, read_slice};
use lumbar_cnn::test_notice::notice;
use std::path::{Path, PathBuf};

/// Write a valid 16 × 12 slice, then let `damage` change its parsed object, and save it.
fn damaged(
    dir: &Path,
    name: &str,
    syntax: &'static str,
    damage: impl FnOnce(&mut dicom_object::DefaultDicomObject),
) -> PathBuf {
    let path = dir.join(name);
    write_dicom(&path, &SliceSpec::simple(syntax, 16, 12));
    let mut obj = dicom_object::open_file(&path).unwrap();
    damage(&mut obj);
    obj.write_to_file(&path).unwrap();
    path
}

fn put_us(obj: &mut dicom_object::DefaultDicomObject, tag: dicom_core::Tag, value: u16) {
    obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
}

/// `read_slice` fails, naming the file, with a message that contains `expected`.
fn assert_refused(path: &Path, expected: &str) {
    let err = read_slice(path)
        .expect_err("a damaged slice must be refused")
        .to_string();
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(name), "the error names the file: {err}");
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
}

#[test]
fn header_and_pixel_data_that_disagree_are_refused_with_the_reason() {
    let dir = temp_dir("damaged-headers");
    for syntax in [NATIVE, RLE] {
        let kind = if syntax == RLE { "rle" } else { "native" };
        // Bits Stored 0: dicom-pixeldata asserts 0 < BitsStored ≤ 32 and would panic.
        let f = damaged(&dir, &format!("{kind}-bits-stored-0.dcm"), syntax, |o| {
            put_us(o, tags::BITS_STORED, 0)
        });
        assert_refused(&f, "Bits Stored (0028,0101) is 0");
        // Bits Stored above Bits Allocated.
        let f = damaged(&dir, &format!("{kind}-bits-stored-17.dcm"), syntax, |o| {
            put_us(o, tags::BITS_STORED, 17)
        });
        assert_refused(&f, "Bits Stored (0028,0101) is 17");
        // Rows or Columns 0: the image has no pixel (the resize would index out of bounds).
        let f = damaged(&dir, &format!("{kind}-rows-0.dcm"), syntax, |o| {
            put_us(o, tags::ROWS, 0)
        });
        assert_refused(&f, "the image has no pixel");
        let f = damaged(&dir, &format!("{kind}-columns-0.dcm"), syntax, |o| {
            put_us(o, tags::COLUMNS, 0)
        });
        assert_refused(&f, "the image has no pixel");
        // Rows smaller than the pixel data: the header understates the image.
        let f = damaged(&dir, &format!("{kind}-rows-short.dcm"), syntax, |o| {
            put_us(o, tags::ROWS, 14)
        });
        assert_refused(&f, "disagree");
        // Rows larger than the pixel data.
        let f = damaged(&dir, &format!("{kind}-rows-long.dcm"), syntax, |o| {
            put_us(o, tags::ROWS, 20)
        });
        let err = read_slice(&f).unwrap_err().to_string();
        assert!(
            err.contains("disagree") || err.contains("ends after"),
            "{err}"
        );
        // Bits Allocated 8 over 16-bit data (Bits Stored 8 to stay consistent otherwise).
        let f = damaged(&dir, &format!("{kind}-bits-allocated-8.dcm"), syntax, |o| {
            put_us(o, tags::BITS_ALLOCATED, 8);
            put_us(o, tags::BITS_STORED, 8);
            put_us(o, tags::HIGH_BIT, 7);
        });
        let expected = if syntax == RLE {
            "lists 2 segments"
        } else {
            "disagree"
        };
        assert_refused(&f, expected);
        // Rescale Slope 0 maps every pixel to the intercept.
        let f = damaged(&dir, &format!("{kind}-slope-0.dcm"), syntax, |o| {
            o.put(DataElement::new(tags::RESCALE_SLOPE, VR::DS, "0"));
        });
        assert_refused(&f, "Rescale Slope (0028,1053) is 0");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn native_pixel_data_of_the_wrong_length_is_refused_too_long_as_well_as_too_short() {
    let dir = temp_dir("damaged-length");
    let too_long = damaged(&dir, "too-long.dcm", NATIVE, |o| {
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(vec![7u16; 16 * 12 + 40].into()),
        ));
    });
    assert_refused(&too_long, "Pixel Data holds 464 bytes");
    let too_short = damaged(&dir, "too-short.dcm", NATIVE, |o| {
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(vec![7u16; 16 * 12 - 12].into()),
        ));
    });
    assert_refused(&too_short, "Pixel Data holds 360 bytes");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_rle_offset_table_whose_first_offset_is_zero_is_refused() {
    let dir = temp_dir("damaged-rle-offset");
    let path = dir.join("offset-0.dcm");
    write_dicom(&path, &SliceSpec::simple(RLE, 16, 12));
    // The RLE header is the first 64 bytes of the only fragment: segment count, then offsets.
    // Find it in the file (segment count 2, first offset 64) and zero the first offset.
    let mut bytes = std::fs::read(&path).unwrap();
    let header = [2u8, 0, 0, 0, 64, 0, 0, 0];
    let at = bytes
        .windows(header.len())
        .position(|w| w == header)
        .expect("the RLE header is in the file");
    bytes[at + 4] = 0;
    std::fs::write(&path, &bytes).unwrap();
    assert_refused(&path, "starts at offset 0");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_that_cannot_be_read_say_why() {
    let dir = temp_dir("unreadable-files");
    // An empty file.
    let empty = dir.join("empty.dcm");
    std::fs::write(&empty, b"").unwrap();
    let err = read_slice(&empty).unwrap_err().to_string();
    assert!(
        err.contains("empty.dcm") && err.contains("empty file"),
        "{err}"
    );
    // A dangling symbolic link: the operating system's reason is kept.
    let dangling = dir.join("dangling.dcm");
    std::os::unix::fs::symlink(dir.join("nowhere.dcm"), &dangling).unwrap();
    let err = read_header(&dangling).unwrap_err().to_string();
    assert!(
        err.contains("dangling.dcm") && err.contains("No such file"),
        "{err}"
    );
    // A folder named like a slice.
    let folder = dir.join("folder.dcm");
    std::fs::create_dir(&folder).unwrap();
    let err = read_slice(&folder).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
    // A FIFO named like a slice: refused at once (opening it would block forever).
    let fifo = dir.join("fifo.dcm");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    match made {
        Ok(status) if status.success() => {
            let err = read_slice(&fifo).unwrap_err().to_string();
            assert!(
                err.contains("fifo.dcm") && err.contains("not a regular file"),
                "{err}"
            );
        }
        _ => notice("skipped the FIFO case: `mkfifo` is not available on this machine"),
    }
    // A file without read permission (root reads it anyway, so the case needs a normal user).
    let locked = dir.join("locked.dcm");
    write_dicom(&locked, &SliceSpec::simple(NATIVE, 8, 8));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&locked).is_err() {
        let err = read_slice(&locked).unwrap_err().to_string();
        assert!(
            err.contains("locked.dcm") && err.contains("ermission denied"),
            "{err}"
        );
    } else {
        notice("skipped the permission case: this process (root?) reads files of mode 000");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn convert_never_replaces_its_input() {
    let dir = temp_dir("convert-onto-input");
    let input = dir.join("a.dcm");
    write_dicom(&input, &SliceSpec::simple(RLE, 8, 8));
    let before = std::fs::read(&input).unwrap();
    let err = lumbar_cnn::dicom::convert::convert_file(&input, &input)
        .unwrap_err()
        .to_string();
    assert!(err.contains("must end in .png"), "{err}");
    // The same file under a .png name (a link) is refused as the input itself.
    let alias = dir.join("a.png");
    std::fs::hard_link(&input, &alias).unwrap();
    let err = lumbar_cnn::dicom::convert::convert_file(&alias, &alias)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is the input file itself"), "{err}");
    assert_eq!(
        std::fs::read(&input).unwrap(),
        before,
        "the DICOM is intact"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_slice_without_orientation_is_reported_as_such_not_as_not_axial() {
    let dir = temp_dir("no-orientation");
    let path = dir.join("no-iop.dcm");
    let mut spec = SliceSpec::simple(NATIVE, 8, 8);
    spec.image_orientation = None;
    write_dicom(&path, &spec);
    let header = read_header(&path).unwrap();
    assert_eq!(
        header.not_axial_reason().as_deref(),
        Some("no ImageOrientationPatient (0020,0037)")
    );
    // Direction cosines that are parallel give no slice plane.
    let mut parallel = header.clone();
    parallel.image_orientation = Some([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    assert!(parallel
        .not_axial_reason()
        .unwrap()
        .contains("parallel or zero direction cosines"));
    let mut axial = header.clone();
    axial.image_orientation = Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    assert_eq!(axial.not_axial_reason(), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn prepare_names_the_missing_orientation_of_a_skipped_series() {
    // The fixture's series described as axial whose slices are sagittal, rewritten without
    // ImageOrientationPatient at all.
    let fixture = common::build_fixture("prepare-no-orientation");
    let (study, series) = fixture.non_axial_series;
    let folder = fixture
        .root
        .join("train_images")
        .join(study.to_string())
        .join(series.to_string());
    for i in 1..=6 {
        let mut spec = SliceSpec::simple(NATIVE, 16, 16);
        spec.instance_number = Some(i);
        spec.image_orientation = None;
        write_dicom(&folder.join(format!("{i}.dcm")), &spec);
    }
    let mut config =
        lumbar_cnn::prepare::PrepareConfig::new(&fixture.root, fixture.root.join("out"));
    config.balance = false;
    config.image_size = 24;
    let summary = lumbar_cnn::prepare::run(&config).unwrap();
    let expected = format!(
        "series {study}/{series} skipped: no axial slice (6 × no ImageOrientationPatient (0020,0037))"
    );
    assert!(
        summary.warnings.contains(&expected),
        "{expected:?} not in {:#?}",
        summary.warnings
    );
    std::fs::remove_dir_all(&fixture.root).unwrap();
}

#[test]
fn a_bit_count_beyond_16_bits_is_refused_not_truncated() {
    // 65552 = 0x10010: cut to 16 bits it would read as a plausible 16.
    let dir = temp_dir("damaged-bit-count");
    let path = damaged(&dir, "bits-allocated-65552.dcm", NATIVE, |o| {
        o.put(DataElement::new(
            tags::BITS_ALLOCATED,
            VR::UL,
            PrimitiveValue::from(65552u32),
        ));
    });
    let err = read_header(&path).expect_err("refused").to_string();
    assert!(err.contains("bits-allocated-65552.dcm"), "{err}");
    assert!(
        err.contains("Bits Allocated (0028,0100) is 65552, not a bit count"),
        "{err}"
    );
}
