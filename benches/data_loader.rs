//! `cargo bench --bench data_loader`: is the streamed loader ever the bottleneck?
//!
//! For 64×64 and 256×256 inputs (batch 32) it writes a set of 8-bit PNGs, two thirds of them
//! listed as balancing copies augmented on the fly, and measures
//! 1. the time [`StreamedDataset::batch`] takes to read, decode, augment and convert one batch
//!    on its own (median of several batches), and
//! 2. one epoch of `fit` on that set — the loader running ahead of the step on its background
//!    thread — and the share of the epoch's training time the step spent waiting for data
//!    (`data_wait_seconds / train_seconds` of the history; the target is under 5 %).

use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::prepare::image_ops::write_gray_png;
use lumbar_cnn::prepare::{Augmentation, LabelledImage};
use lumbar_cnn::rsna::Severity;
use lumbar_cnn::train::{fit, Dataset, FitConfig, StreamedDataset};
use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Large freed blocks are kept for the next step (see `lumbar_cnn::recycling_allocator`).
#[global_allocator]
static ALLOCATOR: lumbar_cnn::RecyclingAllocator = lumbar_cnn::RecyclingAllocator;

/// `count` PNGs of `size × size` with smooth, different content, two thirds of them listed as
/// per-epoch augmented copies.
fn streamed_set(dir: &Path, count: usize, size: usize) -> StreamedDataset {
    std::fs::create_dir_all(dir).expect("scratch folder");
    let images = (0..count)
        .map(|i| {
            let path: PathBuf = dir.join(format!("{i}.png"));
            let image = Array2::from_shape_fn((size, size), |(r, c)| {
                let (y, x) = (r as f32 / size as f32, c as f32 / size as f32);
                (127.5 + 127.0 * ((7.0 * x + 3.0 * y + i as f32).sin() * (5.0 * y).cos())) as u8
            });
            write_gray_png(&path, image.view()).expect("PNG written");
            LabelledImage {
                path,
                label: Severity::ALL[i % 3],
                augmentation: if i % 3 == 0 {
                    Augmentation::None
                } else {
                    Augmentation::PerEpoch { draw: i as u64 }
                },
            }
        })
        .collect();
    StreamedDataset::new(images, size, 42).expect("dataset")
}

fn main() {
    println!("{}", lumbar_cnn::cpu::cpu_description());
    println!("{} thread(s), batch 32", rayon::current_num_threads());
    println!(
        "{:<10} {:>16} {:>16} {:>14} {:>12}",
        "input", "load ms/batch", "step ms/batch", "data wait", "wait share"
    );
    let scratch = std::env::temp_dir().join(format!("lumbar-bench-loader-{}", std::process::id()));
    for (size, batches) in [(64usize, 12usize), (256, 4)] {
        let batch = 32;
        let train = streamed_set(&scratch.join(format!("{size}")), batches * batch, size);
        let val = streamed_set(&scratch.join(format!("{size}-val")), 8, size);

        let mut load_ms: Vec<f64> = (0..batches)
            .map(|b| {
                let indices: Vec<usize> = (b * batch..(b + 1) * batch).collect();
                let start = Instant::now();
                train.batch(&indices, 1).expect("batch loads");
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        load_ms.sort_by(f64::total_cmp);

        let mut model = paper_cnn(size, 42).expect("model");
        let config = FitConfig {
            batch_size: batch,
            max_epochs: 1,
            seed: 42,
            progress: false,
            ..FitConfig::default()
        };
        let history = fit(&mut model, &train, &val, &config).expect("one epoch trains");
        let epoch = &history.epochs[0];
        println!(
            "{:<10} {:>16.1} {:>16.1} {:>12.3} s {:>11.2} %",
            format!("{size}×{size}"),
            load_ms[load_ms.len() / 2],
            epoch.train_seconds * 1e3 / batches as f64,
            epoch.data_wait_seconds,
            100.0 * epoch.data_wait_seconds / epoch.train_seconds
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
