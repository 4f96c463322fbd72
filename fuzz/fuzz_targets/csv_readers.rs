//! Fuzz the readers of the three Kaggle CSVs. The first byte picks the reader (`train.csv`,
//! `train_series_descriptions.csv`, `train_label_coordinates.csv`), the rest is the file.
//!
//! Required: no panic, and an error that begins `path:line: ` with a line of the file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lumbar_cnn::rsna::records::{
    read_label_coordinates, read_series_descriptions, read_train_labels,
};
use std::path::PathBuf;
use std::sync::OnceLock;

/// One folder per fuzzing process, holding the file under its Kaggle name.
fn input_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fuzz-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the fuzzing folder can be made");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, text)) = data.split_first() else {
        return;
    };
    let names = [
        "train.csv",
        "train_series_descriptions.csv",
        "train_label_coordinates.csv",
    ];
    let path = input_dir().join(names[which as usize % 3]);
    std::fs::write(&path, text).expect("the fuzzing input can be written");
    let result = match which % 3 {
        0 => read_train_labels(&path).map(|_| ()),
        1 => read_series_descriptions(&path).map(|_| ()),
        _ => read_label_coordinates(&path).map(|_| ()),
    };
    if let Err(e) = result {
        let message = e.to_string();
        let prefix = format!("{}:", path.display());
        let rest = message
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("the error begins with the file: {message}"));
        let line: u64 = rest
            .split(':')
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("the error names a line: {message}"));
        let lines = 1 + text.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64;
        assert!(
            (1..=lines).contains(&line),
            "line {line} of {lines}: {message}"
        );
    }
});
