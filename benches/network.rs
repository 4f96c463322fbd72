//! `cargo bench --bench network`: images per second of a full training step (forward, loss,
//! backward, Adam) and of inference of the article's network, at 64×64 (batch 32) and at
//! 256×256 (batch 16), with all cores; and the peak memory of the process.
//!
//! The same measurement is `lumbar bench --image-size N --batch B`.

use lumbar_cnn::cli::bench::measure;

/// Large freed blocks are kept for the next step (see `lumbar_cnn::recycling_allocator`).
#[global_allocator]
static ALLOCATOR: lumbar_cnn::RecyclingAllocator = lumbar_cnn::RecyclingAllocator;

fn main() {
    println!("{}", lumbar_cnn::cpu::cpu_description());
    println!("paper_cnn, {} thread(s)", rayon::current_num_threads());
    println!(
        "{:<10} {:>6} {:>14} {:>14} {:>12}",
        "input", "batch", "train img/s", "infer img/s", "peak RSS MB"
    );
    for (size, batch, steps) in [(64usize, 32usize, 5usize), (256, 16, 3)] {
        let result = measure(size, batch, steps).expect("benchmark runs");
        println!(
            "{:<10} {:>6} {:>14.2} {:>14.2} {:>12.0}",
            format!("{size}×{size}"),
            batch,
            result.train_images_per_second,
            result.infer_images_per_second,
            result.peak_rss_mb
        );
    }
}
