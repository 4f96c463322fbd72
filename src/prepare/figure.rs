//! Samples for the article's Figure 2 ("images with their assigned class after
//! augmentation"). Drawing the grid is left to the plotting module; this only makes images.

use super::augment::augment;
use super::image_ops::{read_gray_png, to_u8};
use super::manifest::read_manifest;
use super::split::Split;
use crate::error::{Error, Result};
use crate::seed::stream_seed;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::Path;

/// `count` augmented training images of a prepared folder, each with the caption the article
/// prints above it: its class number and name, e.g. `2: Severe`.
///
/// Training originals are chosen with `seed`, classes taking turns (so every class appears
/// when `count ≥ 3`), and each is augmented on the fly with [`augment`] — so the figure also
/// works for the majority class, which the balancing leaves unaugmented, and after
/// `--no-augment`. Returns fewer images only if the training split has fewer.
pub fn augmentation_samples(
    out_dir: &Path,
    count: usize,
    seed: u64,
) -> Result<Vec<(Array2<u8>, String)>> {
    let manifest = out_dir.join("manifest.csv");
    if !manifest.exists() {
        return Err(Error::invalid(format!(
            "{} not found: run `lumbar prepare` first",
            manifest.display()
        )));
    }
    let mut rows: Vec<_> = read_manifest(&manifest)?
        .into_iter()
        .filter(|r| r.split == Split::Train)
        .collect();
    rows.shuffle(&mut StdRng::seed_from_u64(seed));
    // Round-robin over classes, in label order.
    let mut by_class: Vec<Vec<_>> = vec![Vec::new(); 3];
    for r in rows {
        by_class[r.label.index()].push(r);
    }
    let mut picked = Vec::new();
    let mut round = 0;
    while picked.len() < count && by_class.iter().any(|c| c.len() > round) {
        for class in &by_class {
            if picked.len() < count {
                if let Some(r) = class.get(round) {
                    picked.push(r.clone());
                }
            }
        }
        round += 1;
    }
    picked
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let image = read_gray_png(&out_dir.join(&r.path))?.mapv(f32::from);
            let mut rng = StdRng::seed_from_u64(stream_seed(seed, i as u64));
            let augmented = to_u8(augment(image.view(), &mut rng).view());
            Ok((
                augmented,
                format!("{}: {}", r.label.index(), r.label.csv_name()),
            ))
        })
        .collect()
}
