//! K-Means clustering, written out: k-means++ seeding, then Lloyd iterations.
//!
//! Points are the rows of an `[n, d]` array (we use `d = 1`, slice positions in mm, but
//! nothing here depends on that). One `u64` seed fixes the result.
//!
//! 1. **k-means++ seeding** (Arthur & Vassilvitskii 2007): the first centre is a uniformly
//!    random point; each next centre is a point drawn with probability proportional to its
//!    squared distance to the nearest centre chosen so far, which spreads the centres out.
//! 2. **Lloyd iterations**: assign every point to its nearest centre, move every centre to
//!    the mean of its points; repeat until no assignment changes (or `max_iterations`).
//! 3. **Restarts**: Lloyd only finds a local optimum, so [`kmeans_restarts`] runs the whole
//!    thing several times and keeps the lowest inertia.

use crate::error::{Error, Result};
use crate::seed::stream_seed;
use ndarray::{Array2, ArrayView1, ArrayView2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The result of a K-Means fit.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// Cluster centres, `[k, d]`.
    pub centres: Array2<f64>,
    /// For every point (row of the input), the index of its cluster in `0..k`.
    pub assignment: Vec<usize>,
    /// Sum over points of the squared distance to their centre (the quantity Lloyd lowers).
    pub inertia: f64,
    /// Lloyd iterations run until convergence (or the limit).
    pub iterations: usize,
}

