//! The clinical grade of central canal stenosis ([`Severity`]), decided by the dural-sac area.
//!
//! * **Normal/Mild** — area ≥ 100 mm²; **Moderate** — 75 to 100 mm²; **Severe** — < 75 mm²
//!   (Schönström & Hansson 1988; Hamanishi 1994).
//! * Per level, the area is drawn from a continuous, piecewise-linear density whose mass in each
//!   band equals the requested prevalence of that grade, and which is continuous at the
//!   thresholds (no gap or cliff at 75 or 100 mm²).
//! * The *recorded* label is what a grader sees: the area plus Gaussian misjudgement of
//!   `grader_sd_mm2`, graded by the same thresholds. Near a threshold graders disagree; far from
//!   it never. Because the density is continuous, as many Moderate levels are read Normal as the
//!   reverse, so the label counts keep the requested prevalence.
//! * The **Bayes accuracy** follows: given the true area, the best possible guess of the recorded
//!   label is the grade of the area, and it is right with probability `max_c P(label = c | area)`.

use crate::rsna::Severity;
use rand::Rng;

/// Dural-sac area (mm²) at and above which a level is Normal/Mild.
pub const NORMAL_MIN_AREA_MM2: f64 = 100.0;
/// Dural-sac area (mm²) below which a level is Severe.
pub const SEVERE_MAX_AREA_MM2: f64 = 75.0;
/// The smallest area the generator draws (a near-complete block of the canal).
pub const MIN_AREA_MM2: f64 = 35.0;
/// The largest area the generator draws (a capacious healthy sac).
pub const MAX_AREA_MM2: f64 = 230.0;
/// The most common healthy area (≈150 mm² at L4/5 in healthy adults).
pub const HEALTHY_MODE_MM2: f64 = 150.0;

// ANCHOR: from_area
/// The grade of a dural-sac area in mm² (the clinical criterion, without grader noise).
pub fn severity_of_area(area_mm2: f64) -> Severity {
    if area_mm2 >= NORMAL_MIN_AREA_MM2 {
        Severity::NormalMild
    } else if area_mm2 >= SEVERE_MAX_AREA_MM2 {
        Severity::Moderate
    } else {
        Severity::Severe
    }
}
// ANCHOR_END: from_area

/// Fractions of Normal/Mild, Moderate and Severe at one level, mildest first (indexed by
/// [`Severity::rank`]); they must sum to 1.
pub type Prevalence = [f64; 3];

/// Per-level prevalence of spinal canal stenosis (L1/L2 … L5/S1) in the RSNA 2024 training
/// labels: the counts of `train.csv` (Normal/Mild, Moderate, Severe among the studies with a
/// label at that level) divided by their total. Stenosis is commonest at L4/L5 and rare at
/// L1/L2 and L5/S1; over all levels 87.8 % Normal/Mild, 7.5 % Moderate, 4.8 % Severe.
pub const RSNA_PREVALENCE: [Prevalence; 5] = [
    [1886.0 / 1974.0, 67.0 / 1974.0, 21.0 / 1974.0],
    [1770.0 / 1974.0, 151.0 / 1974.0, 53.0 / 1974.0],
    [1622.0 / 1974.0, 230.0 / 1974.0, 122.0 / 1974.0],
    [1482.0 / 1974.0, 237.0 / 1974.0, 255.0 / 1974.0],
    [1904.0 / 1974.0, 51.0 / 1974.0, 19.0 / 1974.0],
];

/// The standard normal cumulative distribution function Φ(x) (Abramowitz–Stegun 7.1.26 via
/// erf, absolute error < 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

