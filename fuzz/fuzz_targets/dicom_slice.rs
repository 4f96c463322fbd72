//! Fuzz the DICOM readers of `lumbar prepare`: `read_header` (stage 3) and `read_slice` (the
//! decoding of kept slices). The bytes are written to a file, as the readers take a path.
//!
//! Required: no panic (libFuzzer's panic hook aborts even on a panic that `read_slice` would
//! catch, so a decoder panic behind the safety net is found too), and either an image of
//! `Rows × Columns` finite values or an error that names the file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lumbar_cnn::dicom::{read_header, read_slice};
use std::path::PathBuf;
use std::sync::OnceLock;

/// One file per fuzzing process, rewritten for every input.
fn input_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("fuzz-slice-{}.dcm", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let path = input_path();
    std::fs::write(path, data).expect("the fuzzing input can be written");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    if let Err(e) = read_header(path) {
        assert!(
            e.to_string().contains(&name),
            "the error names the file: {e}"
        );
    }
    match read_slice(path) {
        Ok(slice) => {
            let shape = (slice.header.rows as usize, slice.header.columns as usize);
            assert_eq!(slice.pixels.dim(), shape, "the image has the header's size");
            assert!(slice.pixels.iter().all(|v| v.is_finite()), "finite values");
        }
        Err(e) => assert!(
            e.to_string().contains(&name),
            "the error names the file: {e}"
        ),
    }
});
