//! Chapter 9 of the book: every layer's backward pass compared with centred finite differences,
//! a deliberately broken batch norm being caught, and how the error depends on the step h.
//!
//! `cargo run --release --example 09_gradient_check`
//! (figures: `book/src/figures/09-relative-errors.png`, `book/src/figures/09-step-size.png`;
//! `LUMBAR_BOOK_TINY=1` checks fewer entries and writes the figures to a temporary folder).

use lumbar_cnn::book_examples::{announce, figure_path, tiny};
use lumbar_cnn::gradcheck::{
    away_from_zero, check_layer, distinct_values, numeric_gradient, random_normal, relative_error,
    CheckOptions, GradCheckReport,
};
use lumbar_cnn::nn::*;
use lumbar_cnn::plot::bar_chart::{save_bar_chart, Bar, BarChart};
use lumbar_cnn::plot::line_chart::{save_line_chart, Line, LineChart};
use lumbar_cnn::plot::PALETTE;
use lumbar_cnn::Result;
use ndarray::IxDyn;
use plotters::prelude::SeriesLabelPosition;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The tolerance of the tests in `tests/layer_gradients.rs`.
const TOLERANCE: f64 = 1e-2;

// ANCHOR: forgetful_batch_norm
/// A batch norm (γ = 1, β = 0) with the classic bug: its backward treats the batch mean and
/// variance as constants, `dx = dy/√(σ² + ε)`, forgetting that they depend on every `x`.
struct ForgetfulBatchNorm {
    inv_std: Vec<f32>,
}

impl Layer for ForgetfulBatchNorm {
    fn name(&self) -> &str {
        "forgetful_bn"
    }
    fn kind(&self) -> &'static str {
        "BrokenBatchNorm"
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
    fn forward(&mut self, x: &Tensor, _mode: Pass) -> Result<Tensor> {
        // The same forward as BatchNorm in train mode, for a [M, C] input.
        let mean = x.mean_axis(ndarray::Axis(0)).unwrap();
        let var = x.var_axis(ndarray::Axis(0), 0.0);
        self.inv_std = var.iter().map(|v| 1.0 / (v + 1e-3).sqrt()).collect();
        let mut y = x - &mean;
        for mut row in y.rows_mut() {
            row.iter_mut().zip(&self.inv_std).for_each(|(v, s)| *v *= s);
        }
        Ok(y)
    }
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let mut dx = dy.clone();
        for mut row in dx.rows_mut() {
            row.iter_mut().zip(&self.inv_std).for_each(|(v, s)| *v *= s); // the bug
        }
        Ok(dx)
    }
}
// ANCHOR_END: forgetful_batch_norm

/// Standard-normal values times `scale`, clipped to ±3·scale.
fn gaussian(shape: &[usize], scale: f32, rng: &mut StdRng) -> Tensor {
    random_normal(shape, rng).mapv(|v| (v * scale).clamp(-3.0 * scale, 3.0 * scale))
}

fn print_report(layer: &str, report: &GradCheckReport) {
    for c in &report.comparisons {
        let verdict = if c.relative_error < TOLERANCE {
            "ok"
        } else {
            "WRONG"
        };
        println!(
            "{layer:<22}{:<26}{:>12.2e}{:>9}   {verdict}",
            c.name, c.relative_error, c.entries_checked
        );
    }
}

