//! `cargo bench --bench conv_layers`: GFLOP/s of every convolution of the article's network at
//! 256×256 — forward, backward-data (input gradient) and backward-weights (kernel gradient) —
//! on a batch of `LUMBAR_BENCH_BATCH` images (default 4), with all cores.
//!
//! Each operation is timed `REPEATS` times after one warm-up; the best time is reported (the
//! least disturbed by other work on the machine). FLOP = 2 × multiply-adds.

use lumbar_cnn::nn::engine::{
    conv_forward, conv_input_gradient, conv_kernel_gradient, ConvGeometry,
};
use lumbar_cnn::nn::Tensor;
use ndarray::IxDyn;
use std::time::Instant;

/// Large freed blocks are kept for the next step (see `lumbar_cnn::recycling_allocator`).
#[global_allocator]
static ALLOCATOR: lumbar_cnn::RecyclingAllocator = lumbar_cnn::RecyclingAllocator;

const REPEATS: usize = 3;

fn best_seconds(mut f: impl FnMut()) -> f64 {
    f();
    (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    println!("{}", lumbar_cnn::cpu::cpu_description());
    let batch: usize = std::env::var("LUMBAR_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    println!(
        "conv layers of paper_cnn at 256×256, batch {batch}, {} thread(s); best of {REPEATS}",
        rayon::current_num_threads()
    );
    println!(
        "{:<10} {:>9} {:>6} {:>6} {:>10} {:>10} {:>10}",
        "layer", "input", "cin", "cout", "fwd GF/s", "bwd-data", "bwd-wgt"
    );
    let mut size = 256;
    let mut cin = 3;
    let mut layer = 0;
    for filters in [32usize, 64, 128, 256, 512] {
        for _ in 0..2 {
            let g = ConvGeometry {
                h: size,
                w: size,
                c: cin,
                kh: 3,
                kw: 3,
                pad_top: 1,
                pad_left: 1,
                ho: size,
                wo: size,
            };
            let x: Vec<f32> = (0..batch * size * size * cin)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
                .collect();
            let kernel = Tensor::from_shape_fn(IxDyn(&[3, 3, cin, filters]), |i| {
                ((i[2] + i[3]) % 7) as f32 * 0.01
            });
            let bias = vec![0.0f32; filters];
            let flops = 2.0 * (batch * size * size * 9 * cin * filters) as f64;
            let k = kernel.as_slice().unwrap();
            let dy: Vec<f32> = (0..batch * size * size * filters)
                .map(|i| ((i * 31) % 100) as f32 / 100.0)
                .collect();
            let forward = best_seconds(|| {
                std::hint::black_box(conv_forward(&x, &g, batch, k, filters, Some(&bias)));
            });
            let backward_data = best_seconds(|| {
                let channels = (cin, filters);
                std::hint::black_box(conv_input_gradient(&dy, &g, batch, k, channels));
            });
            let backward_weights = best_seconds(|| {
                std::hint::black_box(conv_kernel_gradient(&x, &g, batch, &dy, filters));
            });
            let name = if layer == 0 {
                "conv2d".to_string()
            } else {
                format!("conv2d_{layer}")
            };
            println!(
                "{name:<10} {:>9} {cin:>6} {filters:>6} {:>10.1} {:>10.1} {:>10.1}",
                format!("{size}²"),
                flops / forward / 1e9,
                flops / backward_data / 1e9,
                flops / backward_weights / 1e9
            );
            cin = filters;
            layer += 1;
        }
        size /= 2;
    }
}
