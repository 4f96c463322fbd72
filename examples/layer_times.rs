//! Where does a training step of the paper's network spend its time? Times every layer's
//! forward and backward pass on one batch (the second of two runs, after warm-up).
//!
//! `cargo run --release --example layer_times -- [image_size] [batch]`

use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::nn::{Layer, Mode, Tensor};
use ndarray::IxDyn;
use std::time::Instant;

/// Large freed blocks are kept for the next step (see `lumbar_cnn::recycling_allocator`).
#[global_allocator]
static ALLOCATOR: lumbar_cnn::RecyclingAllocator = lumbar_cnn::RecyclingAllocator;

fn main() -> lumbar_cnn::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let size = args.first().copied().unwrap_or(64);
    let batch = args.get(1).copied().unwrap_or(32);
    let mut model = paper_cnn(size, 0)?;
    let x = Tensor::from_elem(IxDyn(&[batch, size, size, 3]), 0.5);
    let mut times = Vec::new();
    for _ in 0..2 {
        times.clear();
        let mut activations = vec![x.clone()];
        // Run the layers one by one to time each.
        let layers: &mut [Box<dyn Layer>] = model.layers_mut();
        for layer in layers.iter_mut() {
            let start = Instant::now();
            let y = layer.forward(activations.last().unwrap(), Mode::Train)?;
            times.push((layer.name().to_string(), start.elapsed().as_secs_f64(), 0.0));
            activations.push(y);
        }
        let mut grad = Tensor::from_elem(activations.last().unwrap().raw_dim(), 0.01);
        for (i, layer) in layers.iter_mut().enumerate().rev() {
            let start = Instant::now();
            grad = layer.backward(&grad)?;
            times[i].2 = start.elapsed().as_secs_f64();
        }
    }
    let (mut total_f, mut total_b) = (0.0, 0.0);
    for (name, f, b) in &times {
        println!(
            "{name:<28} forward {:8.1} ms  backward {:8.1} ms",
            f * 1e3,
            b * 1e3
        );
        total_f += f;
        total_b += b;
    }
    println!(
        "total forward {:.1} ms, backward {:.1} ms",
        total_f * 1e3,
        total_b * 1e3
    );
    Ok(())
}
