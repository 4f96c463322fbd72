//! Confusion matrix, per-class metrics and the classification report, checked against
//! hand-computed examples (the notebook's and the article's matrices) and general properties.

use lumbar_cnn::metrics::{
    argmax, predictions_from_probabilities, ConfusionMatrix, ARTICLE_CONFUSION, CLASS_NAMES,
    NOTEBOOK_CONFUSION,
};
use proptest::prelude::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn notebook_matrix_by_hand() {
    // [[189, 23, 12], [36, 163, 32], [11, 4, 196]], rows = actual.
    // Row sums (support):  224, 231, 211 -> total 666 (not 665: 224 + 231 + 211 = 666).
    // Column sums:         189+36+11 = 236, 23+163+4 = 190, 12+32+196 = 240.
    // Trace: 189 + 163 + 196 = 548  -> accuracy 548/666 = 0.8228.
    let m = NOTEBOOK_CONFUSION;
    assert_eq!(m.total(), 666);
    assert_eq!(m.correct(), 548);
    assert!(close(m.accuracy(), 548.0 / 666.0));
    assert_eq!(m.supports(), [224, 231, 211]);
    assert_eq!(m.predicted_totals(), [236, 190, 240]);
    // precision = diagonal / column sum; recall = diagonal / row sum
    let p = m.precisions();
    let r = m.recalls();
    for (got, want) in p.iter().zip([189.0 / 236.0, 163.0 / 190.0, 196.0 / 240.0]) {
        assert!(close(*got, want), "precision {got} vs {want}");
    }
    for (got, want) in r.iter().zip([189.0 / 224.0, 163.0 / 231.0, 196.0 / 211.0]) {
        assert!(close(*got, want), "recall {got} vs {want}");
    }
    // F1 = 2·TP / (row + column): 378/460, 326/421, 392/451
    let f1 = m.f1_scores();
    for (got, want) in f1.iter().zip([378.0 / 460.0, 326.0 / 421.0, 392.0 / 451.0]) {
        assert!((got - want).abs() < 1e-12, "f1 {got} vs {want}");
    }
    let macro_f1 = (378.0 / 460.0 + 326.0 / 421.0 + 392.0 / 451.0) / 3.0;
    assert!(close(m.macro_f1(), macro_f1));
}

#[test]
fn article_matrix_reproduces_table_4() {
    // Table 4 of the article, two decimals: (precision, recall, F1) per class; 267/300 = 0.89.
    let table4 = [(0.95, 0.88, 0.91), (0.85, 0.82, 0.84), (0.87, 0.97, 0.92)];
    let report = ARTICLE_CONFUSION.report();
    assert_eq!(report.correct, 267);
    assert_eq!(report.total, 300);
    assert_eq!(format!("{:.2}", report.accuracy), "0.89");
    for (c, (p, r, f)) in report.classes.iter().zip(table4) {
        assert_eq!(c.support, 100);
        assert_eq!(
            format!("{:.2}", c.precision),
            format!("{p:.2}"),
            "{}",
            c.name
        );
        assert_eq!(format!("{:.2}", c.recall), format!("{r:.2}"), "{}", c.name);
        assert_eq!(format!("{:.2}", c.f1), format!("{f:.2}"), "{}", c.name);
    }
}

#[test]
fn perfect_predictor_scores_one_everywhere() {
    let labels = [0, 1, 2, 2, 1, 0, 1];
    let m = ConfusionMatrix::from_labels(&labels, &labels).unwrap();
    assert_eq!(m.counts, [[2, 0, 0], [0, 3, 0], [0, 0, 2]]);
    assert_eq!(m.accuracy(), 1.0);
    assert_eq!(m.precisions(), [1.0; 3]);
    assert_eq!(m.recalls(), [1.0; 3]);
    assert_eq!(m.f1_scores(), [1.0; 3]);
    assert_eq!(m.macro_f1(), 1.0);
}

#[test]
fn constant_predictor_uses_zero_for_zero_over_zero() {
    // Always "Normal/Mild" on 2 Moderate, 3 Normal/Mild, 1 Severe:
    // Normal/Mild: P = 3/6 = 0.5, R = 3/3 = 1, F1 = 2·0.5·1/1.5 = 2/3.
    // Moderate, Severe: never predicted -> P = 0/0 := 0; R = 0/2, 0/1 = 0; F1 = 0.
    let labels = [0, 0, 1, 1, 1, 2];
    let m = ConfusionMatrix::from_labels(&labels, &[1; 6]).unwrap();
    assert_eq!(m.accuracy(), 0.5);
    assert_eq!(m.precisions(), [0.0, 0.5, 0.0]);
    assert_eq!(m.recalls(), [0.0, 1.0, 0.0]);
    assert!(close(m.f1_scores()[1], 2.0 / 3.0));
    assert_eq!(m.f1_scores()[0], 0.0);
    assert!(close(m.macro_f1(), 2.0 / 9.0));
    let report = m.report();
    // weighted precision = (2·0 + 3·0.5 + 1·0) / 6 = 0.25
    assert!(close(report.weighted_avg.precision, 0.25));
    assert!(report.to_text(2).contains("0.00"));
}

