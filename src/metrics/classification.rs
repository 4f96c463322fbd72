//! The confusion matrix of a 3-class classifier and everything read off it: per-class
//! precision, recall, F1 and support, accuracy, macro and weighted averages (the article's
//! Table 4), printed like scikit-learn's `classification_report` or as a Markdown table.
//!
//! Conventions (the same as scikit-learn with `zero_division=0`):
//! - rows are the **actual** class, columns the **predicted** class;
//! - a ratio whose denominator is 0 is defined as **0** (precision of a class never predicted,
//!   recall of a class absent from the data, accuracy of an empty matrix);
//! - F1 is the harmonic mean `2·P·R / (P + R)`, and 0 when `P + R = 0`.

use super::{CLASS_NAMES, NUM_CLASSES};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};

/// A 3×3 table of counts: `counts[actual][predicted]`, in the class order of [`CLASS_NAMES`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// `counts[a][p]` = number of samples of actual class `a` predicted as class `p`.
    pub counts: [[usize; NUM_CLASSES]; NUM_CLASSES],
}

/// The confusion matrix printed in the authors' notebook (`ImageClassification.ipynb`), on
/// their 666-image test split: accuracy 548/666 ≈ 82.3 %.
pub const NOTEBOOK_CONFUSION: ConfusionMatrix = ConfusionMatrix {
    counts: [[189, 23, 12], [36, 163, 32], [11, 4, 196]],
};

/// The article's confusion matrix (Figure 7) on its 300-image test set (100 per class),
/// reconstructed from the text and Table 4: the Moderate row `[88, 11, 1]` is given; the
/// recalls 0.82 / 0.97 fix the diagonal; the precisions 0.95 / 0.85 / 0.87 then force the
/// column totals 93 / 96 / 111 (no other integers round to those values), which leaves exactly
/// one matrix. It reproduces every number of Table 4 and "267 out of 300".
pub const ARTICLE_CONFUSION: ConfusionMatrix = ConfusionMatrix {
    counts: [[88, 11, 1], [5, 82, 13], [0, 3, 97]],
};

/// Index of the largest of three probabilities; ties go to the lowest index (as NumPy's
/// `argmax`). The caller makes sure the values are finite
/// ([`predictions_from_probabilities`] checks it).
pub fn argmax(probabilities: &[f32; NUM_CLASSES]) -> usize {
    let mut best = 0;
    for class in 1..NUM_CLASSES {
        if probabilities[class] > probabilities[best] {
            best = class;
        }
    }
    best
}

/// The predicted class of every row of an `[N, 3]` probability table (argmax, ties to the
/// lowest index). Errors on a NaN or infinite value, naming its row.
///
/// From an `ndarray::Array2<f32>` of softmax outputs:
/// `probs.outer_iter().map(|r| [r[0], r[1], r[2]]).collect::<Vec<_>>()`.
pub fn predictions_from_probabilities(probabilities: &[[f32; NUM_CLASSES]]) -> Result<Vec<usize>> {
    probabilities
        .iter()
        .enumerate()
        .map(|(row, p)| {
            if p.iter().all(|v| v.is_finite()) {
                Ok(argmax(p))
            } else {
                Err(Error::invalid(format!(
                    "predictions_from_probabilities: row {row} holds a non-finite value {p:?}"
                )))
            }
        })
        .collect()
}

// ANCHOR: ratios
/// `numerator / denominator`, or 0 when the denominator is 0 (our 0/0 convention).
fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Harmonic mean of precision and recall, 0 when both are 0.
fn harmonic_mean(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}
// ANCHOR_END: ratios

impl ConfusionMatrix {
    /// A matrix from known counts (e.g. a published table).
    pub fn from_counts(counts: [[usize; NUM_CLASSES]; NUM_CLASSES]) -> Self {
        ConfusionMatrix { counts }
    }

    /// Count `(actual, predicted)` pairs. Both slices must have the same, non-zero length and
    /// hold class indices `< 3`; otherwise an error names the first offending position.
    pub fn from_labels(labels: &[usize], predictions: &[usize]) -> Result<Self> {
        if labels.len() != predictions.len() {
            return Err(Error::invalid(format!(
                "confusion matrix: {} labels but {} predictions",
                labels.len(),
                predictions.len()
            )));
        }
        if labels.is_empty() {
            return Err(Error::invalid(
                "confusion matrix: no samples to evaluate (empty label list)",
            ));
        }
        let mut counts = [[0usize; NUM_CLASSES]; NUM_CLASSES];
        for (i, (&actual, &predicted)) in labels.iter().zip(predictions).enumerate() {
            if actual >= NUM_CLASSES || predicted >= NUM_CLASSES {
                return Err(Error::invalid(format!(
                    "confusion matrix: sample {i} has label {actual} and prediction {predicted}; \
                     classes are 0..{NUM_CLASSES}"
                )));
            }
            counts[actual][predicted] += 1;
        }
        Ok(ConfusionMatrix { counts })
    }

