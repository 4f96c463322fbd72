//! Confidence intervals for test metrics by a **bootstrap over studies** (Efron & Tibshirani,
//! *An Introduction to the Bootstrap*, 1993, chapters 6 and 13: the nonparametric bootstrap and
//! its percentile interval).
//!
//! A test split of a dozen studies gives numbers that move a lot from one split to the next.
//! The bootstrap estimates how much: it treats the test studies as a sample of all patients,
//! draws new test splits from that sample — `n` studies **with replacement** out of the `n`
//! test studies, so a study may come twice and another not at all — computes the metric on
//! each drawn split, and reads the interval off the spread of those values. The 95 %
//! *percentile interval* runs from the 2.5th to the 97.5th percentile of the resampled values.
//!
//! **Why studies, not slices.** The slices of one study are not independent: they show the same
//! patient, often the same disc from a few millimetres apart, and share one label per level. A
//! network that misreads a patient misreads several of its slices at once. Resampling single
//! slices would pretend that a test split of 13 studies holds 300 independent observations and
//! give intervals that are far too narrow. Resampling whole studies — every slice of a drawn
//! study comes along — keeps that correlation inside each draw, as the real split did.
//!
//! Each draw becomes its own pseudo-study, numbered by its position in the resample
//! ([`StudyRow::with_study_id`]): a study drawn twice counts as two patients, which is what a
//! study-level metric (the RSNA score's "any severe" term) must see.
//!
//! **Undefined values.** A metric may have no value on some resample — the recall of Severe
//! when no drawn study has a Severe slice. Such resamples are skipped for that metric alone, and
//! [`Interval::resamples_used`] says how many were left. With fewer than
//! [`MIN_RESAMPLES_FOR_INTERVAL`] values no interval is given. With a single test study there
//! is nothing to resample, and [`bootstrap_over_studies`] refuses.
//!
//! **Reproducible.** Resample `i` draws from its own generator, seeded by
//! [`path_seed`]`(seed, [i])`, so the same seed gives the same intervals whatever the order or
//! the number of threads.

use crate::error::{Error, Result};
use crate::seed::path_seed;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Resamples drawn by default: enough that the 2.5th and 97.5th percentiles each rest on 25
/// values, and fast (a test split of 300 slices takes well under a second).
pub const DEFAULT_RESAMPLES: usize = 1000;

/// Fewest resampled values a 95 % percentile interval is read from: below 40 (= 1 / 0.025) the
/// outer 2.5 % on either side holds less than one value, and the interval is just the extremes.
pub const MIN_RESAMPLES_FOR_INTERVAL: usize = 40;

/// Lower and upper percentile of the 95 % interval.
const PERCENTILES: (f64, f64) = (0.025, 0.975);

/// A row of test data that belongs to one study: a slice with its true and predicted class.
pub trait StudyRow: Clone {
    /// The study (patient) the row belongs to.
    fn study_id(&self) -> u64;
    /// The same row assigned to another study; a resample numbers its draws this way.
    fn with_study_id(&self, study_id: u64) -> Self;
}

impl StudyRow for super::LevelPrediction {
    fn study_id(&self) -> u64 {
        self.study_id
    }
    fn with_study_id(&self, study_id: u64) -> Self {
        super::LevelPrediction { study_id, ..*self }
    }
}

/// How to bootstrap: how many resamples, from which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapSettings {
    /// Number of resampled test splits ([`DEFAULT_RESAMPLES`]).
    pub resamples: usize,
    /// Seed of the resampling; resample `i` uses `path_seed(seed, [i])`.
    pub seed: u64,
}

/// A 95 % percentile interval of one metric.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// 2.5th percentile of the resampled values.
    pub low: f64,
    /// 97.5th percentile of the resampled values.
    pub high: f64,
    /// Resamples on which the metric was defined, out of all drawn.
    pub resamples_used: usize,
}

impl Interval {
    /// Whether `value` lies inside the interval (ends included).
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// The `p`-quantile (`0 ≤ p ≤ 1`) of ascending `sorted` values by linear interpolation between
/// order statistics — NumPy's default `percentile` method (`linear`, Hyndman & Fan type 7):
/// position `h = (n − 1)·p`, value `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`. `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * p.clamp(0.0, 1.0);
    let below = (h.floor() as usize).min(last);
    let above = (below + 1).min(last);
    Some(sorted[below] + (h - below as f64) * (sorted[above] - sorted[below]))
}