/// Squared Euclidean distance between two points.
fn squared_distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Index of the centre nearest to `point` and the squared distance to it (ties: lowest index).
fn nearest_centre(point: ArrayView1<f64>, centres: &Array2<f64>) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, centre) in centres.rows().into_iter().enumerate() {
        let d = squared_distance(point, centre);
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

// ANCHOR: seed_centres
/// k-means++ seeding: `k` initial centres chosen among the points (see the module doc).
fn seed_centres(points: ArrayView2<f64>, k: usize, rng: &mut StdRng) -> Array2<f64> {
    let n = points.nrows();
    let mut centres = Array2::zeros((k, points.ncols()));
    let first = rng.random_range(0..n);
    centres.row_mut(0).assign(&points.row(first));
    // Squared distance of every point to its nearest centre so far.
    let mut nearest: Vec<f64> = points
        .rows()
        .into_iter()
        .map(|p| squared_distance(p, centres.row(0)))
        .collect();
    for c in 1..k {
        let total: f64 = nearest.iter().sum();
        let chosen = if total > 0.0 {
            // Draw an index with probability nearest[i] / total.
            let mut target = rng.random::<f64>() * total;
            let mut chosen = n - 1;
            for (i, &d) in nearest.iter().enumerate() {
                if target < d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            // Every point already sits on a centre: any point will do.
            rng.random_range(0..n)
        };
        centres.row_mut(c).assign(&points.row(chosen));
        for (i, p) in points.rows().into_iter().enumerate() {
            nearest[i] = nearest[i].min(squared_distance(p, centres.row(c)));
        }
    }
    centres
}
// ANCHOR_END: seed_centres

/// Cluster the rows of `points` (`[n, d]`) into `k` clusters with k-means++ seeding and Lloyd
/// iterations (at most `max_iterations`), all random choices drawn from `seed`.
///
/// Errors if `k == 0`, if there are fewer points than `k`, or if a coordinate is not finite.
/// A cluster that loses all its points keeps its previous centre.
pub fn kmeans(
    points: ArrayView2<f64>,
    k: usize,
    seed: u64,
    max_iterations: usize,
) -> Result<KMeansFit> {
    let n = points.nrows();
    if k == 0 || n < k {
        return Err(Error::invalid(format!(
            "K-Means needs at least k points and k ≥ 1 (k = {k}, points = {n})"
        )));
    }
    if points.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "K-Means: a point has a non-finite coordinate",
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut centres = seed_centres(points, k, &mut rng);
    // ANCHOR: lloyd
    let mut assignment = vec![usize::MAX; n];
    let mut iterations = 0;
    while iterations < max_iterations {
        iterations += 1;
        // Assignment step.
        let mut changed = false;
        for (i, p) in points.rows().into_iter().enumerate() {
            let (j, _) = nearest_centre(p, &centres);
            if assignment[i] != j {
                assignment[i] = j;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        // Update step: each centre moves to the mean of its points.
        let mut sums = Array2::<f64>::zeros(centres.dim());
        let mut counts = vec![0usize; k];
        for (i, p) in points.rows().into_iter().enumerate() {
            let mut row = sums.row_mut(assignment[i]);
            row += &p;
            counts[assignment[i]] += 1;
        }
        for (j, &count) in counts.iter().enumerate() {
            if count > 0 {
                let mean = &sums.row(j) / count as f64;
                centres.row_mut(j).assign(&mean);
            }
        }
    }
    // ANCHOR_END: lloyd
    let inertia = points
        .rows()
        .into_iter()
        .zip(&assignment)
        .map(|(p, &j)| squared_distance(p, centres.row(j)))
        .sum();
    Ok(KMeansFit {
        centres,
        assignment,
        inertia,
        iterations,
    })
}

/// Run [`kmeans`] `restarts` times (sub-seeds derived from `seed`) and keep the fit with the
/// lowest inertia. One run can end in a poor local optimum when two seeds land in the same
/// cluster; scikit-learn's `n_init` does the same.
pub fn kmeans_restarts(
    points: ArrayView2<f64>,
    k: usize,
    seed: u64,
    max_iterations: usize,
    restarts: usize,
) -> Result<KMeansFit> {
    let mut best: Option<KMeansFit> = None;
    for r in 0..restarts.max(1) {
        let fit = kmeans(points, k, stream_seed(seed, r as u64), max_iterations)?;
        if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
            best = Some(fit);
        }
    }
    Ok(best.expect("at least one run"))
}

/// Restarts used by [`kmeans_1d`].
pub const RESTARTS_1D: usize = 10;

/// [`kmeans_restarts`] on scalars (`d = 1`, e.g. slice positions in mm) with
/// [`RESTARTS_1D`] restarts.
pub fn kmeans_1d(values: &[f64], k: usize, seed: u64, max_iterations: usize) -> Result<KMeansFit> {
    let points = ndarray::ArrayView2::from_shape((values.len(), 1), values)
        .map_err(|e| Error::invalid(e.to_string()))?;
    kmeans_restarts(points, k, seed, max_iterations, RESTARTS_1D)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Three tight 2-D blobs far apart, points interleaved.
    fn blobs() -> (Array2<f64>, Vec<usize>) {
        let centres = [[0.0, 0.0], [50.0, 10.0], [-20.0, 80.0]];
        let mut rng = StdRng::seed_from_u64(7);
        let mut rows = Vec::new();
        let mut truth = Vec::new();
        for i in 0..60 {
            let c = i % 3;
            rows.push(centres[c][0] + rng.random_range(-1.0..1.0));
            rows.push(centres[c][1] + rng.random_range(-1.0..1.0));
            truth.push(c);
        }
        (Array2::from_shape_vec((60, 2), rows).unwrap(), truth)
    }

    #[test]
    fn recovers_well_separated_clusters() {
        let (points, truth) = blobs();
        for seed in 0..10 {
            let fit = kmeans(points.view(), 3, seed, 100).unwrap();
            // Same partition as the truth, up to renaming the clusters.
            for i in 0..60 {
                for j in 0..60 {
                    assert_eq!(
                        truth[i] == truth[j],
                        fit.assignment[i] == fit.assignment[j],
                        "seed {seed}: points {i} and {j}"
                    );
                }
            }
            assert!(fit.inertia < 60.0 * 2.0, "inertia {}", fit.inertia);
        }
    }

    #[test]
    fn deterministic_per_seed() {
        let (points, _) = blobs();
        let a = kmeans(points.view(), 4, 42, 100).unwrap();
        let b = kmeans(points.view(), 4, 42, 100).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn one_dimensional_centres_are_the_means() {
        let values = [1.0, 2.0, 3.0, 101.0, 102.0, 103.0];
        let fit = kmeans_1d(&values, 2, 3, 100).unwrap();
        let mut centres: Vec<f64> = fit.centres.column(0).to_vec();
        centres.sort_by(f64::total_cmp);
        assert_eq!(centres, vec![2.0, 102.0]);
        assert_eq!(fit.assignment[0], fit.assignment[2]);
        assert_ne!(fit.assignment[0], fit.assignment[3]);
    }

    #[test]
    fn restarts_never_do_worse_than_one_run() {
        // Five tight groups: a single run sometimes merges two of them.
        let values: Vec<f64> = (0..5)
            .flat_map(|c| (0..3).map(move |i| 40.0 * c as f64 + i as f64))
            .collect();
        let points = ndarray::ArrayView2::from_shape((15, 1), &values).unwrap();
        let optimum = 5.0 * 2.0; // each group of 3 around its mean: 1 + 0 + 1
        for seed in 0..50 {
            let best = kmeans_restarts(points, 5, seed, 100, 10).unwrap();
            assert!(
                (best.inertia - optimum).abs() < 1e-9,
                "seed {seed}: {}",
                best.inertia
            );
        }
    }

    #[test]
    fn rejects_too_few_points_and_nan() {
        assert!(kmeans(array![[1.0], [2.0]].view(), 3, 0, 10).is_err());
        assert!(kmeans(array![[1.0], [f64::NAN]].view(), 1, 0, 10).is_err());
    }
}
