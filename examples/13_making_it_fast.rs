//! Chapter 13 of the book: where a training step of the article's network spends its time.
//! Times every layer's forward and backward pass on one batch (after the same warm-up steps as
//! `lumbar bench`), sums the times by layer kind, and computes each convolution's GFLOP/s.
//!
//! Then two before/after comparisons in interleaved rounds: each Winograd-eligible
//! convolution's forward pass on the direct engine and by Winograd's F(2×2, 3×3) (change 9), and
//! an inference batch by the eval pass layer by layer and by the forward-only path with its
//! fused per-channel maps (change 11).
//!
//! `cargo run --release --example 13_making_it_fast -- [image_size] [batch]` (default 256, 16)
//! (figures: `book/src/figures/13-step-time.png`, `13-conv-gflops.png`, `13-winograd.png`,
//! `13-inference-path.png`; `LUMBAR_BOOK_TINY=1` times a 32×32 batch of 4 and writes the
//! figures to a temporary folder instead).

/// Timed like `lumbar bench`: large freed blocks are recycled (chapter 13, change 1).
#[global_allocator]
static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;

use lumbar_cnn::book_examples::{announce, figure_path, tiny};
use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::nn::engine::winograd::{conv_winograd, winograd_applies};
use lumbar_cnn::nn::engine::{conv_engine, conv_forward_on, ConvGeometry};
use lumbar_cnn::nn::{Layer, Pass, Sequential, Tensor};
use lumbar_cnn::plot::bar_chart::{save_bar_chart, Bar, BarChart};
use lumbar_cnn::plot::PALETTE;
use lumbar_cnn::RecyclingAllocator;
use lumbar_cnn::Result;
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// The time of one layer in one training step.
struct LayerTime {
    name: String,
    kind: &'static str,
    forward_s: f64,
    backward_s: f64,
    /// Forward FLOP of a convolution (2 per multiply-add), 0 for other layers.
    forward_flop: f64,
}

// ANCHOR: time_layers
/// Run one training step layer by layer, timing each pass; the first layer computes only its
/// parameter gradients, as `Sequential::backward_params` does in training.
fn time_one_step(layers: &mut [Box<dyn Layer>], x: &Tensor) -> Result<Vec<LayerTime>> {
    let mut times = Vec::new();
    let mut activation = x.clone();
    for layer in layers.iter_mut() {
        let start = Instant::now();
        let y = layer.forward(&activation, Pass::Train { step: 0 })?;
        let forward_s = start.elapsed().as_secs_f64();
        let forward_flop = conv_flop(layer.as_ref(), &y);
        times.push(LayerTime {
            name: layer.name().to_string(),
            kind: layer.kind(),
            forward_s,
            backward_s: 0.0,
            forward_flop,
        });
        activation = y;
    }
    let mut grad = Tensor::from_elem(activation.raw_dim(), 0.01);
    for (i, layer) in layers.iter_mut().enumerate().rev() {
        let start = Instant::now();
        if i == 0 {
            layer.backward_params_only(&grad)?;
        } else {
            grad = layer.backward(&grad)?;
        }
        times[i].backward_s = start.elapsed().as_secs_f64();
    }
    Ok(times)
}
// ANCHOR_END: time_layers

/// FLOP of a convolution's forward pass producing `y`: `2 · N·Ho·Wo · kh·kw·Cin · Cout`.
fn conv_flop(layer: &dyn Layer, y: &Tensor) -> f64 {
    if layer.kind() != "Conv2D" {
        return 0.0;
    }
    let kernel = &layer.params()[0].value;
    let patch: usize = kernel.shape()[..3].iter().product();
    2.0 * y.len() as f64 * patch as f64
}

/// Minor page faults of this process so far (Linux; `None` elsewhere).
fn minor_page_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Field 10 (minflt), counted after the command name, which ends with ')'.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split_whitespace().nth(7)?.parse().ok()
}

fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (default_size, default_batch) = if tiny() { (32, 4) } else { (256, 16) };
    let size = args.first().copied().unwrap_or(default_size);
    let batch = args.get(1).copied().unwrap_or(default_batch);
    println!(
        "one training step of the article's network, {size}×{size}, batch {batch}, {} thread(s)",
        rayon::current_num_threads()
    );
    let mut model = paper_cnn(size, 0)?;
    // A random batch: a constant image would make every feature map nearly constant.
    let mut rng = StdRng::seed_from_u64(13);
    let x = Tensor::from_shape_fn(IxDyn(&[batch, size, size, 3]), |_| rng.random::<f32>());
    // Warm-up, as `lumbar bench` does: the allocator's cache fills during these steps.
    for _ in 0..lumbar_cnn::cli::bench::WARM_UP_STEPS {
        time_one_step(model.layers_mut(), &x)?;
    }
    let faults_before = minor_page_faults();
    let times = time_one_step(model.layers_mut(), &x)?;
    let faults = faults_before.zip(minor_page_faults()).map(|(a, b)| b - a);

    for t in &times {
        println!(
            "{:<26} forward {:8.1} ms   backward {:8.1} ms",
            t.name,
            t.forward_s * 1e3,
            t.backward_s * 1e3
        );
    }
    let total: f64 = times.iter().map(|t| t.forward_s + t.backward_s).sum();
    println!("step {:.2} s = {:.2} images/s", total, batch as f64 / total);
    if let Some(faults) = faults {
        println!("minor page faults during the timed step: {faults}");
    }

    // Time by layer kind, forward and backward apart for convolutions.
    let mut groups: Vec<(String, f64)> = Vec::new();
    let mut add = |label: String, seconds: f64| match groups.iter_mut().find(|g| g.0 == label) {
        Some(group) => group.1 += seconds,
        None => groups.push((label, seconds)),
    };
    for t in &times {
        if t.kind == "Conv2D" {
            add("Conv2D fwd".into(), t.forward_s);
            add("Conv2D bwd".into(), t.backward_s);
        } else {
            add(t.kind.to_string(), t.forward_s + t.backward_s);
        }
    }
    groups.retain(|g| g.1 * 1e3 >= 0.05);
    for (label, seconds) in &groups {
        println!(
            "{label:<20} {:8.1} ms  {:5.1} %",
            seconds * 1e3,
            100.0 * seconds / total
        );
    }
    let bars = groups
        .iter()
        .enumerate()
        .map(|(i, (label, seconds))| Bar {
            label: label.clone(),
            value: seconds * 1e3,
            color: PALETTE[i % PALETTE.len()],
        })
        .collect();
    let title = format!("One training step, {size}×{size}, batch {batch}: time by layer kind");
    let path = figure_path("13-step-time.png");
    save_bar_chart(
        &path,
        &BarChart {
            value_format: |v| format!("{v:.0}"),
            ..BarChart::new(&title, "milliseconds", bars)
        },
    )?;
    announce(&path);

    // GFLOP/s of each convolution: backward = input gradient + kernel gradient, each as many
    // FLOP as the forward pass (only the kernel gradient for the first layer).
    let mut bars = Vec::new();
    for (i, t) in times.iter().filter(|t| t.kind == "Conv2D").enumerate() {
        let backward_flop = if i == 0 { 1.0 } else { 2.0 } * t.forward_flop;
        let forward = t.forward_flop / t.forward_s / 1e9;
        let backward = backward_flop / t.backward_s / 1e9;
        println!(
            "{:<10} {:6.2} GFLOP forward: {forward:6.1} GFLOP/s forward, {backward:6.1} GFLOP/s backward",
            t.name,
            t.forward_flop / 1e9
        );
        let short = t.name.trim_start_matches("conv2d");
        let label = if short.is_empty() { "0" } else { &short[1..] };
        bars.push(Bar {
            label: format!("{label} f"),
            value: forward,
            color: PALETTE[0],
        });
        bars.push(Bar {
            label: format!("{label} b"),
            value: backward,
            color: PALETTE[1],
        });
    }
    let title = format!("Convolutions 0–9, forward (f) and backward (b), {size}×{size}");
    let path = figure_path("13-conv-gflops.png");
    save_bar_chart(
        &path,
        &BarChart {
            value_format: |v| format!("{v:.0}"),
            ..BarChart::new(&title, "GFLOP/s", bars)
        },
    )?;
    announce(&path);
    winograd_before_after(size, batch)?;
    inference_before_after(&mut model, &x)
}

