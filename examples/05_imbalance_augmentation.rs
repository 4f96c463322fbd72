//! Chapter 5 of the book: class imbalance and augmentation. The Keras `ImageDataGenerator`
//! warp on a tiny image, each transformation on one slice, then `lumbar prepare` in both
//! protocols on the same synthetic dataset: class counts per split, and how much of the
//! paper protocol's test set has a twin in its training set. Ends with the article's Figure 2.
//!
//! `cargo run --release --example 05_imbalance_augmentation`
//! (figures: `book/src/figures/05-augment-steps.png`, `book/src/figures/05-figure2.png`;
//! `LUMBAR_BOOK_TINY=1` uses fewer studies and writes the figures to a temporary folder).

use lumbar_cnn::book_examples::{save_grid, synth_dataset, tiny};
use lumbar_cnn::plot::image_grid::GrayTile;
use lumbar_cnn::prepare::augment::apply;
use lumbar_cnn::prepare::figure::augmentation_samples;
use lumbar_cnn::prepare::image_ops::{read_gray_png, to_u8};
use lumbar_cnn::prepare::manifest::{read_augmented, read_manifest};
use lumbar_cnn::prepare::{AugmentParams, PrepareConfig, Protocol, Split};
use lumbar_cnn::synth::SynthConfig;
use lumbar_cnn::{Error, Result};
use ndarray::Array2;
use std::collections::{HashMap, HashSet};
use std::path::Path;

fn main() -> Result<()> {
    warp_by_hand();
    let studies = if tiny() { 5 } else { 30 };
    let config = SynthConfig {
        axial_matrix: (256, 256),
        ..SynthConfig::small(studies, 5)
    };
    let data = synth_dataset("05_imbalance_augmentation", &config)?;
    let mut outputs = Vec::new();
    for protocol in [Protocol::Honest, Protocol::Paper] {
        let out = std::env::temp_dir().join(format!(
            "lumbar-book/05_imbalance_augmentation-{}",
            protocol.name()
        ));
        // ANCHOR: both_protocols
        let prepare = PrepareConfig {
            image_size: 128,
            protocol,
            ..PrepareConfig::new(&data, &out)
        };
        let summary = lumbar_cnn::prepare::run(&prepare)?;
        // ANCHOR_END: both_protocols
        println!("\n== lumbar prepare --protocol {} ==", protocol.name());
        println!("{}", summary.table());
        leakage(&out)?;
        outputs.push(out);
    }
    steps_figure(&outputs[0])?;
    figure_2(&outputs[0])
}

/// Where output pixels sample the input, and the `nearest` fill, on a 3×4 image.
fn warp_by_hand() {
    println!("== The warp on a 3×4 image ==");
    let image = Array2::from_shape_fn((3, 4), |(r, c)| (10 * r + c) as f32);
    println!("input\n{image}");
    let shift_right = AugmentParams {
        shift_cols: -1.0,
        ..AugmentParams::IDENTITY
    };
    let flipped = AugmentParams {
        flip: true,
        ..AugmentParams::IDENTITY
    };
    println!(
        "shift_cols = -1 (content moves right, column 0 filled with its nearest edge)\n{}",
        apply(image.view(), &shift_right)
    );
    println!("flip\n{}", apply(image.view(), &flipped));
    let zoom_out = AugmentParams {
        zoom_rows: 1.1,
        zoom_cols: 1.1,
        ..AugmentParams::IDENTITY
    };
    println!(
        "zoom 1.1 (zooms out)\n{:.2}",
        apply(image.view(), &zoom_out)
    );
}

/// In the paper protocol, how many test images have a close relative in the training split:
/// the same original slice (an augmented copy of it, or its original), or the same patient.
fn leakage(out: &Path) -> Result<()> {
    let manifest = read_manifest(&out.join("manifest.csv"))?;
    let augmented = read_augmented(&out.join("augmented.csv"))?;
    let study_of: HashMap<&str, u64> = manifest
        .iter()
        .map(|r| (r.path.as_str(), r.study_id))
        .collect();
    // Every image as (split, its original slice).
    let images: Vec<(Split, &str)> = manifest
        .iter()
        .map(|r| (r.split, r.path.as_str()))
        .chain(augmented.iter().map(|a| (a.split, a.source_path.as_str())))
        .collect();
    let train_sources: HashSet<&str> = images
        .iter()
        .filter(|(s, _)| *s == Split::Train)
        .map(|(_, src)| *src)
        .collect();
    let train_studies: HashSet<u64> = train_sources.iter().map(|p| study_of[p]).collect();
    let test: Vec<&str> = images
        .iter()
        .filter(|(s, _)| *s == Split::Test)
        .map(|(_, src)| *src)
        .collect();
    let same_slice = test
        .iter()
        .filter(|src| train_sources.contains(*src))
        .count();
    let same_patient = test
        .iter()
        .filter(|src| train_studies.contains(&study_of[**src]))
        .count();
    println!(
        "test images: {}; made from a slice that is also in train: {same_slice} ({:.0} %); \
         from a patient also in train: {same_patient} ({:.0} %)",
        test.len(),
        100.0 * same_slice as f64 / test.len().max(1) as f64,
        100.0 * same_patient as f64 / test.len().max(1) as f64
    );
    Ok(())
}

/// The first training slice, transformed one way at a time.
fn steps_figure(out: &Path) -> Result<()> {
    let first = read_manifest(&out.join("manifest.csv"))?
        .into_iter()
        .find(|r| r.split == Split::Train)
        .ok_or_else(|| Error::invalid("no training image"))?;
    let image = read_gray_png(&out.join(&first.path))?.mapv(f32::from);
    let (rows, cols) = image.dim();
    let id = AugmentParams::IDENTITY;
    let steps = [
        ("original", id),
        (
            "shift +0.1·size both axes",
            AugmentParams {
                shift_rows: 0.1 * rows as f32,
                shift_cols: 0.1 * cols as f32,
                ..id
            },
        ),
        (
            "zoom 0.9 (in)",
            AugmentParams {
                zoom_rows: 0.9,
                zoom_cols: 0.9,
                ..id
            },
        ),
        (
            "zoom 1.1 (out)",
            AugmentParams {
                zoom_rows: 1.1,
                zoom_cols: 1.1,
                ..id
            },
        ),
        ("horizontal flip", AugmentParams { flip: true, ..id }),
        (
            "all at once",
            AugmentParams {
                shift_rows: 0.1 * rows as f32,
                shift_cols: -0.08 * cols as f32,
                zoom_rows: 1.1,
                zoom_cols: 0.92,
                flip: true,
            },
        ),
    ];
    let tiles = steps
        .iter()
        .map(|(caption, params)| {
            GrayTile::from_array(to_u8(apply(image.view(), params).view()).view(), *caption)
        })
        .collect::<Result<Vec<_>>>()?;
    save_grid(
        "05-augment-steps.png",
        &tiles,
        3,
        200,
        "The ImageDataGenerator transformations, one at a time",
    )
}

/// The article's Figure 2: four augmented training images with their class above.
fn figure_2(out: &Path) -> Result<()> {
    // ANCHOR: figure_2
    let samples = augmentation_samples(out, 4, 2)?;
    let tiles = samples
        .iter()
        .map(|(image, caption)| GrayTile::from_array(image.view(), caption.as_str()))
        .collect::<Result<Vec<_>>>()?;
    save_grid(
        "05-figure2.png",
        &tiles,
        4,
        200,
        "Augmented training images",
    )?;
    // ANCHOR_END: figure_2
    Ok(())
}
