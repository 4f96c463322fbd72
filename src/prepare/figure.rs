//! Samples for the article's Figure 2 ("images with their assigned class after
//! augmentation"). Drawing the grid is left to the plotting module; this only picks images.

use super::image_ops::read_gray_png;
use super::manifest::read_augmented;
use super::split::Split;
use crate::error::{Error, Result};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::Path;

/// Up to `count` augmented training images of a prepared folder, chosen with `seed`, each with
/// the caption the article prints above it: its class number and name, e.g. `2: Severe`.
/// Classes take turns so that every class appears when `count ≥ 3`.
pub fn augmentation_samples(
    out_dir: &Path,
    count: usize,
    seed: u64,
) -> Result<Vec<(Array2<u8>, String)>> {
    let csv = out_dir.join("augmented.csv");
    if !csv.exists() {
        return Err(Error::invalid(format!(
            "{} not found: run `lumbar prepare` with augmentation first",
            csv.display()
        )));
    }
    let mut rows: Vec<_> = read_augmented(&csv)?
        .into_iter()
        .filter(|r| r.split == Split::Train)
        .collect();
    rows.shuffle(&mut StdRng::seed_from_u64(seed));
    // Round-robin over classes, in label order.
    let mut by_class: Vec<Vec<_>> = vec![Vec::new(); 3];
    for r in rows {
        by_class[r.label.label() as usize].push(r);
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
        .map(|r| {
            let image = read_gray_png(&out_dir.join(&r.path))?;
            Ok((
                image,
                format!("{}: {}", r.label.label(), r.label.csv_name()),
            ))
        })
        .collect()
}