// ANCHOR: label_probabilities
/// Probability that a grader records each grade, mildest first (Normal/Mild, Moderate,
/// Severe; indexed by [`Severity::rank`]) for a sac of true area `area_mm2`, when the grader
/// misjudges the area by `N(0, sd²)`.
pub fn label_probabilities(area_mm2: f64, sd_mm2: f64) -> [f64; 3] {
    if sd_mm2 <= 0.0 {
        let mut p = [0.0; 3];
        p[severity_of_area(area_mm2).rank()] = 1.0;
        return p;
    }
    let normal = normal_cdf((area_mm2 - NORMAL_MIN_AREA_MM2) / sd_mm2);
    let severe = normal_cdf((SEVERE_MAX_AREA_MM2 - area_mm2) / sd_mm2);
    [normal, (1.0 - normal - severe).max(0.0), severe]
}
// ANCHOR_END: label_probabilities

/// Draw the label a grader records for a sac of area `area_mm2` (see [`label_probabilities`]).
pub fn sample_recorded_grade(area_mm2: f64, sd_mm2: f64, rng: &mut impl Rng) -> Severity {
    let perceived = area_mm2 + sd_mm2 * standard_normal(rng);
    severity_of_area(perceived)
}

/// One `N(0, 1)` draw (Box–Muller; two uniforms, so the stream is easy to follow).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A continuous, piecewise-linear probability density of the dural-sac area at one level,
/// whose mass in the Severe, Moderate and Normal/Mild bands equals the level's prevalence.
///
/// Nodes: 35 (density 0), the middle of the Severe band, 75, the middle of the Moderate band,
/// 100, 150 (the healthy mode) and 230 mm² (density 0). The densities at 75 and 100 are the
/// geometric means of the average densities of the bands they join, which keeps the density
/// continuous; each band's inner node is then solved for its mass.
#[derive(Clone, Debug)]
pub struct AreaDistribution {
    /// `(area mm², density)` nodes, ascending in area.
    nodes: Vec<(f64, f64)>,
    /// Cumulative mass at each node (same length as `nodes`, last = 1).
    cumulative: Vec<f64>,
}

impl AreaDistribution {
    /// Build the density for one level's prevalence `[normal, moderate, severe]`.
    pub fn new(prevalence: Prevalence) -> AreaDistribution {
        let [p_normal, p_moderate, p_severe] = prevalence;
        let (s_lo, s_hi) = (MIN_AREA_MM2, SEVERE_MAX_AREA_MM2);
        let (m_lo, m_hi) = (SEVERE_MAX_AREA_MM2, NORMAL_MIN_AREA_MM2);
        let (n_lo, n_mode, n_hi) = (NORMAL_MIN_AREA_MM2, HEALTHY_MODE_MM2, MAX_AREA_MM2);
        let mean_density = |mass: f64, lo: f64, hi: f64| mass / (hi - lo);
        let (avg_s, avg_m, avg_n) = (
            mean_density(p_severe, s_lo, s_hi),
            mean_density(p_moderate, m_lo, m_hi),
            mean_density(p_normal, n_lo, n_hi),
        );
        let d75 = (avg_s * avg_m).sqrt();
        let d100 = (avg_m * avg_n).sqrt();
        // Inner node height h of a band [lo, hi] with node at x, edges dl and dr, and given mass:
        // mass = (x − lo)(dl + h)/2 + (hi − x)(h + dr)/2.
        let inner = |mass: f64, lo: f64, x: f64, hi: f64, dl: f64, dr: f64| {
            ((2.0 * mass - (x - lo) * dl - (hi - x) * dr) / (hi - lo)).max(0.0)
        };
        let s_mid = 0.5 * (s_lo + s_hi);
        let m_mid = 0.5 * (m_lo + m_hi);
        let nodes = vec![
            (s_lo, 0.0),
            (s_mid, inner(p_severe, s_lo, s_mid, s_hi, 0.0, d75)),
            (s_hi, d75),
            (m_mid, inner(p_moderate, m_lo, m_mid, m_hi, d75, d100)),
            (m_hi, d100),
            (n_mode, inner(p_normal, n_lo, n_mode, n_hi, d100, 0.0)),
            (n_hi, 0.0),
        ];
        let mut cumulative = vec![0.0];
        for pair in nodes.windows(2) {
            let ((x0, d0), (x1, d1)) = (pair[0], pair[1]);
            let last = *cumulative.last().unwrap();
            cumulative.push(last + 0.5 * (x1 - x0) * (d0 + d1));
        }
        let total = *cumulative.last().unwrap();
        let nodes = nodes.into_iter().map(|(x, d)| (x, d / total)).collect();
        let cumulative = cumulative.into_iter().map(|c| c / total).collect();
        AreaDistribution { nodes, cumulative }
    }

