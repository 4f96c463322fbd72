//! Chapter 10 of the book: Adam and the training loop. A small convolutional network learns a
//! generated three-class task (a bright disc whose radius gives the class — a toy version of
//! grading a canal by its area) with `lumbar_cnn::train::fit`: learning curves, early stopping,
//! restored best weights, and the same seed giving bit-identical numbers on one thread or many.
//!
//! `cargo run --release --example 10_training_loop`
//! (figures: `book/src/figures/10-loss.png`, `book/src/figures/10-accuracy.png`;
//! `LUMBAR_BOOK_TINY=1` trains a smaller problem for fewer epochs and writes the figures to a
//! temporary folder instead).

use lumbar_cnn::book_examples::{announce, figure_path, tiny};
use lumbar_cnn::nn::*;
use lumbar_cnn::seed::mix_seed;
use lumbar_cnn::train::{evaluate, fit, FitConfig, History, InMemoryDataset};
use lumbar_cnn::{Error, Result};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

/// Side of the generated images, in pixels.
const SIZE: usize = 16;

// ANCHOR: discs
/// `count` images `[count, 16, 16, 1]`: a bright disc on a dark background plus Gaussian noise.
/// The class is the disc's size: radius 2.0–3.4 px → 0, 3.0–4.4 → 1, 4.0–5.4 → 2. The ranges
/// overlap, so even a perfect model makes some mistakes, as graders do near a threshold.
fn discs(count: usize, seed: u64) -> Result<InMemoryDataset> {
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = Normal::new(0.0f32, 0.25).unwrap();
    let mut images = Tensor::zeros(IxDyn(&[count, SIZE, SIZE, 1]));
    let mut labels = Vec::with_capacity(count);
    for n in 0..count {
        let label = rng.random_range(0..3usize);
        let radius = 2.0 + label as f32 + rng.random_range(0.0..1.4);
        let cy = rng.random_range(5.5..10.5);
        let cx = rng.random_range(5.5..10.5);
        for y in 0..SIZE {
            for x in 0..SIZE {
                let r = ((y as f32 - cy).powi(2) + (x as f32 - cx).powi(2)).sqrt();
                let disc = if r < radius { 1.0 } else { 0.0 };
                images[[n, y, x, 0]] = disc + noise.sample(&mut rng);
            }
        }
        labels.push(label);
    }
    InMemoryDataset::new(images, labels)
}
// ANCHOR_END: discs

// ANCHOR: small_net
/// A small version of the paper's network: two blocks Conv → ReLU → BN → MaxPool, then
/// Flatten → Dropout 0.25 → Dense 3. Weights and dropout masks come from `seed`.
fn small_net(seed: u64) -> Result<Sequential> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Sequential::new("small_cnn", &[SIZE, SIZE, 1]);
    model.push(Conv2d::new("conv2d", (3, 3), 1, 8, Padding::Same, &mut rng))?;
    model.push(Relu::new("re_lu"))?;
    model.push(BatchNorm::new("batch_normalization", 8))?;
    model.push(MaxPool2d::new("max_pooling2d"))?;
    let conv = Conv2d::new("conv2d_1", (3, 3), 8, 16, Padding::Same, &mut rng);
    model.push(conv)?;
    model.push(Relu::new("re_lu_1"))?;
    model.push(BatchNorm::new("batch_normalization_1", 16))?;
    model.push(MaxPool2d::new("max_pooling2d_1"))?;
    model.push(Flatten::new("flatten"))?;
    model.push(Dropout::new("dropout", 0.25, mix_seed(seed, 1))?)?;
    model.push(Dense::new("dense", 4 * 4 * 16, 3, &mut rng))?;
    Ok(model)
}
// ANCHOR_END: small_net

/// Train a fresh `small_net(seed)` and return its history and final validation loss.
fn train(
    seed: u64,
    train: &InMemoryDataset,
    val: &InMemoryDataset,
    config: &FitConfig,
) -> Result<(History, f32)> {
    let mut model = small_net(seed)?;
    let history = fit(&mut model, train, val, config)?;
    let after = evaluate(&mut model, val, config.batch_size)?;
    Ok((history, after.loss))
}

/// Every number of a history as bits, so "identical" means bit for bit.
fn bits(history: &History) -> Vec<u32> {
    history
        .epochs
        .iter()
        .flat_map(|e| [e.loss, e.accuracy, e.val_loss, e.val_accuracy].map(f32::to_bits))
        .collect()
}

fn main() -> Result<()> {
    let tiny = tiny();
    let (n_train, n_val, max_epochs) = if tiny { (64, 32, 4) } else { (960, 240, 40) };
    let train_set = discs(n_train, 1)?;
    let val_set = discs(n_val, 2)?;
    // ANCHOR: config
    let config = FitConfig {
        batch_size: 16,
        max_epochs,
        patience: 5,
        learning_rate: 3e-3,
        seed: 10,
        progress: false,
        ..FitConfig::default()
    };
    // ANCHOR_END: config

    let start = std::time::Instant::now();
    let (history, restored_val_loss) = train(10, &train_set, &val_set, &config)?;
    println!(
        "{:>5} {:>8} {:>8} {:>9} {:>8}",
        "epoch", "loss", "acc", "val_loss", "val_acc"
    );
    for e in &history.epochs {
        let mark = if e.epoch == history.best_epoch {
            "  ← best"
        } else {
            ""
        };
        println!(
            "{:>5} {:>8.4} {:>8.3} {:>9.4} {:>8.3}{mark}",
            e.epoch, e.loss, e.accuracy, e.val_loss, e.val_accuracy
        );
    }
    match history.stopped_epoch {
        Some(stop) => println!(
            "early stopping at epoch {stop}: val_loss did not improve for {} epochs after epoch {}",
            config.patience, history.best_epoch
        ),
        None => println!("no early stop within {max_epochs} epochs"),
    }
    println!(
        "restored epoch {}: val_loss {:.4} (recorded {:.4}) — {:.1} s",
        history.best_epoch,
        restored_val_loss,
        history.best_val_loss(),
        start.elapsed().as_secs_f64()
    );

    let accuracy_path = figure_path("10-accuracy.png");
    let loss_path = figure_path("10-loss.png");
    history.save_curves_as(&accuracy_path, &loss_path)?;
    announce(&accuracy_path);
    announce(&loss_path);

    // ANCHOR: reproducibility
    // The same seed on one thread: bit-identical history. A different seed: a different one.
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::invalid(format!("cannot build a one-thread pool: {e}")))?;
    let (again, _) = one_thread.install(|| train(10, &train_set, &val_set, &config))?;
    let (other, _) = train(11, &train_set, &val_set, &config)?;
    println!(
        "\nseed 10 on {} threads vs seed 10 on 1 thread: {}",
        rayon::current_num_threads(),
        if bits(&again) == bits(&history) {
            "bit-identical histories"
        } else {
            "DIFFERENT"
        }
    );
    println!(
        "seed 10 vs seed 11: {} (epoch 1 loss {:.6} vs {:.6})",
        if bits(&other) == bits(&history) {
            "identical"
        } else {
            "different histories"
        },
        history.epochs[0].loss,
        other.epochs[0].loss
    );
    // ANCHOR_END: reproducibility
    if bits(&again) != bits(&history) {
        return Err(Error::invalid(
            "the same seed gave different histories on one and on several threads",
        ));
    }
    Ok(())
}
