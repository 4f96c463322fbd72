//! Train / validation / test splits: by study (honest) or by image (the paper's protocol).

use crate::error::{Error, Result};
use crate::rsna::Severity;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Which part of the data an image belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Split {
    /// Used to fit the weights (and the only split that is augmented, honestly).
    Train,
    /// Used for early stopping.
    Val,
    /// Held out for the final report.
    Test,
}

impl Split {
    /// All splits in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];

    /// `train`, `val` or `test`, as in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }

    /// Parse a manifest `split` cell.
    pub fn parse(text: &str) -> Option<Split> {
        Split::ALL.into_iter().find(|s| s.name() == text.trim())
    }
}

/// Fractions of train / val / test; they must be non-negative and sum to 1.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SplitFractions {
    /// Fraction for training (default 0.7).
    pub train: f64,
    /// Fraction for validation (default 0.2).
    pub val: f64,
    /// Fraction for testing (default 0.1).
    pub test: f64,
}

impl Default for SplitFractions {
    fn default() -> Self {
        SplitFractions {
            train: 0.7,
            val: 0.2,
            test: 0.1,
        }
    }
}

impl SplitFractions {
    /// Check the fractions are usable.
    pub fn validate(&self) -> Result<()> {
        let all = [self.train, self.val, self.test];
        if all.iter().any(|f| !(0.0..=1.0).contains(f))
            || (all.iter().sum::<f64>() - 1.0).abs() > 1e-6
        {
            return Err(Error::invalid(format!(
                "split fractions must be in [0, 1] and sum to 1, got {all:?}"
            )));
        }
        Ok(())
    }

    /// How many of `n` items go to (val, test): rounded, and at least one each when `n ≥ 3`
    /// and the fraction is positive, so that a small stratum still reaches every split.
    fn held_out_counts(&self, n: usize) -> (usize, usize) {
        let at_least_one = |f: f64| {
            let c = (f * n as f64).round() as usize;
            if n >= 3 && f > 0.0 {
                c.max(1)
            } else {
                c
            }
        };
        let test = at_least_one(self.test).min(n);
        let val = at_least_one(self.val).min(n - test);
        (val, test)
    }

    /// Split `items` (already shuffled) in order: test first, then val, the rest train.
    fn assign<T: Copy>(&self, items: &[T]) -> Vec<(T, Split)> {
        let (val, test) = self.held_out_counts(items.len());
        items
            .iter()
            .enumerate()
            .map(|(i, &item)| {
                let split = if i < test {
                    Split::Test
                } else if i < test + val {
                    Split::Val
                } else {
                    Split::Train
                };
                (item, split)
            })
            .collect()
    }
}

/// Split studies, each with the labels of its kept slices, so that no study spans two splits.
///
/// Studies are stratified by their *rarest* label (rarity counted over all studies' slices),
/// each stratum is shuffled with `seed` and cut test → val → train, with at least one study per
/// split when the stratum has three or more: every class then reaches every split whenever at
/// least three studies carry it.
pub fn split_by_study(
    study_labels: &BTreeMap<u64, Vec<Severity>>,
    fractions: &SplitFractions,
    seed: u64,
) -> Result<HashMap<u64, Split>> {
    fractions.validate()?;
    let mut frequency: HashMap<Severity, usize> = HashMap::new();
    for labels in study_labels.values() {
        for &l in labels {
            *frequency.entry(l).or_default() += 1;
        }
    }
    let mut strata: BTreeMap<(usize, Option<Severity>), Vec<u64>> = BTreeMap::new();
    for (&study, labels) in study_labels {
        let present: BTreeSet<Severity> = labels.iter().copied().collect();
        let rarest = present.into_iter().min_by_key(|l| (frequency[l], *l));
        let rank = rarest.map(|l| frequency[&l]).unwrap_or(usize::MAX);
        strata.entry((rank, rarest)).or_default().push(study);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut result = HashMap::new();
    for studies in strata.values_mut() {
        studies.shuffle(&mut rng);
        result.extend(fractions.assign(studies));
    }
    Ok(result)
}

// ANCHOR: split_images
/// Split `n` images at the image level, as the notebook did after augmenting: shuffle the
/// indices with `seed`, then cut test → val → train. Returns the split of each index.
pub fn split_images(n: usize, fractions: &SplitFractions, seed: u64) -> Result<Vec<Split>> {
    fractions.validate()?;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut splits = vec![Split::Train; n];
    for (i, split) in fractions.assign(&order) {
        splits[i] = split;
    }
    Ok(splits)
}
// ANCHOR_END: split_images

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn study_split_has_every_class_everywhere_and_is_seeded() {
        let mut studies = BTreeMap::new();
        for s in 0..40u64 {
            let mut labels = vec![Severity::NormalMild; 4];
            if s % 8 == 0 {
                labels.push(Severity::Severe);
            } else if s % 5 == 0 {
                labels.push(Severity::Moderate);
            }
            studies.insert(s, labels);
        }
        let fractions = SplitFractions::default();
        let a = split_by_study(&studies, &fractions, 9).unwrap();
        assert_eq!(a, split_by_study(&studies, &fractions, 9).unwrap());
        assert_eq!(a.len(), 40);
        for split in Split::ALL {
            for class in Severity::ALL {
                assert!(
                    studies
                        .iter()
                        .any(|(s, l)| a[s] == split && l.contains(&class)),
                    "{class} missing from {split:?}"
                );
            }
        }
        let train = a.values().filter(|s| **s == Split::Train).count();
        assert!((24..=32).contains(&train), "train studies {train}");
    }

    #[test]
    fn image_split_proportions() {
        let splits = split_images(1000, &SplitFractions::default(), 1).unwrap();
        let count = |s| splits.iter().filter(|x| **x == s).count();
        assert_eq!(
            (count(Split::Train), count(Split::Val), count(Split::Test)),
            (700, 200, 100)
        );
        assert!(SplitFractions {
            train: 0.5,
            val: 0.2,
            test: 0.1
        }
        .validate()
        .is_err());
    }
}