    /// Like [`ConfusionMatrix::from_labels`], predicting each row's argmax (ties to the lowest
    /// index). `probabilities` is the `[N, 3]` softmax output, one row per sample.
    pub fn from_probabilities(
        labels: &[usize],
        probabilities: &[[f32; NUM_CLASSES]],
    ) -> Result<Self> {
        if labels.len() != probabilities.len() {
            return Err(Error::invalid(format!(
                "confusion matrix: {} labels but {} probability rows",
                labels.len(),
                probabilities.len()
            )));
        }
        Self::from_labels(labels, &predictions_from_probabilities(probabilities)?)
    }

    /// Number of samples (sum of all cells).
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Number of correctly classified samples (the trace).
    pub fn correct(&self) -> usize {
        (0..NUM_CLASSES).map(|c| self.counts[c][c]).sum()
    }

    /// Fraction of samples classified correctly, `trace / total` (0 for an empty matrix).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Samples per actual class (row sums) — scikit-learn's "support".
    pub fn supports(&self) -> [usize; NUM_CLASSES] {
        std::array::from_fn(|a| self.counts[a].iter().sum())
    }

    /// Samples per predicted class (column sums).
    pub fn predicted_totals(&self) -> [usize; NUM_CLASSES] {
        std::array::from_fn(|p| self.counts.iter().map(|row| row[p]).sum())
    }

    // ANCHOR: per_class
    /// Per class: of the samples predicted as this class, the fraction that truly are
    /// (`TP / column sum`; 0 if the class is never predicted).
    pub fn precisions(&self) -> [f64; NUM_CLASSES] {
        let predicted = self.predicted_totals();
        std::array::from_fn(|c| ratio(self.counts[c][c], predicted[c]))
    }

    /// Per class: of the samples of this class, the fraction found (`TP / row sum`; 0 if the
    /// class does not occur). Also called sensitivity.
    pub fn recalls(&self) -> [f64; NUM_CLASSES] {
        let support = self.supports();
        std::array::from_fn(|c| ratio(self.counts[c][c], support[c]))
    }

    /// Per class: harmonic mean of precision and recall (0 when both are 0).
    pub fn f1_scores(&self) -> [f64; NUM_CLASSES] {
        let (p, r) = (self.precisions(), self.recalls());
        std::array::from_fn(|c| harmonic_mean(p[c], r[c]))
    }

    /// Unweighted mean of the three per-class F1 scores.
    pub fn macro_f1(&self) -> f64 {
        self.f1_scores().iter().sum::<f64>() / NUM_CLASSES as f64
    }
    // ANCHOR_END: per_class

    /// Each row divided by its sum: `[a][p]` = fraction of actual class `a` predicted as `p`
    /// (the diagonal holds the recalls). A row with no samples stays all zero.
    pub fn row_normalized(&self) -> [[f64; NUM_CLASSES]; NUM_CLASSES] {
        let support = self.supports();
        std::array::from_fn(|a| std::array::from_fn(|p| ratio(self.counts[a][p], support[a])))
    }

    /// All metrics in one serialisable struct.
    pub fn report(&self) -> ClassificationReport {
        let (precision, recall, f1) = (self.precisions(), self.recalls(), self.f1_scores());
        let support = self.supports();
        let total = self.total();
        let classes: Vec<ClassMetrics> = (0..NUM_CLASSES)
            .map(|c| ClassMetrics {
                name: CLASS_NAMES[c].to_string(),
                precision: precision[c],
                recall: recall[c],
                f1: f1[c],
                support: support[c],
            })
            .collect();
        let mean = |values: &[f64; NUM_CLASSES]| values.iter().sum::<f64>() / NUM_CLASSES as f64;
        let weighted = |values: &[f64; NUM_CLASSES]| {
            if total == 0 {
                0.0
            } else {
                (0..NUM_CLASSES)
                    .map(|c| values[c] * support[c] as f64)
                    .sum::<f64>()
                    / total as f64
            }
        };
        ClassificationReport {
            classes,
            accuracy: self.accuracy(),
            correct: self.correct(),
            total,
            macro_avg: Averages {
                precision: mean(&precision),
                recall: mean(&recall),
                f1: mean(&f1),
                support: total,
            },
            weighted_avg: Averages {
                precision: weighted(&precision),
                recall: weighted(&recall),
                f1: weighted(&f1),
                support: total,
            },
            confusion: self.counts,
        }
    }

