//! Streaming changes where the pixels come from, never the numbers: training the paper's
//! network on a [`StreamedDataset`] (PNG files read batch by batch on the loader thread, copies
//! augmented on the fly) gives the same history and the same weights, bit for bit, as training
//! on the same images computed beforehand and held in memory — and the same on 1 and 2 threads.

mod common;

use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::nn::Tensor;
use lumbar_cnn::prepare::image_ops::write_gray_png;
use lumbar_cnn::prepare::{Augmentation, LabelledImage};
use lumbar_cnn::rsna::Severity;
use lumbar_cnn::train::{fit, Dataset, FitConfig, History, StreamedDataset};
use lumbar_cnn::Result;
use ndarray::{Array2, Axis};
use std::collections::HashMap;

const SIZE: usize = 32;
const EPOCHS: usize = 2;

/// 18 PNGs with different smooth content; one third originals, one third fixed copies, one
/// third copies drawn afresh every epoch.
fn streamed_set(name: &str, count: usize) -> StreamedDataset {
    let dir = common::temp_dir(name);
    let images = (0..count)
        .map(|i| {
            let path = dir.join(format!("{i}.png"));
            let image = Array2::from_shape_fn((SIZE, SIZE), |(r, c)| {
                let v =
                    128.0 + 100.0 * ((r as f32 * 0.3 + i as f32).sin() * (c as f32 * 0.2).cos());
                v as u8
            });
            write_gray_png(&path, image.view()).unwrap();
            LabelledImage {
                path,
                label: Severity::ALL[i % 3],
                augmentation: match i % 3 {
                    0 => Augmentation::None,
                    1 => Augmentation::Fixed { draw: i as u64 },
                    _ => Augmentation::PerEpoch { draw: i as u64 },
                },
            }
        })
        .collect();
    StreamedDataset::new(images, SIZE, 7).unwrap()
}

/// The same images, every one of every epoch computed up front and kept in memory.
struct Precomputed {
    labels: Vec<usize>,
    by_epoch: HashMap<usize, Tensor>,
}

impl Precomputed {
    fn of(data: &StreamedDataset, epochs: usize) -> Precomputed {
        let all: Vec<usize> = (0..data.len()).collect();
        // Epoch 0 is what evaluation asks for.
        let by_epoch = (0..=epochs)
            .map(|epoch| (epoch, data.batch(&all, epoch).unwrap()))
            .collect();
        Precomputed {
            labels: data.labels().to_vec(),
            by_epoch,
        }
    }
}

impl Dataset for Precomputed {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn labels(&self) -> &[usize] {
        &self.labels
    }

    fn batch(&self, indices: &[usize], epoch: usize) -> Result<Tensor> {
        Ok(self.by_epoch[&epoch].select(Axis(0), indices))
    }
}

fn train(train: &dyn Dataset, val: &dyn Dataset) -> (History, Vec<Vec<f32>>) {
    let mut model = paper_cnn(SIZE, 3).unwrap();
    let config = FitConfig {
        batch_size: 4,
        max_epochs: EPOCHS,
        seed: 11,
        progress: false,
        ..FitConfig::default()
    };
    let history = fit(&mut model, train, val, &config).unwrap();
    let weights = model
        .weights()
        .into_iter()
        .map(|w| w.iter().copied().collect())
        .collect();
    (history, weights)
}

/// The history without its timings (wall time differs from run to run).
fn numbers(history: &History) -> Vec<[f32; 4]> {
    history
        .epochs
        .iter()
        .map(|e| [e.loss, e.accuracy, e.val_loss, e.val_accuracy])
        .collect()
}

#[test]
fn streamed_training_equals_in_memory_training_on_any_thread_count() {
    let train_set = streamed_set("streamed-train", 18);
    let val_set = streamed_set("streamed-val", 6);
    let (streamed_history, streamed_weights) = train(&train_set, &val_set);
    let (memory_history, memory_weights) = train(
        &Precomputed::of(&train_set, EPOCHS),
        &Precomputed::of(&val_set, EPOCHS),
    );
    assert_eq!(numbers(&streamed_history), numbers(&memory_history));
    assert_eq!(streamed_weights, memory_weights);

    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (single_history, single_weights) = one_thread.install(|| train(&train_set, &val_set));
    assert_eq!(numbers(&single_history), numbers(&streamed_history));
    assert_eq!(single_weights, streamed_weights);
}

#[test]
fn a_step_limit_cuts_the_last_epoch_short() {
    let train_set = streamed_set("limit-train", 18); // 5 batches of 4 per epoch
    let val_set = streamed_set("limit-val", 6);
    let epochs_for = |max_steps: usize| {
        let mut model = paper_cnn(SIZE, 3).unwrap();
        let config = FitConfig {
            batch_size: 4,
            max_epochs: 10,
            seed: 11,
            progress: false,
            max_steps: Some(max_steps),
            ..FitConfig::default()
        };
        fit(&mut model, &train_set, &val_set, &config)
            .unwrap()
            .epochs
            .len()
    };
    assert_eq!(epochs_for(5), 1, "exactly one epoch of steps");
    assert_eq!(epochs_for(7), 2, "one epoch and two steps of the next");
}
