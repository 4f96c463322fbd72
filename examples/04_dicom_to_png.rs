//! Chapter 4 of the book: from DICOM to PNG. Min-max normalisation and bilinear resizing on
//! numbers small enough to check by hand, then `lumbar prepare` on a small synthetic dataset:
//! the folder layout it writes, its manifest, and what the network finally loads.
//!
//! `cargo run --release --example 04_dicom_to_png`
//! (figure: `book/src/figures/04-png-steps.png`; `LUMBAR_BOOK_TINY=1` uses smaller images and
//! writes the figure to a temporary folder instead).

use lumbar_cnn::book_examples::{save_grid, synth_dataset, tiny};
use lumbar_cnn::dicom::read_slice;
use lumbar_cnn::plot::image_grid::{resample_box, GrayTile};
use lumbar_cnn::prepare::image_ops::{min_max_to_u8, resize_bilinear, to_u8};
use lumbar_cnn::prepare::{load_images, load_prepared, PrepareConfig};
use lumbar_cnn::rsna::Severity;
use lumbar_cnn::synth::SynthConfig;
use lumbar_cnn::{Error, Result};
use ndarray::array;
use std::path::Path;

fn main() -> Result<()> {
    by_hand();
    let side = if tiny() { 128 } else { 384 };
    let config = SynthConfig {
        axial_matrix: (side, side),
        ..SynthConfig::small(if tiny() { 3 } else { 6 }, 4)
    };
    let data = synth_dataset("04_dicom_to_png", &config)?;
    let out = std::env::temp_dir().join("lumbar-book/04_dicom_to_png-prepared");
    let size = if tiny() { 64 } else { 256 };
    // ANCHOR: prepare
    let prepare = PrepareConfig {
        image_size: size,
        balance: false,
        ..PrepareConfig::new(&data, &out)
    };
    let summary = lumbar_cnn::prepare::run(&prepare)?;
    // ANCHOR_END: prepare
    println!("\n== lumbar prepare ==\n{}", summary.table());
    show_layout(&out)?;
    load_for_training(&out, size)?;
    figure(&out, &data)
}

/// Min-max and bilinear resizing on a 2×2 image.
fn by_hand() {
    println!("== Min-max to 0–255 ==");
    let stored = array![[100.0f32, 350.0], [600.0, 1100.0]];
    println!(
        "stored\n{stored}\nmin-max\n{}",
        min_max_to_u8(stored.view())
    );
    println!("\n== Bilinear 2×2 → 4×4 (half-pixel centres) ==");
    let small = array![[0.0f32, 100.0], [200.0, 300.0]];
    println!("{}", resize_bilinear(small.view(), 4, 4));
}

/// The folders and files `lumbar prepare` wrote.
fn show_layout(out: &Path) -> Result<()> {
    println!("\n== {} ==", out.display());
    for folder in ["png/Moderate", "png/Normal_Mild", "png/Severe"] {
        let dir = out.join(folder);
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        println!(
            "{folder}/  {} files, e.g. {}",
            names.len(),
            names.first().map_or("-", String::as_str)
        );
    }
    let manifest = out.join("manifest.csv");
    let text = std::fs::read_to_string(&manifest).map_err(|e| Error::io(&manifest, e))?;
    println!("manifest.csv ({} rows):", text.lines().count() - 1);
    for line in text.lines().take(3) {
        println!("  {line}");
    }
    Ok(())
}

/// What the training code reads: NHWC batches of RGB values in [0, 1].
fn load_for_training(out: &Path, size: usize) -> Result<()> {
    let dataset = load_prepared(out)?;
    let paths: Vec<_> = dataset
        .train
        .iter()
        .take(4)
        .map(|i| i.path.clone())
        .collect();
    let batch = load_images(&paths, size)?;
    let (lo, hi) = batch
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let same = batch
        .lanes(ndarray::Axis(3))
        .into_iter()
        .all(|px| px[0] == px[1] && px[1] == px[2]);
    println!(
        "\nload_images: batch {:?}, values {lo:.3} … {hi:.3}, R = G = B everywhere: {same}",
        batch.shape()
    );
    println!(
        "train / val / test images: {} / {} / {}",
        dataset.train.len(),
        dataset.val.len(),
        dataset.test.len()
    );
    Ok(())
}

/// One slice at its native size, at 256×256 and at 64×64 (bilinear, as the pipeline, and
/// box-averaged, for comparison).
fn figure(out: &Path, data: &Path) -> Result<()> {
    // The first Severe slice, if any, else the first slice of the manifest.
    let dataset = load_prepared(out)?;
    let first = dataset
        .train
        .iter()
        .chain(&dataset.val)
        .chain(&dataset.test)
        .find(|i| i.label == Severity::Severe)
        .or(dataset.train.first())
        .ok_or_else(|| Error::invalid("no prepared image"))?;
    // png/<class>/<study>_<series>_<instance>.png → the DICOM file.
    let stem = first
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let ids: Vec<&str> = stem.split('_').collect();
    let dicom = data
        .join("train_images")
        .join(ids[0])
        .join(ids[1])
        .join(format!("{}.dcm", ids[2]));
    let slice = read_slice(&dicom)?;
    let (rows, cols) = slice.pixels.dim();
    let gray = min_max_to_u8(slice.pixels.view());
    let as_f32 = gray.mapv(f32::from);
    let at_256 = to_u8(resize_bilinear(as_f32.view(), 256, 256).view());
    let at_64 = to_u8(resize_bilinear(as_f32.view(), 64, 64).view());
    let boxed = resample_box(gray.as_slice().unwrap_or_default(), cols, rows, 64, 64);
    let tiles = vec![
        GrayTile::from_array(gray.view(), format!("DICOM, min–max, {cols}×{rows}"))?,
        GrayTile::from_array(at_256.view(), "bilinear 256×256")?,
        GrayTile::from_array(at_64.view(), "bilinear 64×64")?,
        GrayTile::new(boxed, 64, 64, "box average 64×64")?,
    ];
    save_grid(
        "04-png-steps.png",
        &tiles,
        4,
        200,
        "One slice on its way to the network",
    )
}
