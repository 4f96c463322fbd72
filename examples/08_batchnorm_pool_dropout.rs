//! Chapter 8 of the book: batch normalisation (and the gap between its training and evaluation
//! behaviour while the running statistics catch up), max pooling and dropout, on numbers small
//! enough to follow by hand.
//!
//! `cargo run --release --example 08_batchnorm_pool_dropout`
//! (figure: `book/src/figures/08-bn-running-stats.png`; `LUMBAR_BOOK_TINY=1` runs fewer steps
//! and writes the figure to a temporary folder instead).

use lumbar_cnn::book_examples::{announce, figure_path, tiny};
use lumbar_cnn::nn::batch_norm::{BN_EPSILON, BN_MOMENTUM};
use lumbar_cnn::nn::{BatchNorm, Dropout, Layer, MaxPool2d, Pass, Tensor};
use lumbar_cnn::plot::line_chart::{save_line_chart, Line, LineChart};
use lumbar_cnn::plot::PALETTE;
use lumbar_cnn::Result;
use ndarray::{array, Array2, IxDyn};
use plotters::prelude::SeriesLabelPosition;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

fn main() -> Result<()> {
    batch_norm_by_hand()?;
    max_pool_by_hand()?;
    dropout_statistics()?;
    running_statistics_figure()
}

/// One feature, four samples: the numbers of the chapter's worked example.
fn batch_norm_by_hand() -> Result<()> {
    println!("== Batch normalisation, one feature, a batch of four ==");
    let mut bn = BatchNorm::new("batch_normalization", 1);
    let x: Tensor = array![[1.0], [2.0], [3.0], [6.0]].into_dyn();
    let y = bn.forward(&x, Pass::Train { step: 0 })?;
    println!("x = {:?}", x.iter().collect::<Vec<_>>());
    println!("train mode: μ = 3, σ² = 3.5, y = (x − μ)/√(σ² + {BN_EPSILON}) =");
    println!("  {:.4}", y.clone().into_shape_with_order(4).unwrap());
    println!(
        "running mean {:.4} (= 0.99·0 + 0.01·3), running variance {:.4} (= 0.99·1 + 0.01·3.5)",
        bn.moving_mean()[0],
        bn.moving_variance()[0]
    );
    let y_eval = bn.forward(&x, Pass::Eval)?;
    println!(
        "eval mode on the same batch uses the running statistics instead:\n  {:.4}",
        y_eval.into_shape_with_order(4).unwrap()
    );
    let dy: Tensor = array![[1.0], [0.0], [0.0], [0.0]].into_dyn();
    bn.forward(&x, Pass::Train { step: 0 })?;
    let dx = bn.backward(&dy)?;
    println!(
        "backward (train) of dy = [1, 0, 0, 0]: dx = {:.4}  (sums to {:.1e}: the mean was subtracted)\n",
        dx.clone().into_shape_with_order(4).unwrap(),
        dx.sum()
    );
    Ok(())
}

/// A 4×4 single-channel image pooled to 2×2, and the gradient routed back to the winners.
fn max_pool_by_hand() -> Result<()> {
    println!("== Max pooling 2×2, stride 2 ==");
    let image = Array2::from_shape_vec(
        (4, 4),
        vec![
            1.0, 3.0, 2.0, 0.0, //
            4.0, 2.0, 1.0, 5.0, //
            0.0, 1.0, 7.0, 2.0, //
            6.0, 2.0, 3.0, 1.0,
        ],
    )
    .unwrap();
    let x = image
        .clone()
        .into_shape_with_order((1, 4, 4, 1))
        .unwrap()
        .into_dyn();
    let mut pool = MaxPool2d::new("max_pooling2d");
    let y = pool.forward(&x, Pass::Train { step: 0 })?;
    let dy: Tensor = array![10.0, 20.0, 30.0, 40.0]
        .into_shape_with_order(IxDyn(&[1, 2, 2, 1]))
        .unwrap();
    let dx = pool.backward(&dy)?;
    println!("x =\n{image}");
    println!("y =\n{}", y.into_shape_with_order((2, 2)).unwrap());
    println!("dy = [[10, 20], [30, 40]] goes to the winners:");
    println!("dx =\n{}\n", dx.into_shape_with_order((4, 4)).unwrap());
    Ok(())
}