    /// Probability density at `area_mm2` (per mm²).
    pub fn density(&self, area_mm2: f64) -> f64 {
        for pair in self.nodes.windows(2) {
            let ((x0, d0), (x1, d1)) = (pair[0], pair[1]);
            if area_mm2 >= x0 && area_mm2 <= x1 {
                return d0 + (d1 - d0) * (area_mm2 - x0) / (x1 - x0);
            }
        }
        0.0
    }

    /// Probability that the area falls in `[lo, hi)`.
    pub fn mass_between(&self, lo: f64, hi: f64) -> f64 {
        self.cdf(hi) - self.cdf(lo)
    }

    /// Cumulative distribution function.
    pub fn cdf(&self, area_mm2: f64) -> f64 {
        for (i, pair) in self.nodes.windows(2).enumerate() {
            let ((x0, d0), (x1, d1)) = (pair[0], pair[1]);
            if area_mm2 < x0 {
                return self.cumulative[i];
            }
            if area_mm2 <= x1 {
                let t = area_mm2 - x0;
                let slope = (d1 - d0) / (x1 - x0);
                return self.cumulative[i] + d0 * t + 0.5 * slope * t * t;
            }
        }
        1.0
    }

    /// Draw one area (mm²) by inverting the CDF inside the linear piece the uniform falls in.
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        let u: f64 = rng.random::<f64>();
        let i = self
            .cumulative
            .windows(2)
            .position(|c| u < c[1])
            .unwrap_or(self.nodes.len() - 2);
        let ((x0, d0), (x1, d1)) = (self.nodes[i], self.nodes[i + 1]);
        let remaining = u - self.cumulative[i];
        let slope = (d1 - d0) / (x1 - x0);
        // Solve d0·t + slope·t²/2 = remaining for t in [0, x1 − x0].
        let t = if slope.abs() < 1e-12 {
            if d0 > 0.0 {
                remaining / d0
            } else {
                0.0
            }
        } else {
            let disc = (d0 * d0 + 2.0 * slope * remaining).max(0.0);
            (disc.sqrt() - d0) / slope
        };
        (x0 + t.clamp(0.0, x1 - x0)).clamp(MIN_AREA_MM2, MAX_AREA_MM2)
    }
}

/// The best any model can do on labels drawn with grader noise: per-class recall ceilings and
/// accuracies, computed from the true areas of the labelled images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BayesCeiling {
    /// Expected accuracy of the Bayes classifier at the data's own class mix.
    pub accuracy: f64,
    /// Expected recall of the Bayes classifier per recorded grade, mildest first (Normal/Mild,
    /// Moderate, Severe; indexed by [`Severity::rank`]).
    pub recall: [f64; 3],
    /// Mean of the three recalls: the Bayes accuracy on a class-balanced test set.
    pub balanced_accuracy: f64,
}