/// Interleaved rounds for the before/after figures.
const ROUNDS: usize = 3;

/// The median of `values` (the middle one of an odd count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

// ANCHOR: winograd_before_after
/// Change 9 before and after: every convolution of the network that Winograd's algorithm takes,
/// forward on a random batch, by the direct engine the layer would otherwise use and by
/// Winograd (same products engine), in interleaved rounds; median milliseconds.
fn winograd_before_after(size: usize, batch: usize) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(9);
    let mut bars = Vec::new();
    let channels = [32, 32, 64, 64, 128, 128, 256, 256, 512, 512];
    for (i, &cout) in channels.iter().enumerate() {
        let cin = if i == 0 { 3 } else { channels[i - 1] };
        let side = size >> (i / 2);
        let g = ConvGeometry::same(side, side, cin, (3, 3));
        if !winograd_applies(&g, cout) {
            continue;
        }
        let x: Vec<f32> = (0..batch * g.image_len()).map(|_| rng.random()).collect();
        let kernel: Vec<f32> = (0..9 * cin * cout)
            .map(|_| rng.random::<f32>() - 0.5)
            .collect();
        let direct = conv_engine(g.patch_len(), cout);
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let start = Instant::now();
            conv_forward_on(direct, &x, &g, batch, &kernel, cout, None)?;
            before.push(start.elapsed().as_secs_f64() * 1e3);
            let start = Instant::now();
            conv_winograd(&x, &g, batch, &kernel, cout, None, &[]);
            after.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let (before, after) = (median(before), median(after));
        println!(
            "conv2d_{i} {cin}→{cout} at {side}²: direct {before:6.1} ms, Winograd {after:6.1} ms ({:.2}×)",
            before / after
        );
        bars.push(Bar {
            label: format!("{i} direct"),
            value: before,
            color: PALETTE[0],
        });
        bars.push(Bar {
            label: format!("{i} Winograd"),
            value: after,
            color: PALETTE[1],
        });
    }
    if bars.is_empty() {
        println!("no convolution takes Winograd's algorithm here (LUMBAR_NO_WINOGRAD is set)");
        return Ok(());
    }
    let title = format!("Forward pass per convolution, {size}×{size}, batch {batch}: direct vs Winograd F(2×2, 3×3)");
    let path = figure_path("13-winograd.png");
    save_bar_chart(
        &path,
        &BarChart {
            value_format: |v| format!("{v:.0}"),
            ..BarChart::new(&title, "milliseconds (median of 3 rounds)", bars)
        },
    )?;
    announce(&path);
    Ok(())
}
// ANCHOR_END: winograd_before_after

/// Change 11 before and after: one inference batch by the eval pass, layer by layer
/// (`forward(Pass::Eval)`), and by the forward-only path (`infer`), in interleaved rounds.
fn inference_before_after(model: &mut Sequential, x: &Tensor) -> Result<()> {
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        model.forward(x, Pass::Eval)?;
        before.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        model.infer(x)?;
        after.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let (before, after) = (median(before), median(after));
    println!(
        "inference batch: eval pass {before:.0} ms, forward-only path {after:.0} ms ({:.2}×)",
        before / after
    );
    let bars = vec![
        Bar {
            label: "eval pass, layer by layer".into(),
            value: before,
            color: PALETTE[0],
        },
        Bar {
            label: "forward-only path, maps fused".into(),
            value: after,
            color: PALETTE[1],
        },
    ];
    let shape = x.shape();
    let title = format!(
        "One inference batch, {}×{}, batch {}",
        shape[1], shape[2], shape[0]
    );
    let path = figure_path("13-inference-path.png");
    save_bar_chart(
        &path,
        &BarChart {
            value_format: |v| format!("{v:.0}"),
            ..BarChart::new(&title, "milliseconds (median of 3 rounds)", bars)
        },
    )?;
    announce(&path);
    Ok(())
}