/// The 95 % percentile interval of the defined values among `values`, out of however many
/// resamples were drawn; `None` with fewer than [`MIN_RESAMPLES_FOR_INTERVAL`] defined values.
pub fn percentile_interval(values: &[Option<f64>]) -> Option<Interval> {
    let mut defined: Vec<f64> = values.iter().flatten().copied().collect();
    if defined.len() < MIN_RESAMPLES_FOR_INTERVAL {
        return None;
    }
    defined.sort_by(f64::total_cmp);
    Some(Interval {
        low: percentile(&defined, PERCENTILES.0)?,
        high: percentile(&defined, PERCENTILES.1)?,
        resamples_used: defined.len(),
    })
}

/// The rows of each study, in ascending study order.
fn rows_by_study<R: StudyRow>(rows: &[R]) -> Vec<Vec<R>> {
    let mut studies: BTreeMap<u64, Vec<R>> = BTreeMap::new();
    for row in rows {
        studies.entry(row.study_id()).or_default().push(row.clone());
    }
    studies.into_values().collect()
}

/// Resample `index` of `settings`: which of the `studies` studies (`0..studies`, in ascending
/// study order) each of the `studies` draws picks.
pub fn resample_draws(studies: usize, settings: &BootstrapSettings, index: usize) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(path_seed(settings.seed, &[index as u64]));
    (0..studies).map(|_| rng.random_range(0..studies)).collect()
}

/// Every metric on every resample: `values[k][i]` is metric `k` on resample `i` (`None` where
/// undefined).
///
/// `metrics` computes all metrics at once from one resampled set of rows, returning the same
/// number of values each time (`None` for an undefined one). Errors on no rows, fewer than two
/// studies (nothing to resample), zero resamples, an error of `metrics`, a non-finite value, or
/// a resample that returns a different number of values.
pub fn bootstrap_values<R, F>(
    rows: &[R],
    settings: &BootstrapSettings,
    metrics: F,
) -> Result<Vec<Vec<Option<f64>>>>
where
    R: StudyRow,
    F: Fn(&[R]) -> Result<Vec<Option<f64>>>,
{
    let studies = rows_by_study(rows);
    if studies.len() < 2 {
        return Err(Error::invalid(format!(
            "bootstrap over studies: {} test {} — at least 2 are needed to resample",
            studies.len(),
            if studies.len() == 1 {
                "study"
            } else {
                "studies"
            }
        )));
    }
    if settings.resamples == 0 {
        return Err(Error::invalid("bootstrap over studies: 0 resamples asked"));
    }
    let mut values: Vec<Vec<Option<f64>>> = Vec::new();
    let mut resample = Vec::with_capacity(rows.len() * 2);
    for index in 0..settings.resamples {
        resample.clear();
        for (draw, &study) in resample_draws(studies.len(), settings, index)
            .iter()
            .enumerate()
        {
            resample.extend(studies[study].iter().map(|r| r.with_study_id(draw as u64)));
        }
        let got = metrics(&resample)?;
        if index == 0 {
            values = vec![Vec::with_capacity(settings.resamples); got.len()];
        }
        if got.len() != values.len() {
            return Err(Error::invalid(format!(
                "bootstrap over studies: resample {index} gave {} metric values, the first gave {}",
                got.len(),
                values.len()
            )));
        }
        for (k, value) in got.into_iter().enumerate() {
            if let Some(v) = value.filter(|v| !v.is_finite()) {
                return Err(Error::invalid(format!(
                    "bootstrap over studies: metric {k} is {v} on resample {index}"
                )));
            }
            values[k].push(value);
        }
    }
    Ok(values)
}