/// Dropout at rate 0.5 on 10,000 ones: about half survive, scaled by 2, so the mean stays 1.
fn dropout_statistics() -> Result<()> {
    println!("== Inverted dropout, rate 0.5 ==");
    let x = Tensor::ones(IxDyn(&[100, 100]));
    let mut dropout = Dropout::new("dropout", 0.5, 42)?;
    let y = dropout.forward(&x, Pass::Train { step: 0 })?;
    let kept = y.iter().filter(|&&v| v != 0.0).count();
    println!(
        "train: {kept} of 10000 kept, each worth {}; mean of y = {:.4} (mean of x = 1)",
        y.iter().copied().fold(0.0f32, f32::max),
        y.mean().unwrap()
    );
    let again = dropout.forward(&x, Pass::Train { step: 0 })?;
    let next = dropout.forward(&x, Pass::Train { step: 1 })?;
    println!(
        "same step → same mask: {}; next step → a new mask: {}",
        again == y,
        next != y
    );
    let eval = dropout.forward(&x, Pass::Eval)?;
    println!("eval: identity: {}\n", eval == x);
    Ok(())
}

// ANCHOR: running_statistics
/// Feed batches of 32 values from N(5, 2²) to a fresh batch norm in train mode, and after every
/// step look at what eval mode makes of a fixed probe batch from the same distribution.
/// Train mode always outputs mean 0 and standard deviation 1; eval mode only does once the
/// running statistics have caught up with the data.
fn running_statistics_figure() -> Result<()> {
    let steps = if tiny() { 50 } else { 1000 };
    let mut rng = StdRng::seed_from_u64(8);
    let data = Normal::new(5.0f32, 2.0).unwrap();
    let mut batch = |n: usize| Tensor::from_shape_fn(IxDyn(&[n, 1]), |_| data.sample(&mut rng));
    let probe = batch(256);
    let mut bn = BatchNorm::new("batch_normalization", 1);
    let (mut eval_mean, mut eval_std, mut train_mean) = (Vec::new(), Vec::new(), Vec::new());
    // PyTorch's rule, simulated on the same batches: momentum 0.1 weights the *new* value,
    // the running variance is the unbiased one, ε = 1e-5.
    let (mut torch_mean, mut torch_var, mut torch_eval_mean) = (0.0f64, 1.0f64, Vec::new());
    let probe_mean = probe.mean().unwrap() as f64;
    for step in 1..=steps {
        let x = batch(32);
        let y_train = bn.forward(&x, Pass::Train { step: 0 })?;
        let y_eval = bn.forward(&probe, Pass::Eval)?;
        train_mean.push((step as f64, y_train.mean().unwrap() as f64));
        eval_mean.push((step as f64, y_eval.mean().unwrap() as f64));
        eval_std.push((step as f64, y_eval.std(0.0) as f64));
        let (mu, unbiased_var) = (x.mean().unwrap() as f64, x.var(1.0) as f64);
        torch_mean = 0.9 * torch_mean + 0.1 * mu;
        torch_var = 0.9 * torch_var + 0.1 * unbiased_var;
        let y = (probe_mean - torch_mean) / (torch_var + 1e-5).sqrt();
        torch_eval_mean.push((step as f64, y));
    }
    // ANCHOR_END: running_statistics
    for &step in &[1usize, 10, 100, 230, 460, 1000] {
        if step <= steps {
            println!(
                "step {step:>4}: eval-mode output mean {:+.3}, std {:.3}   (train mode: mean {:+.3})",
                eval_mean[step - 1].1,
                eval_std[step - 1].1,
                train_mean[step - 1].1
            );
        }
    }
    // Where the running mean is 99 % of the way: momentum^t = 0.01.
    let caught_up = (0.01f64.ln() / (BN_MOMENTUM as f64).ln()).ceil();
    println!("0.99^t < 0.01 from t = {caught_up} steps on");
    println!(
        "PyTorch-style momentum (0.9 on the old value): within 1 % after {} steps",
        (0.01f64.ln() / 0.9f64.ln()).ceil()
    );
    let line = |label: &str, points, k: usize, dashed| Line {
        label: label.to_string(),
        points,
        color: PALETTE[k],
        dashed,
    };
    let path = figure_path("08-bn-running-stats.png");
    save_line_chart(
        &path,
        &LineChart {
            title: "Batch norm: eval mode catches up with train mode",
            x_desc: "training step",
            y_desc: "output statistic",
            lines: vec![
                line("eval mean (Keras, momentum 0.99)", eval_mean, 0, false),
                line("eval std (Keras)", eval_std, 1, false),
                line("train mean (always ≈ 0)", train_mean, 2, false),
                line(
                    "eval mean, PyTorch rule (momentum 0.1)",
                    torch_eval_mean,
                    3,
                    true,
                ),
            ],
            log_x: false,
            log_y: false,
            legend: SeriesLabelPosition::MiddleRight,
            marker: (caught_up <= steps as f64)
                .then(|| (caught_up, format!("0.99^t = 0.01 (t = {caught_up})"))),
            y_range: None,
        },
    )?;
    announce(&path);
    Ok(())
}
