//! The article's balanced test set: "100 normal, 100 moderate, and 100 severe" images.

use super::{CLASS_NAMES, NUM_CLASSES};
use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Pick `per_class` sample indices of every class at random, reproducibly.
///
/// `labels[i]` is the class of sample `i`. For each class the candidates are shuffled with a
/// generator seeded by `seed` and the class index (so one class's choice does not depend on how
/// many samples the others have) and the first `per_class` are kept. The result holds
/// `3 · per_class` distinct indices sorted ascending. Errors when a class has fewer than
/// `per_class` samples (saying which and how many) or a label is not `0..3`.
pub fn balanced_subset(labels: &[usize], per_class: usize, seed: u64) -> Result<Vec<usize>> {
    let mut by_class: [Vec<usize>; NUM_CLASSES] = Default::default();
    for (i, &label) in labels.iter().enumerate() {
        if label >= NUM_CLASSES {
            return Err(Error::invalid(format!(
                "balanced_subset: sample {i} has label {label}; classes are 0..{NUM_CLASSES}"
            )));
        }
        by_class[label].push(i);
    }
    // ANCHOR: choose
    let mut chosen = Vec::with_capacity(per_class * NUM_CLASSES);
    for (class, mut candidates) in by_class.into_iter().enumerate() {
        if candidates.len() < per_class {
            return Err(Error::invalid(format!(
                "balanced_subset: class {class} ({}) has only {} samples, {per_class} requested",
                CLASS_NAMES[class],
                candidates.len()
            )));
        }
        let class_seed = seed ^ (class as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        candidates.shuffle(&mut StdRng::seed_from_u64(class_seed));
        chosen.extend_from_slice(&candidates[..per_class]);
    }
    chosen.sort_unstable();
    // ANCHOR_END: choose
    Ok(chosen)
}
