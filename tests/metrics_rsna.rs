//! The RSNA 2024 competition score, slice aggregation and the balanced test subset, checked
//! against hand-computed examples and general properties.

use lumbar_cnn::metrics::{
    aggregate_slice_predictions, balanced_subset, rsna_score, LevelPrediction, RSNA_CLASS_WEIGHTS,
};
use proptest::prelude::*;

fn row(study_id: u64, level: usize, label: usize, probs: [f32; 3]) -> LevelPrediction {
    LevelPrediction {
        study_id,
        level,
        label,
        probs,
    }
}

fn rel_close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1e-12)
}

#[test]
fn class_weights_follow_our_label_order() {
    // index 0 = Moderate (2), 1 = Normal/Mild (1), 2 = Severe (4)
    assert_eq!(RSNA_CLASS_WEIGHTS, [2.0, 1.0, 4.0]);
}

#[test]
fn hand_computed_two_studies() {
    let rows = [
        row(1, 0, 1, [0.1, 0.8, 0.1]),   // Normal/Mild, weight 1, p = 0.8
        row(1, 1, 2, [0.2, 0.3, 0.5]),   // Severe,      weight 4, p = 0.5
        row(2, 0, 0, [0.5, 0.25, 0.25]), // Moderate,    weight 2, p = 0.5
    ];
    let s = rsna_score(&rows).unwrap();
    // spinal: (1·(−ln 0.8) + 4·(−ln 0.5) + 2·(−ln 0.5)) / 7 = (0.22314 + 4.15888) / 7 = 0.62600
    let spinal = (-(0.8f64.ln()) - 6.0 * 0.5f64.ln()) / 7.0;
    assert!(rel_close(s.spinal_canal_log_loss, spinal), "{s:?}");
    assert!((s.spinal_canal_log_loss - 0.62600).abs() < 1e-5);
    // any severe: study 1 positive, weight max(1, 4) = 4, p = max(0.1, 0.5) = 0.5;
    //             study 2 negative, weight 2, p = 0.25 -> −ln 0.75.
    // (4·0.69315 + 2·0.28768) / 6 = 0.55799
    let any = (-4.0 * 0.5f64.ln() - 2.0 * 0.75f64.ln()) / 6.0;
    assert!(rel_close(s.any_severe_spinal_log_loss, any), "{s:?}");
    assert!((s.any_severe_spinal_log_loss - 0.55799).abs() < 1e-5);
    assert!(rel_close(s.score, (spinal + any) / 2.0));
    assert_eq!((s.levels, s.studies, s.studies_with_severe), (3, 2, 1));
}

#[test]
fn uniform_prediction_costs_ln3_per_level() {
    let third = 1.0 / 3.0;
    let rows: Vec<_> = (0..5)
        .map(|level| row(9, level, level % 3, [third; 3]))
        .chain((0..5).map(|level| row(10, level, 1, [third; 3])))
        .collect();
    let s = rsna_score(&rows).unwrap();
    assert!(rel_close(s.spinal_canal_log_loss, 3f64.ln()));
    // study 9 has Severe levels (weight 4, −ln 1/3); study 10 none (weight 1, −ln 2/3)
    let any = (4.0 * 3f64.ln() - (2.0f64 / 3.0).ln()) / 5.0;
    assert!(rel_close(s.any_severe_spinal_log_loss, any));
}

#[test]
fn perfect_prediction_scores_zero_and_certain_mistakes_stay_finite() {
    let labels = [1, 1, 0, 2, 1];
    let perfect: Vec<_> = labels
        .iter()
        .enumerate()
        .map(|(level, &label)| {
            let mut probs = [0.0; 3];
            probs[label] = 1.0;
            row(3, level, label, probs)
        })
        .collect();
    let s = rsna_score(&perfect).unwrap();
    assert!(s.score < 1e-12, "{s:?}");
    // Probability 0 on the true class is clipped to ε = 2.2e-16: loss −ln ε ≈ 36.04.
    let wrong = rsna_score(&[row(4, 0, 2, [1.0, 0.0, 0.0])]).unwrap();
    assert!((wrong.spinal_canal_log_loss - -(f64::EPSILON.ln())).abs() < 1e-6);
    assert!(wrong.score.is_finite());
}

#[test]
fn rows_are_clipped_then_renormalised_like_sklearn() {
    // [0.1, 0.1, 0.2] scores like [0.25, 0.25, 0.5] in the per-level term: −ln 0.25.
    let a = rsna_score(&[row(1, 0, 1, [0.1, 0.1, 0.2])]).unwrap();
    let b = rsna_score(&[row(1, 0, 1, [0.25, 0.25, 0.5])]).unwrap();
    assert!(rel_close(a.spinal_canal_log_loss, b.spinal_canal_log_loss));
    assert!(rel_close(a.spinal_canal_log_loss, 4f64.ln()));
    // Values above 1 are clipped to 1 − ε *before* renormalising: [2, 2, 4] is uniform.
    let c = rsna_score(&[row(1, 0, 1, [2.0, 2.0, 4.0])]).unwrap();
    assert!(rel_close(c.spinal_canal_log_loss, 3f64.ln()));
}

