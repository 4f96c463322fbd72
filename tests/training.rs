//! The paper's model and the Keras-style training loop: parameter totals, early stopping with
//! best-weight restoration, checkpoints (save → load → predict, named errors), reproducibility
//! and exact resumption, and NaN detection.

use lumbar_cnn::model::checkpoint::{load_model, save_model};
use lumbar_cnn::model::{paper_cnn, predict, Architecture};
use lumbar_cnn::nn::Tensor;
use lumbar_cnn::train::{evaluate, fit, Dataset, FitConfig, InMemoryDataset};
use lumbar_cnn::Error;
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

/// A fresh, empty temporary folder unique to this test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lumbar-training-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 3-class image task: a bright disc whose radius encodes the class (small 0, medium 1,
/// large 2) at a random position, plus noise — a toy version of "how big is the canal".
fn discs(count: usize, size: usize, seed: u64) -> InMemoryDataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut images = Tensor::zeros(IxDyn(&[count, size, size, 3]));
    let mut labels = Vec::new();
    for n in 0..count {
        let label = n % 3;
        let radius = [3.0, 5.5, 8.0][label] * size as f32 / 32.0;
        let (cy, cx) = (
            rng.random_range(10.0..22.0) * size as f32 / 32.0,
            rng.random_range(10.0..22.0) * size as f32 / 32.0,
        );
        for y in 0..size {
            for x in 0..size {
                let inside = ((y as f32 - cy).powi(2) + (x as f32 - cx).powi(2)).sqrt() < radius;
                let v = if inside { 0.8 } else { 0.2 } + rng.random_range(-0.1..0.1);
                for c in 0..3 {
                    images[[n, y, x, c]] = v;
                }
            }
        }
        labels.push(label);
    }
    InMemoryDataset::new(images, labels).unwrap()
}

fn quiet(config: FitConfig) -> FitConfig {
    FitConfig {
        progress: false,
        ..config
    }
}

#[test]
fn paper_network_has_the_keras_parameter_totals() {
    let model = paper_cnn(256, 0).unwrap();
    assert_eq!(model.parameter_counts(), (21_627_555, 5_504));
    // Other sizes work; only the Flatten → Dense width changes: (S/32)²·512·512 weights.
    for size in [32usize, 64, 128] {
        let model = paper_cnn(size, 0).unwrap();
        let flatten = (size / 32).pow(2) * 512;
        let (trainable, frozen) = model.parameter_counts();
        assert_eq!(
            trainable,
            21_627_555 - 32_768 * 512 + flatten * 512,
            "size {size}"
        );
        assert_eq!(frozen, 5_504);
        assert_eq!(model.output_shape().unwrap(), vec![3]);
    }
    assert!(paper_cnn(16, 0).is_err());
}

#[test]
fn early_stopping_fires_and_restores_the_best_epoch() {
    let train = discs(48, 32, 1);
    let val = discs(24, 32, 2);
    let mut model = paper_cnn(32, 7).unwrap();
    let config = quiet(FitConfig {
        batch_size: 8,
        max_epochs: 20,
        patience: 2,
        seed: 7,
        ..FitConfig::default()
    });
    let history = fit(&mut model, &train, &val, &config).unwrap();
    let stopped = history
        .stopped_epoch
        .expect("early stopping should fire within 20 epochs");
    assert_eq!(
        stopped,
        history.best_epoch + 2,
        "stops `patience` epochs after the best"
    );
    assert_eq!(history.epochs.len(), stopped);
    let best = &history.epochs[history.best_epoch - 1];
    assert_eq!(best.val_loss, history.best_val_loss());
    // The model now holds the best epoch's weights: re-evaluating gives its validation loss.
    let restored = evaluate(&mut model, &val, 8).unwrap();
    assert_eq!(
        restored.loss, best.val_loss,
        "restored weights are not the best epoch's"
    );
    assert!(history.epochs.last().unwrap().val_loss > best.val_loss);

    // The history and its curves (the article's Figures 5–6) are written and decode.
    let dir = temp_dir("curves");
    history.save(&dir).unwrap();
    history.save_curves(&dir).unwrap();
    let csv = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + history.epochs.len());
    for name in ["accuracy.png", "loss.png"] {
        let path = dir.join(name);
        assert!(
            std::fs::metadata(&path).unwrap().len() > 10_000,
            "{name} is suspiciously small"
        );
        let image = image::open(&path).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (900, 600));
        let colours: std::collections::HashSet<_> = image.pixels().map(|p| p.0).collect();
        assert!(
            colours.len() > 50,
            "{name} has only {} colours",
            colours.len()
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn same_seed_gives_bit_identical_histories_on_any_thread_count() {
    let train = discs(24, 32, 3);
    let val = discs(12, 32, 4);
    let config = quiet(FitConfig {
        batch_size: 8,
        max_epochs: 2,
        seed: 11,
        ..FitConfig::default()
    });
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut model = paper_cnn(32, 11).unwrap();
            let history = fit(&mut model, &train, &val, &config).unwrap();
            (
                history
                    .epochs
                    .iter()
                    .map(|e| (e.loss, e.val_loss, e.accuracy))
                    .collect::<Vec<_>>(),
                model.weights(),
            )
        })
    };
    let (h1, w1) = run(1);
    let (h2, w2) = run(2);
    assert_eq!(h1, h2);
    assert_eq!(w1, w2);
    let (h3, _) = run(2);
    assert_eq!(h2, h3);
}

