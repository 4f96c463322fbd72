//! Chapter 6 of the book: a dense layer, a ReLU and softmax cross-entropy on two samples of three
//! features, forward and backward, computed by the library and checked against the numbers the
//! chapter computes by hand.
//!
//! `cargo run --release --example 06_dense_relu_softmax`
//! (figure: `book/src/figures/06-softmax-loss.png`; `LUMBAR_BOOK_TINY=1` writes it to a
//! temporary folder instead).

use lumbar_cnn::book_examples::{announce, figure_path, tiny};
use lumbar_cnn::nn::{softmax, Dense, Layer, Pass, Relu, SoftmaxCrossEntropy, Tensor};
use lumbar_cnn::plot::line_chart::{save_line_chart, Line, LineChart};
use lumbar_cnn::plot::PALETTE;
use lumbar_cnn::{Error, Result};
use ndarray::{array, ArrayD};
use rand::rngs::StdRng;
use rand::SeedableRng;

// ANCHOR: hand_numbers
/// The numbers of the chapter's hand computation, rounded to 4 decimals.
const HAND_Z: [[f32; 3]; 2] = [[2.0, 0.25, -2.5], [-2.25, -0.25, 2.0]];
const HAND_P: [[f32; 3]; 2] = [[0.7639, 0.1327, 0.1034], [0.1065, 0.1065, 0.7870]];
const HAND_LOSS: f32 = 1.2544;
const HAND_DW: [[f32; 3]; 3] = [
    [-0.1181, 0.0664, 0.0],
    [-0.2361, 0.1327, -0.3935],
    [0.1181, -0.0664, 0.7870],
];
const HAND_DB: [f32; 3] = [-0.1181, 0.0664, 0.3935];
const HAND_DX: [[f32; 3]; 2] = [[-0.1254, 0.0037, 0.1181], [0.0, -0.1967, 0.3935]];
// ANCHOR_END: hand_numbers

/// Fail with a clear message if the library's `got` differs from the hand value by more than
/// the rounding of the hand computation.
fn agrees(what: &str, got: &ArrayD<f32>, hand: &[f32]) -> Result<()> {
    let worst = got
        .iter()
        .zip(hand)
        .map(|(g, h)| (g - h).abs())
        .fold(0.0f32, f32::max);
    if got.len() != hand.len() || worst > 1e-4 {
        return Err(Error::invalid(format!(
            "{what}: the library gives {got:.4}, the hand computation {hand:?}"
        )));
    }
    println!("{what:<10} matches the hand computation (largest difference {worst:.1e})");
    Ok(())
}

fn main() -> Result<()> {
    // ANCHOR: forward_backward
    // Two samples (rows) of three features, and their classes.
    let x: Tensor = array![[1.0, 2.0, -1.0], [0.0, -1.0, 2.0]].into_dyn();
    let labels = [0usize, 1];

    // A dense layer 3 → 3 with the chapter's weights instead of random ones.
    let mut dense = Dense::new("dense", 3, 3, &mut StdRng::seed_from_u64(0));
    dense.params_mut()[0].value =
        array![[0.5, -1.0, 0.0], [0.25, 0.5, -0.5], [-1.0, 0.0, 1.0]].into_dyn();
    dense.params_mut()[1].value = array![0.0, 0.25, -0.5].into_dyn();
    let mut relu = Relu::new("re_lu");
    let mut loss_fn = SoftmaxCrossEntropy::new();

    // Forward: z = x·W + b, h = max(0, z), L = mean of −ln softmax(h)[label].
    let z = dense.forward(&x, Pass::Train { step: 0 })?;
    let h = relu.forward(&z, Pass::Train { step: 0 })?;
    let loss = loss_fn.forward(&h, &labels)?;

    // Backward: the same chain, last layer first.
    let dh = loss_fn.backward()?;
    let dz = relu.backward(&dh)?;
    let dx = dense.backward(&dz)?;
    // ANCHOR_END: forward_backward

    println!("x  =\n{x}\nlabels = {labels:?}\n");
    println!("z = x·W + b =\n{z:.4}\nh = ReLU(z) =\n{h:.4}");
    println!("p = softmax(h) =\n{:.4}", softmax(&h)?);
    println!("loss L = {loss:.4}\n");
    println!("dL/dh = (p − onehot)/N =\n{dh:.4}\ndL/dz =\n{dz:.4}");
    let params = dense.params();
    println!(
        "dL/dW =\n{:.4}\ndL/db = {:.4}",
        params[0].grad, params[1].grad
    );
    println!("dL/dx =\n{dx:.4}\n");

    agrees("z", &z, HAND_Z.as_flattened())?;
    agrees("p", &softmax(&h)?.into_dyn(), HAND_P.as_flattened())?;
    agrees("loss", &ndarray::arr0(loss).into_dyn(), &[HAND_LOSS])?;
    agrees("dL/dW", &params[0].grad, HAND_DW.as_flattened())?;
    agrees("dL/db", &params[1].grad, &HAND_DB)?;
    agrees("dL/dx", &dx, HAND_DX.as_flattened())?;

    softmax_figure()
}

/// The figure: softmax probabilities of three classes, and the cross-entropy for class 0, as
/// the first logit z₀ moves while z₁ = 0.5 and z₂ = −0.5 stay put; sampled every 0.01 so that
/// the smooth curves are drawn smooth.
fn softmax_figure() -> Result<()> {
    let steps = if tiny() { 81 } else { 801 };
    let mut curves: Vec<Vec<(f64, f64)>> = vec![Vec::new(); 4];
    let mut loss_fn = SoftmaxCrossEntropy::new();
    for i in 0..steps {
        let z0 = -3.0 + 8.0 * i as f32 / (steps - 1) as f32;
        let logits: Tensor = array![[z0, 0.5, -0.5]].into_dyn();
        let p = softmax(&logits)?;
        for k in 0..3 {
            curves[k].push((z0 as f64, p[[0, k]] as f64));
        }
        curves[3].push((z0 as f64, loss_fn.forward(&logits, &[0])? as f64));
    }
    let names = [
        "p₀ (class 0)",
        "p₁ (z₁ = 0.5)",
        "p₂ (z₂ = −0.5)",
        "loss −ln p₀ (label 0)",
    ];
    let lines = curves
        .into_iter()
        .zip(names)
        .enumerate()
        .map(|(k, (points, name))| {
            let line = Line::new(name, points, PALETTE[k]);
            if k == 3 {
                line.dashed()
            } else {
                line
            }
        })
        .collect();
    // Probabilities and the loss are ≥ 0: the y axis starts at 0.
    let chart = LineChart::new(
        "Softmax probabilities and cross-entropy as z₀ varies",
        "logit z₀",
        "probability / loss",
        lines,
    );
    let path = figure_path("06-softmax-loss.png");
    save_line_chart(&path, &chart)?;
    announce(&path);
    Ok(())
}