fn main() -> Result<()> {
    let options = CheckOptions {
        max_entries: if tiny() { 8 } else { 64 },
        ..CheckOptions::default()
    };
    let mut rng = StdRng::seed_from_u64(9);
    println!(
        "{:<22}{:<26}{:>12}{:>9}",
        "layer", "gradient", "rel. error", "entries"
    );
    let mut worst: Vec<(&str, f64)> = Vec::new();
    let mut check = |label: &'static str, layer: &mut dyn Layer, x: &Tensor, mode| -> Result<()> {
        let report = check_layer(layer, x, mode, &options)?;
        print_report(label, &report);
        worst.push((label, report.worst()));
        Ok(())
    };

    // ANCHOR: check_layers
    let mut dense = Dense::new("dense", 5, 4, &mut rng);
    let x = gaussian(&[3, 5], 1.0, &mut rng);
    check("Dense", &mut dense, &x, Pass::Train { step: 0 })?;

    let mut conv = Conv2d::new("conv2d", (3, 3), 2, 3, Padding::Same, &mut rng);
    let x = gaussian(&[2, 5, 5, 2], 1.0, &mut rng);
    check("Conv2D", &mut conv, &x, Pass::Train { step: 0 })?;

    let mut x = gaussian(&[4, 6], 1.0, &mut rng);
    away_from_zero(&mut x, 0.05); // no value within 5 steps of the kink at 0
    check("ReLU", &mut Relu::new("re_lu"), &x, Pass::Train { step: 0 })?;

    let mut bn = BatchNorm::new("batch_normalization", 3);
    bn.params_mut()[0].value = Tensor::from_elem(IxDyn(&[3]), 1.5); // γ away from 1
    let x = gaussian(&[2, 3, 3, 3], 2.0, &mut rng);
    check("BN (train)", &mut bn, &x, Pass::Train { step: 0 })?;
    let x = gaussian(&[2, 3, 3, 3], 2.0, &mut rng);
    check("BN (eval)", &mut bn, &x, Pass::Eval)?;

    let mut pool = MaxPool2d::new("max_pooling2d");
    let x = distinct_values(&[2, 4, 4, 2], 0.05, &mut rng); // no ties in a window
    check("MaxPool", &mut pool, &x, Pass::Train { step: 0 })?;

    let mut dropout = Dropout::new("dropout", 0.5, 3)?; // fixed seed and step: a fixed mask
    let x = gaussian(&[4, 6], 1.0, &mut rng);
    check("Dropout", &mut dropout, &x, Pass::Train { step: 0 })?;

    let x = gaussian(&[2, 3, 3, 2], 1.0, &mut rng);
    check(
        "Flatten",
        &mut Flatten::new("flatten"),
        &x,
        Pass::Train { step: 0 },
    )?;
    // ANCHOR_END: check_layers

    // The loss is not a Layer (it takes labels): check it with numeric_gradient directly.
    let logits = gaussian(&[4, 3], 2.0, &mut rng);
    let labels = [0usize, 2, 1, 1];
    let mut loss = SoftmaxCrossEntropy::new();
    loss.forward(&logits, &labels)?;
    let analytic: Vec<f64> = loss.backward()?.iter().map(|&v| v as f64).collect();
    let every: Vec<usize> = (0..logits.len()).collect();
    let numeric = numeric_gradient(
        &mut |z: &[f32]| {
            let z = Tensor::from_shape_vec(IxDyn(&[4, 3]), z.to_vec()).unwrap();
            Ok(loss.forward(&z, &labels)? as f64)
        },
        logits.as_slice().unwrap(),
        &every,
        options.step,
    )?;
    let ce_error = relative_error(&analytic, &numeric);
    println!(
        "{:<22}{:<26}{:>12.2e}{:>9}   ok",
        "SoftmaxCrossEntropy",
        "logits",
        ce_error,
        every.len()
    );
    worst.push(("Softmax CE", ce_error));

    println!("\nThe deliberately broken batch norm:");
    let x = gaussian(&[6, 3], 2.0, &mut rng);
    let mut broken = ForgetfulBatchNorm { inv_std: vec![] };
    let report = check_layer(&mut broken, &x, Pass::Train { step: 0 }, &options)?;
    print_report("ForgetfulBatchNorm", &report);
    worst.push(("broken BN", report.worst()));

    let bars = worst
        .iter()
        .map(|&(label, error)| Bar {
            label: label.replace(" (", "\n(").replace(' ', "\n"),
            value: error.max(1e-16), // an exact 0 is drawn at 1e-16
            color: if error < TOLERANCE {
                PALETTE[0]
            } else {
                PALETTE[3]
            },
        })
        .collect();
    let path = figure_path("09-relative-errors.png");
    save_bar_chart(
        &path,
        &BarChart {
            title: "Worst relative error of each layer's gradients (h = 0.01)",
            y_desc: "relative error (log scale)",
            bars,
            log_y: true,
            value_format: |v| {
                if v <= 1e-16 {
                    "0".to_string()
                } else {
                    format!("{v:.0e}")
                }
            },
            reference: Some((TOLERANCE, "test tolerance 1e-2".to_string())),
        },
    )?;
    announce(&path);
    step_size_figure()
}

/// The relative error of batch norm's input gradient as the step h goes from 1e-6 to 1:
/// rounding error (∝ 1/h) on the left, truncation error (∝ h²) on the right.
fn step_size_figure() -> Result<()> {
    let exponents: Vec<f64> = if tiny() {
        vec![-4.0, -2.0, 0.0]
    } else {
        (0..=24).map(|i| -6.0 + 0.25 * i as f64).collect()
    };
    let mut rng = StdRng::seed_from_u64(99);
    let x = gaussian(&[4, 2], 1.0, &mut rng);
    let mut points = Vec::new();
    println!("\nBatch norm input gradient, relative error against the step h:");
    for e in exponents {
        let h = 10f64.powf(e);
        let mut bn = BatchNorm::new("batch_normalization", 2);
        let options = CheckOptions {
            step: h as f32,
            max_entries: 64,
            seed: 5,
        };
        let error = check_layer(&mut bn, &x, Pass::Train { step: 0 }, &options)?.comparisons[0]
            .relative_error;
        if (e * 4.0).round() as i64 % 4 == 0 {
            println!("  h = 1e{e:<3}  relative error {error:.2e}");
        }
        points.push((h, error.max(1e-12)));
    }
    let line = Line::new("batch norm dL/dx, f32 layer, f64 sums", points, PALETTE[0]);
    let path = figure_path("09-step-size.png");
    save_line_chart(
        &path,
        &LineChart {
            log_x: true,
            log_y: true,
            legend: SeriesLabelPosition::LowerLeft,
            marker: Some((1e-2, "h = 0.01 (our default)".to_string())),
            ..LineChart::new(
                "Finite differences: the step h must be neither too small nor too large",
                "step h",
                "relative error",
                vec![line],
            )
        },
    )?;
    announce(&path);
    Ok(())
}