#[test]
fn resuming_from_a_checkpoint_equals_an_uninterrupted_run() {
    let train = discs(24, 32, 5);
    let val = discs(12, 32, 6);
    let base = quiet(FitConfig {
        batch_size: 8,
        max_epochs: 3,
        patience: 10,
        seed: 5,
        ..FitConfig::default()
    });
    let mut straight = paper_cnn(32, 5).unwrap();
    let full = fit(&mut straight, &train, &val, &base).unwrap();

    let dir = temp_dir("resume");
    let mut interrupted = paper_cnn(32, 5).unwrap();
    let first = FitConfig {
        max_epochs: 1,
        checkpoint_dir: Some(dir.clone()),
        ..base.clone()
    };
    fit(&mut interrupted, &train, &val, &first).unwrap();
    // A new process: a freshly built model (same seed, hence the same dropout seeds, as a
    // `--resume` run with the same `--seed`), whose epoch-1 weights must come from the folder.
    let mut resumed = paper_cnn(32, 5).unwrap();
    let rest = FitConfig {
        checkpoint_dir: Some(dir.clone()),
        resume: true,
        ..base.clone()
    };
    let history = fit(&mut resumed, &train, &val, &rest).unwrap();
    // Everything but the wall-clock timings must be identical.
    let numbers = |h: &lumbar_cnn::train::History| {
        let epochs: Vec<_> = h
            .epochs
            .iter()
            .map(|e| (e.epoch, e.loss, e.accuracy, e.val_loss, e.val_accuracy))
            .collect();
        (epochs, h.best_epoch, h.stopped_epoch)
    };
    assert_eq!(numbers(&history), numbers(&full));
    assert_eq!(resumed.weights(), straight.weights());

    // A limit below the epochs already done is refused rather than leaving a longer history.
    let lowered = FitConfig {
        max_epochs: 2,
        ..rest.clone()
    };
    let error = fit(&mut paper_cnn(32, 5).unwrap(), &train, &val, &lowered)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("it has completed 3 epochs, more than the limit of 2"),
        "{error}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn save_load_predict_gives_identical_probabilities() {
    let dir = temp_dir("save");
    let images = discs(5, 32, 8);
    let mut model = paper_cnn(32, 3).unwrap();
    // Train one epoch so BN running statistics differ from their initial values.
    fit(
        &mut model,
        &images,
        &images,
        &quiet(FitConfig {
            batch_size: 5,
            max_epochs: 1,
            ..FitConfig::default()
        }),
    )
    .unwrap();
    let before = predict(&mut model, images.images(), 2).unwrap();
    let path = dir.join("model.safetensors");
    save_model(&model, &Architecture::paper(32), &path).unwrap();
    let (mut loaded, architecture) = load_model(&path).unwrap();
    assert_eq!(architecture, Architecture::paper(32));
    let after = predict(&mut loaded, images.images(), 3).unwrap();
    assert_eq!(before, after);
    for row in after.rows() {
        assert!((row.sum() - 1.0).abs() < 1e-5);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn truncated_or_mismatched_checkpoints_are_named_errors() {
    let dir = temp_dir("bad");
    let path = dir.join("model.safetensors");
    save_model(&paper_cnn(64, 0).unwrap(), &Architecture::paper(64), &path).unwrap();

    // The 64×64 weights do not fit the 32×32 network: the first mismatch is the first dense.
    let mut small = paper_cnn(32, 0).unwrap();
    let err = lumbar_cnn::model::load_weights(&mut small, &path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Shape { .. }), "{text}");
    assert!(
        text.contains("dense/kernel")
            && text.contains("[512, 512]")
            && text.contains("[2048, 512]"),
        "{text}"
    );

    // A truncated file (e.g. a crash while copying it) is a format error naming the file.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let text = match load_model(&path) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a truncated checkpoint loaded"),
    };
    assert!(
        text.contains("model.safetensors") && text.contains("truncated"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_nan_loss_stops_training_naming_epoch_and_batch() {
    let mut data = discs(6, 32, 9);
    let mut images = data.images().clone();
    images.fill(f32::NAN);
    data = InMemoryDataset::new(images, data.labels().to_vec()).unwrap();
    let mut model = paper_cnn(32, 0).unwrap();
    let err = fit(
        &mut model,
        &data,
        &data,
        &quiet(FitConfig {
            batch_size: 3,
            ..FitConfig::default()
        }),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::NonFinite { .. }), "{text}");
    assert!(
        text.contains("the training loss of epoch 1, batch 1/2: training diverged"),
        "{text}"
    );
}