/// The 95 % percentile interval of every metric of `metrics` (see [`bootstrap_values`] for
/// its contract and errors), in the order `metrics` returns them; `None` for a metric defined
/// on fewer than [`MIN_RESAMPLES_FOR_INTERVAL`] resamples.
pub fn bootstrap_over_studies<R, F>(
    rows: &[R],
    settings: &BootstrapSettings,
    metrics: F,
) -> Result<Vec<Option<Interval>>>
where
    R: StudyRow,
    F: Fn(&[R]) -> Result<Vec<Option<f64>>>,
{
    Ok(bootstrap_values(rows, settings, metrics)?
        .iter()
        .map(|values| percentile_interval(values))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row: (study, correct?).
    #[derive(Clone, Debug)]
    struct Row {
        study: u64,
        correct: bool,
    }

    impl StudyRow for Row {
        fn study_id(&self) -> u64 {
            self.study
        }
        fn with_study_id(&self, study: u64) -> Self {
            Row { study, ..*self }
        }
    }

    /// `slices` rows per study, study `s` correct iff `correct(s)`.
    fn rows(studies: u64, slices: usize, correct: impl Fn(u64) -> bool) -> Vec<Row> {
        (0..studies)
            .flat_map(|study| {
                std::iter::repeat_n(
                    Row {
                        study,
                        correct: correct(study),
                    },
                    slices,
                )
            })
            .collect()
    }

    fn accuracy(rows: &[Row]) -> Result<Vec<Option<f64>>> {
        let correct = rows.iter().filter(|r| r.correct).count();
        Ok(vec![Some(correct as f64 / rows.len() as f64)])
    }

    const SETTINGS: BootstrapSettings = BootstrapSettings {
        resamples: DEFAULT_RESAMPLES,
        seed: 7,
    };

    #[test]
    fn percentiles_match_numpy_linear() {
        // np.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]:
        // h = 3·0.025 = 0.075 → 1 + 0.075·1; h = 1.5 → 2.5; h = 2.925 → 3 + 0.925·1.
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile(&x, 0.025).unwrap() - 1.075).abs() < 1e-12);
        assert!((percentile(&x, 0.5).unwrap() - 2.5).abs() < 1e-12);
        assert!((percentile(&x, 0.975).unwrap() - 3.925).abs() < 1e-12);
        assert_eq!(percentile(&[5.0], 0.975), Some(5.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn identical_studies_give_a_zero_width_interval() {
        // Every study: 3 correct slices and 1 wrong; every resample has accuracy 0.75.
        let rows: Vec<Row> = (0..8)
            .flat_map(|study| {
                (0..4).map(move |i| Row {
                    study,
                    correct: i < 3,
                })
            })
            .collect();
        let interval = bootstrap_over_studies(&rows, &SETTINGS, accuracy).unwrap()[0].unwrap();
        assert_eq!((interval.low, interval.high), (0.75, 0.75));
        assert_eq!(interval.resamples_used, DEFAULT_RESAMPLES);
    }

    #[test]
    fn whole_studies_are_resampled_not_slices() {
        // Two studies of 10 slices, one all right, one all wrong. Drawing 2 studies with
        // replacement gives accuracy 1 (both draws the right study), 0.5 or 0 with
        // probabilities 1/4, 1/2, 1/4, so the 95 % interval is [0, 1]. Resampling the 20 slices
        // instead would give an interval of about 0.5 ± 0.22.
        let rows = rows(2, 10, |s| s == 0);
        let values = &bootstrap_values(&rows, &SETTINGS, accuracy).unwrap()[0];
        let share = |v: f64| values.iter().filter(|x| **x == Some(v)).count() as f64 / 1000.0;
        // Binomial(1000, 1/4) has standard deviation 0.0137: ±0.06 is over 4 of them.
        assert!((share(1.0) - 0.25).abs() < 0.06, "{}", share(1.0));
        assert!((share(0.5) - 0.5).abs() < 0.06, "{}", share(0.5));
        assert!((share(0.0) - 0.25).abs() < 0.06, "{}", share(0.0));
        let interval = percentile_interval(values).unwrap();
        assert_eq!((interval.low, interval.high), (0.0, 1.0));
    }

    #[test]
    fn the_interval_is_the_percentiles_of_the_resamples_drawn() {
        // Study s has accuracy s/9 (every study 9 slices); a resample's accuracy is then the
        // mean of its draws' s/9, computed here directly from the draws.
        let rows: Vec<Row> = (0..10u64)
            .flat_map(|study| {
                (0..9).map(move |i| Row {
                    study,
                    correct: i < study,
                })
            })
            .collect();
        let settings = BootstrapSettings {
            resamples: 200,
            seed: 11,
        };
        let mut direct: Vec<f64> = (0..200)
            .map(|i| {
                let draws = resample_draws(10, &settings, i);
                draws.iter().map(|&s| s.min(9) as f64 / 9.0).sum::<f64>() / 10.0
            })
            .collect();
        direct.sort_by(f64::total_cmp);
        let interval = bootstrap_over_studies(&rows, &settings, accuracy).unwrap()[0].unwrap();
        assert!((interval.low - percentile(&direct, 0.025).unwrap()).abs() < 1e-12);
        assert!((interval.high - percentile(&direct, 0.975).unwrap()).abs() < 1e-12);
        // The point estimate, 0.5, lies inside; the interval is neither empty nor everything.
        assert!(interval.contains(0.5), "{interval:?}");
        assert!(interval.low > 0.2 && interval.high < 0.8, "{interval:?}");
        // Each draw picks studies uniformly: over 200·10 draws every study turns up.
        let mut seen = [0usize; 10];
        for i in 0..200 {
            for s in resample_draws(10, &settings, i) {
                seen[s] += 1;
            }
        }
        assert!(seen.iter().all(|&n| (140..=260).contains(&n)), "{seen:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_interval_and_another_seed_another() {
        let rows = rows(13, 5, |s| s % 3 != 0);
        let a = bootstrap_over_studies(&rows, &SETTINGS, accuracy).unwrap();
        let b = bootstrap_over_studies(&rows, &SETTINGS, accuracy).unwrap();
        assert_eq!(a, b);
        let other = BootstrapSettings {
            seed: 8,
            ..SETTINGS
        };
        let va = bootstrap_values(&rows, &SETTINGS, accuracy).unwrap();
        let vb = bootstrap_values(&rows, &other, accuracy).unwrap();
        assert_ne!(va, vb);
    }

    #[test]
    fn a_resample_gets_one_pseudo_study_per_draw() {
        // Whatever the studies drawn, the resample holds draws 0..n, each with all its slices.
        let rows = rows(5, 3, |_| true);
        let check = |resample: &[Row]| {
            let mut ids: Vec<u64> = resample.iter().map(|r| r.study).collect();
            ids.dedup();
            assert_eq!(ids, vec![0, 1, 2, 3, 4]);
            assert_eq!(resample.len(), 15);
            Ok(vec![Some(1.0)])
        };
        bootstrap_values(&rows, &SETTINGS, check).unwrap();
    }

    #[test]
    fn undefined_values_are_skipped_and_counted() {
        // "Recall of the wrong slices' class": undefined when no drawn study is study 0.
        // P(study 0 missing from 4 draws of 4) = (3/4)⁴ ≈ 0.32.
        let rows = rows(4, 2, |s| s != 0);
        let metric = |rows: &[Row]| -> Result<Vec<Option<f64>>> {
            let wrong = rows.iter().filter(|r| !r.correct).count();
            Ok(vec![(wrong > 0).then_some(1.0), None])
        };
        let intervals = bootstrap_over_studies(&rows, &SETTINGS, metric).unwrap();
        let used = intervals[0].unwrap().resamples_used;
        assert!((600..=760).contains(&used), "{used}");
        assert_eq!(intervals[1], None, "never defined: no interval");
    }

    #[test]
    fn too_few_studies_or_bad_metrics_are_errors_not_panics() {
        let one = rows(1, 4, |_| true);
        let error = bootstrap_over_studies(&one, &SETTINGS, accuracy).unwrap_err();
        assert!(error.to_string().contains("1 test study"), "{error}");
        let none: Vec<Row> = Vec::new();
        assert!(bootstrap_over_studies(&none, &SETTINGS, accuracy).is_err());
        let two = rows(2, 1, |_| true);
        let zero = BootstrapSettings {
            resamples: 0,
            ..SETTINGS
        };
        assert!(bootstrap_over_studies(&two, &zero, accuracy).is_err());
        let nan = |_: &[Row]| Ok(vec![Some(f64::NAN)]);
        let error = bootstrap_over_studies(&two, &SETTINGS, nan).unwrap_err();
        assert!(error.to_string().contains("NaN"), "{error}");
        // A metric that returns one value on the first resample and two afterwards.
        let calls = std::cell::Cell::new(0usize);
        let ragged = |_: &[Row]| {
            let n = calls.get();
            calls.set(n + 1);
            Ok(vec![None; 1 + usize::from(n > 0)])
        };
        let error = bootstrap_over_studies(&two, &SETTINGS, ragged).unwrap_err();
        assert!(
            error.to_string().contains("gave 2 metric values"),
            "{error}"
        );
    }
}
