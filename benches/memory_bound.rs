//! `cargo bench --bench memory_bound`: the memory of training does not grow with the dataset.
//!
//! Generates two synthetic datasets, one with four times the studies of the other, and for
//! each runs the main job's chain in a child process — `prepare` at 256×256, the splits
//! streamed from their PNGs, the paper's network trained at batch 32 for a fixed number of
//! steps (the shuffled order spans the whole training split, so images from all of it are read),
//! then validated — and reads the child's peak resident memory (`VmHWM`). A third child times
//! the training step alone (`lumbar bench --image-size 256 --batch 32`'s measurement). The peaks
//! of the two runs should be within 10 % of each other and within about 1.2× of the step's own.
//!
//! `LUMBAR_MEMORY_STUDIES` (default 30) sets the smaller dataset, `LUMBAR_MEMORY_STEPS`
//! (default 20) the training steps of each run; `LUMBAR_MEMORY_STEPS=200` is the measurement of
//! a few hundred steps (about 25 minutes per run on 2 cores).

use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::prepare::{self, load_prepared, PrepareConfig, Protocol, Split};
use lumbar_cnn::synth::SynthConfig;
use lumbar_cnn::train::{fit, FitConfig, StreamedDataset};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Large freed blocks are kept for the next step, as in `lumbar` (`lumbar_cnn::recycling_allocator`).
#[global_allocator]
static ALLOCATOR: lumbar_cnn::RecyclingAllocator = lumbar_cnn::RecyclingAllocator;

const SIZE: usize = 256;
const BATCH: usize = 32;

/// Peak resident memory of this process so far, MB (`VmHWM` of `/proc/self/status`).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The child's work: prepare `data` into `prepared`, train `steps` steps, print the counts and
/// the peak.
fn child_run(data: &Path, prepared: &Path, steps: usize) {
    let summary = prepare::run(&PrepareConfig {
        image_size: SIZE,
        protocol: Protocol::Honest,
        seed: 42,
        ..PrepareConfig::new(data, prepared)
    })
    .expect("prepare");
    let split = load_prepared(prepared).expect("prepared lists");
    let train = StreamedDataset::new(split.split(Split::Train).to_vec(), SIZE, split.augment_seed)
        .expect("training split");
    let val = StreamedDataset::new(split.split(Split::Val).to_vec(), SIZE, split.augment_seed)
        .expect("validation split");
    let mut model = paper_cnn(SIZE, 42).expect("model");
    let config = FitConfig {
        batch_size: BATCH,
        max_epochs: 25,
        seed: 42,
        progress: false,
        max_steps: Some(steps),
        ..FitConfig::default()
    };
    fit(&mut model, &train, &val, &config).expect("training");
    println!(
        "slices={} train_images={} val_images={} peak_rss_mb={:.0}",
        summary.slices_kept,
        lumbar_cnn::train::Dataset::len(&train),
        lumbar_cnn::train::Dataset::len(&val),
        peak_rss_mb()
    );
}

/// Run this bench binary again as a child with `args` and return its last output line.
fn child(args: &[&str]) -> String {
    let output = Command::new(std::env::current_exe().expect("own path"))
        .args(args)
        .output()
        .expect("child runs");
    assert!(
        output.status.success(),
        "child {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// The value of `key=` in a child's line.
fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or("?")
        .to_string()
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("child-run") => {
            let steps = args[4].parse().expect("steps");
            child_run(Path::new(&args[2]), Path::new(&args[3]), steps);
            return;
        }
        Some("child-step") => {
            let result = lumbar_cnn::cli::bench::measure(SIZE, BATCH, 1).expect("step");
            println!("peak_rss_mb={:.0}", result.peak_rss_mb);
            return;
        }
        _ => {}
    }
    println!("{}", lumbar_cnn::cpu::cpu_description());
    let studies = env_number("LUMBAR_MEMORY_STUDIES", 30);
    let steps = env_number("LUMBAR_MEMORY_STEPS", 20);
    println!(
        "{} thread(s); {SIZE}×{SIZE}, batch {BATCH}, {steps} training steps per run",
        rayon::current_num_threads()
    );
    let root: PathBuf =
        std::env::temp_dir().join(format!("lumbar-bench-memory-{}", std::process::id()));
    let step_peak: f64 = field(&child(&["child-step"]), "peak_rss_mb")
        .parse()
        .unwrap_or(f64::NAN);
    println!("the training step alone (lumbar bench): peak RSS {step_peak:.0} MB");
    println!(
        "{:>8} {:>8} {:>13} {:>12} {:>13} {:>14}",
        "studies", "slices", "train images", "val images", "peak RSS MB", "× step's own"
    );
    for count in [studies, 4 * studies] {
        let data = root.join(format!("synth-{count}"));
        lumbar_cnn::synth::generate(
            &SynthConfig {
                studies: count,
                seed: 42,
                ..SynthConfig::default()
            },
            &data,
            true,
            false,
        )
        .expect("synthetic dataset");
        let prepared = root.join(format!("prepared-{count}"));
        let line = child(&[
            "child-run",
            data.to_str().expect("UTF-8 path"),
            prepared.to_str().expect("UTF-8 path"),
            &steps.to_string(),
        ]);
        let peak: f64 = field(&line, "peak_rss_mb").parse().unwrap_or(f64::NAN);
        println!(
            "{:>8} {:>8} {:>13} {:>12} {:>13.0} {:>14.2}",
            count,
            field(&line, "slices"),
            field(&line, "train_images"),
            field(&line, "val_images"),
            peak,
            peak / step_peak
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