/// Compute the [`BayesCeiling`] for images whose true sac areas are `areas_mm2`, labelled by
/// graders with misjudgement `sd_mm2`. The Bayes classifier predicts the grade with the largest
/// [`label_probabilities`]; it is right with that probability.
pub fn bayes_ceiling(areas_mm2: &[f64], sd_mm2: f64) -> BayesCeiling {
    let mut correct = 0.0;
    let mut expected_label = [0.0f64; 3];
    let mut correct_label = [0.0f64; 3];
    for &area in areas_mm2 {
        let p = label_probabilities(area, sd_mm2);
        let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
        correct += p[best];
        for c in 0..3 {
            expected_label[c] += p[c];
        }
        correct_label[best] += p[best];
    }
    let n = areas_mm2.len().max(1) as f64;
    let recall = std::array::from_fn(|c| {
        if expected_label[c] > 0.0 {
            correct_label[c] / expected_label[c]
        } else {
            1.0
        }
    });
    let recall: [f64; 3] = recall;
    BayesCeiling {
        accuracy: correct / n,
        recall,
        balanced_accuracy: recall.iter().sum::<f64>() / 3.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rsna_prevalence_matches_the_published_overall_mix() {
        let overall: Vec<f64> = (0..3)
            .map(|c| RSNA_PREVALENCE.iter().map(|p| p[c]).sum::<f64>() / 5.0)
            .collect();
        assert!((overall[0] - 0.878).abs() < 0.001, "{overall:?}");
        assert!((overall[1] - 0.075).abs() < 0.001, "{overall:?}");
        assert!((overall[2] - 0.048).abs() < 0.001, "{overall:?}");
    }

    #[test]
    fn degenerate_prevalences_still_give_a_valid_density() {
        for prevalence in [
            [1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 1.0, 0.0],
            [0.5, 0.0, 0.5],
        ] {
            let d = AreaDistribution::new(prevalence);
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            for _ in 0..2000 {
                let area = d.sample(&mut rng);
                let grade = severity_of_area(area);
                assert!(prevalence[grade.rank()] > 0.0, "{prevalence:?} drew {area}");
            }
        }
    }

    #[test]
    fn thresholds_follow_the_clinical_criterion() {
        assert_eq!(severity_of_area(150.0), Severity::NormalMild);
        assert_eq!(severity_of_area(100.0), Severity::NormalMild);
        assert_eq!(severity_of_area(99.9), Severity::Moderate);
        assert_eq!(severity_of_area(75.0), Severity::Moderate);
        assert_eq!(severity_of_area(74.9), Severity::Severe);
    }

    #[test]
    fn band_masses_equal_the_prevalence_and_density_is_continuous() {
        for prevalence in RSNA_PREVALENCE {
            let d = AreaDistribution::new(prevalence);
            let masses = [
                d.mass_between(NORMAL_MIN_AREA_MM2, MAX_AREA_MM2 + 1.0),
                d.mass_between(SEVERE_MAX_AREA_MM2, NORMAL_MIN_AREA_MM2),
                d.mass_between(0.0, SEVERE_MAX_AREA_MM2),
            ];
            for c in 0..3 {
                assert!(
                    (masses[c] - prevalence[c]).abs() < 1e-9,
                    "{masses:?} vs {prevalence:?}"
                );
            }
            for t in [SEVERE_MAX_AREA_MM2, NORMAL_MIN_AREA_MM2] {
                let (below, above) = (d.density(t - 1e-6), d.density(t + 1e-6));
                assert!((below - above).abs() < 1e-6 * (1.0 + above));
            }
        }
    }

    #[test]
    fn sampled_areas_and_noisy_labels_keep_the_prevalence() {
        let prevalence = RSNA_PREVALENCE[3];
        let d = AreaDistribution::new(prevalence);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let n = 200_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            let area = d.sample(&mut rng);
            counts[sample_recorded_grade(area, 3.0, &mut rng).rank()] += 1;
        }
        for c in 0..3 {
            let observed = counts[c] as f64 / n as f64;
            assert!(
                (observed - prevalence[c]).abs() < 0.006,
                "class {c}: {observed} vs {}",
                prevalence[c]
            );
        }
    }

    #[test]
    fn bayes_ceiling_is_one_without_noise_and_drops_with_it() {
        let areas: Vec<f64> = (0..200).map(|i| 40.0 + i as f64 * 0.8).collect();
        assert_eq!(bayes_ceiling(&areas, 0.0).accuracy, 1.0);
        let noisy = bayes_ceiling(&areas, 5.0);
        assert!(noisy.accuracy < 0.99 && noisy.accuracy > 0.8, "{noisy:?}");
        let noisier = bayes_ceiling(&areas, 10.0);
        assert!(noisier.accuracy < noisy.accuracy);
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
    }
}