#[test]
fn argmax_ties_go_to_the_lowest_index() {
    assert_eq!(argmax(&[0.4, 0.4, 0.2]), 0);
    assert_eq!(argmax(&[0.2, 0.4, 0.4]), 1);
    assert_eq!(argmax(&[1.0 / 3.0; 3]), 0);
    assert_eq!(argmax(&[0.1, 0.2, 0.7]), 2);
    let probs = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]];
    let m = ConfusionMatrix::from_probabilities(&[0, 1, 2], &probs).unwrap();
    assert_eq!(m.counts, [[1, 0, 0], [0, 0, 1], [0, 0, 1]]);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let mismatch = ConfusionMatrix::from_labels(&[0, 1], &[0]).unwrap_err();
    assert!(mismatch.to_string().contains("2 labels but 1 predictions"));
    let out_of_range = ConfusionMatrix::from_labels(&[0, 3], &[0, 1]).unwrap_err();
    assert!(out_of_range.to_string().contains("sample 1"));
    assert!(ConfusionMatrix::from_labels(&[], &[]).is_err());
    let nan = predictions_from_probabilities(&[[0.1, 0.2, 0.7], [f32::NAN, 0.5, 0.5]]);
    assert!(nan.unwrap_err().to_string().contains("row 1"));
    assert!(ConfusionMatrix::from_probabilities(&[0, 1], &[[0.5, 0.3, 0.2]]).is_err());
}

#[test]
fn text_report_has_sklearn_layout() {
    let text = NOTEBOOK_CONFUSION.report().to_text(2);
    let lines: Vec<&str> = text.lines().collect();
    // header, blank, 3 classes, blank, accuracy, macro avg, weighted avg
    assert_eq!(lines.len(), 9, "{text}");
    assert_eq!(
        lines[0],
        "              precision    recall  f1-score   support"
    );
    assert_eq!(lines[1], "");
    // 189/236 = 0.8008, 189/224 = 0.8438, 378/460 = 0.8217
    assert_eq!(
        lines[2],
        "    Moderate       0.80      0.84      0.82       224"
    );
    // 163/190 = 0.8579, 163/231 = 0.7056, 326/421 = 0.7743
    assert_eq!(
        lines[3],
        " Normal/Mild       0.86      0.71      0.77       231"
    );
    assert_eq!(
        lines[6],
        "    accuracy                           0.82       666"
    );
    assert!(lines[7].starts_with("   macro avg"));
    assert!(lines[8].starts_with("weighted avg"));
    assert_eq!(text, NOTEBOOK_CONFUSION.report().to_string());
}

#[test]
fn markdown_tables_have_one_row_per_class() {
    let md = ARTICLE_CONFUSION.report().to_markdown();
    assert!(md.starts_with("| class | precision | recall | F1-score | support |\n|---|"));
    assert!(
        md.contains("| Moderate | 0.95 | 0.88 | 0.91 | 100 |"),
        "{md}"
    );
    assert!(md.contains("| **accuracy** | | | 0.89 | 300 |"), "{md}");
    assert_eq!(md.lines().count(), 2 + 3 + 3);
    let cm = ARTICLE_CONFUSION.to_markdown();
    assert!(cm.contains("| **Moderate** | 88 | 11 | 1 |"), "{cm}");
    for name in CLASS_NAMES {
        assert!(cm.contains(name));
    }
}

#[test]
fn report_serialises_to_json() {
    let json = serde_json::to_value(ARTICLE_CONFUSION.report()).unwrap();
    assert_eq!(json["total"], 300);
    assert_eq!(json["classes"][2]["name"], "Severe");
    assert_eq!(json["confusion"][0][1], 11);
}

/// Random (labels, predictions) pairs of equal length 1..300.
fn pairs() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (1usize..300).prop_flat_map(|n| {
        (
            proptest::collection::vec(0usize..3, n),
            proptest::collection::vec(0usize..3, n),
        )
    })
}

proptest! {
    #[test]
    fn accuracy_is_trace_over_total((labels, preds) in pairs()) {
        let m = ConfusionMatrix::from_labels(&labels, &preds).unwrap();
        prop_assert_eq!(m.total(), labels.len());
        let hits = labels.iter().zip(&preds).filter(|(a, b)| a == b).count();
        prop_assert_eq!(m.correct(), hits);
        prop_assert!(close(m.accuracy(), hits as f64 / labels.len() as f64));
        // The support-weighted mean of the recalls is the accuracy.
        prop_assert!((m.report().weighted_avg.recall - m.accuracy()).abs() < 1e-12);
    }

    #[test]
    fn f1_lies_between_precision_and_recall((labels, preds) in pairs()) {
        let m = ConfusionMatrix::from_labels(&labels, &preds).unwrap();
        let (p, r, f) = (m.precisions(), m.recalls(), m.f1_scores());
        for c in 0..3 {
            prop_assert!(f[c] >= p[c].min(r[c]) - 1e-12 && f[c] <= p[c].max(r[c]) + 1e-12);
            prop_assert!((0.0..=1.0).contains(&p[c]) && (0.0..=1.0).contains(&r[c]));
        }
        prop_assert!((0.0..=1.0).contains(&m.macro_f1()));
    }

    #[test]
    fn rows_normalise_to_one((labels, preds) in pairs()) {
        let m = ConfusionMatrix::from_labels(&labels, &preds).unwrap();
        let support = m.supports();
        for (a, row) in m.row_normalized().iter().enumerate() {
            let sum: f64 = row.iter().sum();
            let want = if support[a] == 0 { 0.0 } else { 1.0 };
            prop_assert!((sum - want).abs() < 1e-12);
            prop_assert!(close(row[a], m.recalls()[a]));
        }
    }

    #[test]
    fn sample_order_does_not_matter((labels, preds) in pairs(), seed in any::<u64>()) {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let l2: Vec<usize> = order.iter().map(|&i| labels[i]).collect();
        let p2: Vec<usize> = order.iter().map(|&i| preds[i]).collect();
        prop_assert_eq!(
            ConfusionMatrix::from_labels(&labels, &preds).unwrap(),
            ConfusionMatrix::from_labels(&l2, &p2).unwrap()
        );
    }
}