    /// The matrix as a Markdown table with class names, e.g. for `report.md`.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("| actual \\ predicted |");
        for name in CLASS_NAMES {
            let _ = write!(out, " {name} |");
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(NUM_CLASSES));
        out.push('\n');
        for (a, row) in self.counts.iter().enumerate() {
            let _ = write!(out, "| **{}** |", CLASS_NAMES[a]);
            for count in row {
                let _ = write!(out, " {count} |");
            }
            out.push('\n');
        }
        out
    }
}

/// Precision, recall, F1 and support of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class name from [`CLASS_NAMES`].
    pub name: String,
    /// `TP / predicted as this class` (0 if never predicted).
    pub precision: f64,
    /// `TP / actual members of this class` (0 if absent).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 if both are 0).
    pub f1: f64,
    /// Number of samples whose actual class is this one.
    pub support: usize,
}

/// An average of the per-class metrics over all classes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    /// Averaged precision.
    pub precision: f64,
    /// Averaged recall.
    pub recall: f64,
    /// Averaged F1 (for the macro average this is the macro-F1).
    pub f1: f64,
    /// Total number of samples.
    pub support: usize,
}

/// Everything the article's Table 4 shows, plus the averages scikit-learn prints; serialises
/// to JSON for `metrics.json`, prints like `sklearn.metrics.classification_report`
/// (`Display`, [`ClassificationReport::to_text`]) or as Markdown
/// ([`ClassificationReport::to_markdown`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// One entry per class, in the order of [`CLASS_NAMES`].
    pub classes: Vec<ClassMetrics>,
    /// `correct / total`.
    pub accuracy: f64,
    /// Correctly classified samples.
    pub correct: usize,
    /// All samples.
    pub total: usize,
    /// Unweighted mean over the classes ("macro avg").
    pub macro_avg: Averages,
    /// Mean over the classes weighted by support ("weighted avg").
    pub weighted_avg: Averages,
    /// The confusion matrix the numbers come from, `[actual][predicted]`.
    pub confusion: [[usize; NUM_CLASSES]; NUM_CLASSES],
}

impl ClassificationReport {
    /// A plain-text table in the layout of scikit-learn's `classification_report`, with
    /// `digits` decimals.
    pub fn to_text(&self, digits: usize) -> String {
        let width = self
            .classes
            .iter()
            .map(|c| c.name.len())
            .chain(["weighted avg".len(), digits])
            .max()
            .unwrap_or(0);
        let row = |name: &str, p: f64, r: f64, f: f64, s: usize| {
            format!("{name:>width$}  {p:>9.digits$} {r:>9.digits$} {f:>9.digits$} {s:>9}\n")
        };
        let mut out = format!(
            "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n\n",
            "", "precision", "recall", "f1-score", "support"
        );
        for c in &self.classes {
            out += &row(&c.name, c.precision, c.recall, c.f1, c.support);
        }
        out += &format!(
            "\n{:>width$}  {:>9} {:>9} {:>9.digits$} {:>9}\n",
            "accuracy", "", "", self.accuracy, self.total
        );
        let (m, w) = (&self.macro_avg, &self.weighted_avg);
        out += &row("macro avg", m.precision, m.recall, m.f1, m.support);
        out += &row("weighted avg", w.precision, w.recall, w.f1, w.support);
        out
    }

    /// A Markdown table (two decimals) with the accuracy and averages as the last rows.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(
            "| class | precision | recall | F1-score | support |\n|---|---:|---:|---:|---:|\n",
        );
        for c in &self.classes {
            let _ = writeln!(
                out,
                "| {} | {:.2} | {:.2} | {:.2} | {} |",
                c.name, c.precision, c.recall, c.f1, c.support
            );
        }
        let _ = writeln!(
            out,
            "| **accuracy** | | | {:.2} | {} |",
            self.accuracy, self.total
        );
        for (name, avg) in [
            ("macro avg", &self.macro_avg),
            ("weighted avg", &self.weighted_avg),
        ] {
            let _ = writeln!(
                out,
                "| {name} | {:.2} | {:.2} | {:.2} | {} |",
                avg.precision, avg.recall, avg.f1, avg.support
            );
        }
        out
    }
}

impl fmt::Display for ClassificationReport {
    /// The scikit-learn style table with two decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text(2))
    }
}