#[test]
fn no_severe_study_is_still_scored() {
    // scikit-learn refuses a binary log loss with a single class; the formula is defined.
    let s = rsna_score(&[row(1, 0, 1, [0.2, 0.7, 0.1]), row(2, 3, 0, [0.6, 0.2, 0.2])]).unwrap();
    // weights 1 (study 1: Normal/Mild only) and 2 (study 2: a Moderate level)
    let any = (-(0.9f64.ln()) - 2.0 * 0.8f64.ln()) / 3.0;
    assert!(rel_close(s.any_severe_spinal_log_loss, any), "{s:?}");
    assert_eq!(s.studies_with_severe, 0);
}

#[test]
fn bad_rows_are_errors() {
    let ok = [0.2, 0.3, 0.5];
    let msg = |rows: &[LevelPrediction]| rsna_score(rows).unwrap_err().to_string();
    assert!(msg(&[]).contains("no predictions"));
    assert!(msg(&[row(1, 5, 0, ok)]).contains("level 5"));
    assert!(msg(&[row(1, 0, 3, ok)]).contains("label 3"));
    assert!(msg(&[row(1, 0, 0, [-0.1, 0.6, 0.5])]).contains("non-negative"));
    assert!(msg(&[row(1, 0, 0, [f32::NAN, 0.6, 0.5])]).contains("finite"));
    assert!(msg(&[row(1, 2, 0, ok), row(1, 2, 0, ok)]).contains("appears twice"));
}

#[test]
fn slices_average_per_study_level() {
    let slices = [
        row(7, 2, 0, [0.2, 0.2, 0.6]),
        row(3, 4, 1, [0.1, 0.8, 0.1]),
        row(7, 2, 0, [0.4, 0.4, 0.2]),
        row(7, 1, 2, [0.0, 0.0, 1.0]),
    ];
    let levels = aggregate_slice_predictions(&slices).unwrap();
    let keys: Vec<_> = levels
        .iter()
        .map(|r| (r.study_id, r.level, r.label))
        .collect();
    assert_eq!(keys, [(3, 4, 1), (7, 1, 2), (7, 2, 0)]);
    for (got, want) in levels[2].probs.iter().zip([0.3, 0.3, 0.4]) {
        assert!((got - want).abs() < 1e-6, "{:?}", levels[2].probs);
    }
    assert_eq!(levels[0].probs, [0.1, 0.8, 0.1]);
    assert!(rsna_score(&levels).is_ok());

    let conflict = [row(7, 2, 0, [0.2, 0.2, 0.6]), row(7, 2, 1, [0.2, 0.2, 0.6])];
    let err = aggregate_slice_predictions(&conflict)
        .unwrap_err()
        .to_string();
    assert!(err.contains("labelled both"), "{err}");
    assert!(aggregate_slice_predictions(&[]).is_err());
    assert!(aggregate_slice_predictions(&[row(1, 0, 0, [f32::INFINITY, 0.0, 0.0])]).is_err());
}

#[test]
fn balanced_subset_takes_per_class_from_every_class() {
    // 2414 / 224 / 115 as in the article's data, interleaved.
    let labels: Vec<usize> = (0..2414)
        .map(|_| 1)
        .chain((0..224).map(|_| 0))
        .chain((0..115).map(|_| 2))
        .collect();
    let subset = balanced_subset(&labels, 100, 42).unwrap();
    assert_eq!(subset.len(), 300);
    assert!(
        subset.windows(2).all(|w| w[0] < w[1]),
        "sorted and distinct"
    );
    for class in 0..3 {
        assert_eq!(subset.iter().filter(|&&i| labels[i] == class).count(), 100);
    }
    assert_eq!(subset, balanced_subset(&labels, 100, 42).unwrap());
    assert_ne!(subset, balanced_subset(&labels, 100, 43).unwrap());
    assert!(balanced_subset(&labels, 0, 1).unwrap().is_empty());

    let err = balanced_subset(&labels, 116, 42).unwrap_err().to_string();
    assert!(err.contains("class 2 (Severe) has only 115"), "{err}");
    assert!(balanced_subset(&[0, 1, 3], 1, 0).is_err());
}

/// A random valid set of level rows: up to 12 studies × 5 levels, random labels and probs.
fn level_rows() -> impl Strategy<Value = Vec<LevelPrediction>> {
    proptest::collection::vec(
        (
            0usize..3,
            proptest::array::uniform3(0.001f32..1.0),
            any::<bool>(),
        ),
        1..60,
    )
    .prop_map(|cells| {
        cells
            .into_iter()
            .enumerate()
            .filter(|(_, (_, _, keep))| *keep)
            .map(|(i, (label, probs, _))| row(i as u64 / 5, i % 5, label, probs))
            .collect()
    })
    .prop_filter("at least one row", |rows: &Vec<_>| !rows.is_empty())
}

proptest! {
    #[test]
    fn score_ignores_row_order_and_is_non_negative(rows in level_rows(), seed in any::<u64>()) {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let a = rsna_score(&rows).unwrap();
        let mut shuffled = rows.clone();
        shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let b = rsna_score(&shuffled).unwrap();
        prop_assert!((a.score - b.score).abs() < 1e-12);
        prop_assert!(a.spinal_canal_log_loss >= 0.0 && a.any_severe_spinal_log_loss >= 0.0);
        prop_assert!((a.score - (a.spinal_canal_log_loss + a.any_severe_spinal_log_loss) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn one_slice_per_level_aggregates_to_itself(rows in level_rows()) {
        let mut sorted = rows.clone();
        sorted.sort_by_key(|r| (r.study_id, r.level));
        prop_assert_eq!(aggregate_slice_predictions(&rows).unwrap(), sorted);
    }
}
