//! Chapter 13 of the book: where a training step of the article's network spends its time.
//! Times every layer's forward and backward pass on one batch (after the same warm-up steps as
//! `lumbar bench`), sums the times by layer kind, and computes each convolution's GFLOP/s.
//!
//! Then each change of the chapter before and after, in interleaved rounds (before, after,
//! before, …; median of three), one figure per change: the recycling allocator switched off and
//! on (1), cache-sized bands against bands of at least 2·Cout rows (2), the first layer's
//! backward pass with and without its input gradient (3), ReLU with a branch and as a select
//! (4), ReLU's first version against one that writes every value once (5), im2col copied per
//! kernel position and per kernel row (6), the engines by name: im2col + GEMM against the AVX2
//! micro-kernel (7) and AVX2 against AVX-512 (8), each Winograd-eligible convolution direct and
//! by Winograd's F(2×2, 3×3) (9), kernel gradients direct and by the transforms (10), an
//! inference batch by the eval pass and by the forward-only path (11), and the kernel gradients
//! by im2col + GEMM and read in place (12). The code before a change is kept here when the
//! library no longer has it (the branching ReLU, im2col per kernel position).
//!
//! `cargo run --release --example 13_making_it_fast -- [image_size] [batch]` (default 256, 16;
//! about a minute on 2 cores). Figures: `book/src/figures/13-*.png`; a comparison that needs
//! instructions this CPU lacks says so on the console and draws nothing. `LUMBAR_BOOK_TINY=1`
//! times a 32×32 batch of 4 and writes the figures to a temporary folder instead.

/// Timed like `lumbar bench`: large freed blocks are recycled (chapter 13, change 1).
#[global_allocator]
static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;

use lumbar_cnn::book_examples::{announce, figure_path, tiny};
use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::nn::engine::bands::{band_rows, cache_band_rows};
use lumbar_cnn::nn::engine::conv::{conv_im2col_gemm_in_bands, conv_kernel_gradient_direct};
use lumbar_cnn::nn::engine::im2col::im2col_rows;
use lumbar_cnn::nn::engine::implicit_kernel_gradient::{
    implicit_kernel_gradient, implicit_kernel_gradient_applies,
};
use lumbar_cnn::nn::engine::winograd::{conv_winograd, winograd_applies};
use lumbar_cnn::nn::engine::winograd_kernel_gradient::winograd_kernel_gradient_applies;
use lumbar_cnn::nn::engine::{
    conv_engine, conv_forward, conv_forward_on, conv_input_gradient, conv_kernel_gradient,
    ConvEngine, ConvGeometry,
};
use lumbar_cnn::nn::relu::{relu, Relu};
use lumbar_cnn::nn::{Layer, Pass, Sequential, Tensor};
use lumbar_cnn::plot::bar_chart::{save_bar_chart, Bar, BarChart};
use lumbar_cnn::plot::PALETTE;
use lumbar_cnn::recycling_allocator::set_recycling;
use lumbar_cnn::RecyclingAllocator;
use lumbar_cnn::Result;
use ndarray::{IxDyn, Zip};
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
    println!("\n== Each change of the chapter, before and after ==");
    println!("change 1, the recycling allocator:");
    allocator_before_after(&mut model, &x)?;
    println!("change 2, bands of at least 2·Cout rows:");
    bands_before_after(size, batch)?;
    println!("change 3, no input gradient for the first layer:");
    first_layer_before_after(size, batch)?;
    println!("change 4, ReLU as a select:");
    relu_before_after(size, batch)?;
    println!("change 5, every value written once:");
    write_once_before_after(size, batch)?;
    println!("change 6, whole kernel rows copied in im2col:");
    im2col_before_after(size, batch)?;
    println!("change 7, the AVX2 micro-kernel:");
    engines_before_after(
        "13-micro-kernel.png",
        "Change 7",
        (ConvEngine::Im2colGemm, ConvEngine::Avx2MicroKernel),
        0..6,
        size,
        batch,
    )?;
    println!("change 8, the AVX-512 micro-kernel:");
    engines_before_after(
        "13-avx512.png",
        "Change 8",
        (ConvEngine::Avx2MicroKernel, ConvEngine::Avx512MicroKernel),
        0..8,
        size,
        batch,
    )?;
    println!("change 9, Winograd's F(2×2, 3×3) forward:");
    winograd_before_after(size, batch)?;
    println!("change 10, the kernel gradient by Winograd's transforms:");
    kernel_gradient_before_after(size, batch)?;
    println!("change 11, the forward-only path:");
    inference_before_after(&mut model, &x)?;
    println!("change 12, the kernel gradient read in place:");
    implicit_kernel_gradient_before_after(size, batch)
}

/// Interleaved rounds for the before/after figures.
const ROUNDS: usize = 3;

/// The median of the rounds' `values` (the library's, `resolution_study::median`; the middle
/// one of the odd number of rounds).
fn median(values: Vec<f64>) -> f64 {
    lumbar_cnn::experiment::resolution_study::median(&values).expect("at least one round")
}

// ANCHOR: winograd_before_after
/// Change 9 before and after: every convolution of the network that Winograd's algorithm takes,
/// forward on a random batch, by the direct engine the layer would otherwise use and by
/// Winograd (same products engine), in interleaved rounds; median milliseconds.
fn winograd_before_after(size: usize, batch: usize) -> Result<()> {
    let mut bars = Vec::new();
    for i in 0..10 {
        let (g, x, kernel, cout) = conv_data(size, i, batch, 9);
        if !winograd_applies(&g, cout) {
            continue;
        }
        let direct = conv_engine(g.patch_len(), cout);
        let (before, after) = interleaved(
            || conv_forward_on(direct, &x, &g, batch, &kernel, cout, None),
            || Ok(conv_winograd(&x, &g, batch, &kernel, cout, None, &[])),
        )?;
        let (side, cin) = (g.h, g.c);
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
    // Both passes borrow the model mutably, one after the other.
    let model = std::cell::RefCell::new(model);
    let (before, after) = interleaved(
        || model.borrow_mut().forward(x, Pass::Eval),
        || model.borrow_mut().infer(x),
    )?;
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

/// One before/after pair of a figure: its label and the median milliseconds before and after.
struct Pair {
    label: String,
    before: f64,
    after: f64,
}

/// Time `before` and `after` in [`ROUNDS`] interleaved rounds (before, after, before, …) and
/// return their median milliseconds; the results are passed to `black_box`, so that the
/// compiler cannot skip the work.
fn interleaved<A, B>(
    mut before: impl FnMut() -> Result<A>,
    mut after: impl FnMut() -> Result<B>,
) -> Result<(f64, f64)> {
    let (mut b, mut a) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        std::hint::black_box(before()?);
        b.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        std::hint::black_box(after()?);
        a.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok((median(b), median(a)))
}

/// Print the pairs and draw them as one before/after figure `name`: a blue bar (before) and an
/// orange one (after) per pair, labelled `"<pair> before"`/`"<pair> after"` (or the words
/// `before`/`after` alone for a single pair).
fn before_after_figure(name: &str, title: &str, words: (&str, &str), pairs: &[Pair]) -> Result<()> {
    let mut bars = Vec::new();
    for p in pairs {
        println!(
            "  {:<24} {}: {:8.1} ms   {}: {:8.1} ms   ({:.2}×)",
            p.label,
            words.0,
            p.before,
            words.1,
            p.after,
            p.before / p.after
        );
        let prefix = if pairs.len() == 1 {
            String::new()
        } else {
            format!("{} ", p.label)
        };
        bars.push(Bar {
            label: format!("{prefix}{}", words.0),
            value: p.before,
            color: PALETTE[0],
        });
        bars.push(Bar {
            label: format!("{prefix}{}", words.1),
            value: p.after,
            color: PALETTE[1],
        });
    }
    let path = figure_path(name);
    save_bar_chart(
        &path,
        &BarChart {
            value_format: |v| format!("{v:.0}"),
            ..BarChart::new(title, "milliseconds (median of 3 rounds)", bars)
        },
    )?;
    announce(&path);
    Ok(())
}

/// The input side, channels in and out of convolution `i` (0–9) of the network at `size`.
fn conv_shape(size: usize, i: usize) -> (usize, usize, usize) {
    let channels = [32, 32, 64, 64, 128, 128, 256, 256, 512, 512];
    let cin = if i == 0 { 3 } else { channels[i - 1] };
    (size >> (i / 2), cin, channels[i])
}

/// The Keras name of convolution `i` (0–9): `conv2d`, `conv2d_1`, ….
fn layer_name(i: usize) -> String {
    if i == 0 {
        "conv2d".to_string()
    } else {
        format!("conv2d_{i}")
    }
}

/// Random inputs and kernel for convolution `i` on a batch of `batch` at `size`.
fn conv_data(
    size: usize,
    i: usize,
    batch: usize,
    seed: u64,
) -> (ConvGeometry, Vec<f32>, Vec<f32>, usize) {
    let (side, cin, cout) = conv_shape(size, i);
    let g = ConvGeometry::same(side, side, cin, (3, 3));
    let mut rng = StdRng::seed_from_u64(seed);
    let x: Vec<f32> = (0..batch * g.image_len()).map(|_| rng.random()).collect();
    let kernel: Vec<f32> = (0..9 * cin * cout)
        .map(|_| rng.random::<f32>() - 0.5)
        .collect();
    (g, x, kernel, cout)
}

// ANCHOR: allocator_before_after
/// Change 1 before and after: one training step with recycling off (every large block from the
/// system, fresh pages each step) and on (after its warm-up steps), with the page faults.
fn allocator_before_after(model: &mut Sequential, x: &Tensor) -> Result<()> {
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let (mut faults_before, mut faults_after) = (Vec::new(), Vec::new());
    let mut step = |times: &mut Vec<f64>, faults: &mut Vec<f64>| -> Result<()> {
        let f0 = minor_page_faults();
        let start = Instant::now();
        time_one_step(model.layers_mut(), x)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        if let Some((a, b)) = f0.zip(minor_page_faults()) {
            faults.push((b - a) as f64);
        }
        Ok(())
    };
    for _ in 0..ROUNDS {
        set_recycling(false);
        step(&mut before, &mut faults_before)?;
        set_recycling(true);
        for _ in 0..lumbar_cnn::cli::bench::WARM_UP_STEPS {
            step(&mut Vec::new(), &mut Vec::new())?;
        }
        step(&mut after, &mut faults_after)?;
    }
    if !faults_before.is_empty() {
        println!(
            "  page faults per step: {:.0} without recycling, {:.0} with it",
            median(faults_before),
            median(faults_after)
        );
    }
    let shape = x.shape();
    before_after_figure(
        "13-allocator.png",
        &format!(
            "Change 1: one training step, {}×{}, batch {}",
            shape[1], shape[2], shape[0]
        ),
        ("system allocator", "recycling allocator"),
        &[Pair {
            label: "training step".into(),
            before: median(before),
            after: median(after),
        }],
    )
}
// ANCHOR_END: allocator_before_after

/// Change 2 before and after: the last four convolutions forward on the portable engine
/// (im2col + `matrixmultiply`), in bands that only fit the cache and in bands of at least
/// `2·Cout` rows.
fn bands_before_after(size: usize, batch: usize) -> Result<()> {
    let mut pairs = Vec::new();
    for i in 6..10 {
        let (g, x, kernel, cout) = conv_data(size, i, batch, 2);
        let k = g.patch_len();
        let old = cache_band_rows(k);
        let new = band_rows(k, cout, batch * g.out_pixels());
        let (before, after) = interleaved(
            || {
                Ok(conv_im2col_gemm_in_bands(
                    &x,
                    &g,
                    batch,
                    &kernel,
                    cout,
                    None,
                    &[],
                    old,
                ))
            },
            || {
                Ok(conv_im2col_gemm_in_bands(
                    &x,
                    &g,
                    batch,
                    &kernel,
                    cout,
                    None,
                    &[],
                    new,
                ))
            },
        )?;
        println!("  conv2d_{i}: bands of {old} rows before, {new} after");
        pairs.push(Pair {
            label: format!("conv2d_{i}"),
            before,
            after,
        });
    }
    before_after_figure(
        "13-bands.png",
        &format!("Change 2: forward, im2col + GEMM, {size}×{size}, batch {batch}"),
        ("cache-sized bands", "≥ 2·Cout rows"),
        &pairs,
    )
}

/// Change 3 before and after: the first convolution's backward pass with the input gradient
/// (which nobody needs) and without it.
fn first_layer_before_after(size: usize, batch: usize) -> Result<()> {
    let (g, x, kernel, cout) = conv_data(size, 0, batch, 3);
    let dy = conv_forward(&x, &g, batch, &kernel, cout, None);
    let (before, after) = interleaved(
        || {
            conv_kernel_gradient(&x, &g, batch, &dy, cout);
            conv_input_gradient(&dy, &g, batch, &kernel, (g.c, cout));
            Ok(())
        },
        || Ok(conv_kernel_gradient(&x, &g, batch, &dy, cout)),
    )?;
    before_after_figure(
        "13-first-layer.png",
        &format!("Change 3: backward pass of conv2d (3→32), {size}×{size}, batch {batch}"),
        ("with input gradient", "kernel gradient only"),
        &[Pair {
            label: "conv2d backward".into(),
            before,
            after,
        }],
    )
}

// ANCHOR: relu_branch
/// ReLU as it was first written: a branch per value, which keeps NaN (chapter 6).
fn relu_with_branch(v: &mut f32) {
    let positive = *v > 0.0;
    if !positive && !v.is_nan() {
        *v = 0.0;
    }
}
// ANCHOR_END: relu_branch

/// Change 4 before and after: ReLU over the first block's feature map (`[batch, S, S, 32]`),
/// in place and in parallel, with a branch per value and as the select of [`relu`].
fn relu_before_after(size: usize, batch: usize) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(4);
    let original = Tensor::from_shape_fn(IxDyn(&[batch, size, size, 32]), |_| {
        rng.random::<f32>() - 0.5
    });
    // Both closures work on the same buffer, first refilled from `original`.
    let map = std::cell::RefCell::new(original.clone());
    let (before, after) = interleaved(
        || {
            let mut map = map.borrow_mut();
            map.assign(&original);
            map.par_map_inplace(relu_with_branch);
            Ok(())
        },
        || {
            let mut map = map.borrow_mut();
            map.assign(&original);
            map.par_mapv_inplace(relu);
            Ok(())
        },
    )?;
    before_after_figure(
        "13-relu-select.png",
        &format!("Change 4: ReLU in place on {batch}×{size}×{size}×32 (copy included)"),
        ("branch", "select"),
        &[Pair {
            label: "ReLU".into(),
            before,
            after,
        }],
    )
}

/// Change 5 before and after: ReLU's forward pass on the first block's feature map, as first
/// written (a serial copy of the input and a zeroed mask, then both changed in parallel) and as
/// the layer does it now (one parallel pass writing output and mask once).
fn write_once_before_after(size: usize, batch: usize) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(5);
    let map = Tensor::from_shape_fn(IxDyn(&[batch, size, size, 32]), |_| {
        rng.random::<f32>() - 0.5
    });
    let mut layer = Relu::new("re_lu");
    let (before, after) = interleaved(
        || {
            let mut y = map.to_owned();
            let mut mask = ndarray::ArrayD::from_elem(map.raw_dim(), false);
            Zip::from(&mut y).and(&mut mask).par_for_each(|v, m| {
                *m = *v > 0.0;
                *v = relu(*v);
            });
            Ok(())
        },
        || layer.forward(&map, Pass::Train { step: 0 }),
    )?;
    before_after_figure(
        "13-write-once.png",
        &format!("Change 5: ReLU forward with its mask, {batch}×{size}×{size}×32"),
        ("serial copy, then parallel", "written once, in parallel"),
        &[Pair {
            label: "ReLU forward".into(),
            before,
            after,
        }],
    )
}

// ANCHOR: im2col_by_tap
/// im2col rows as they were filled before change 6: one copy of `C` values per kernel
/// position `(ky, kx)`, zeros where the window hangs over the border.
fn im2col_rows_by_tap(x: &[f32], g: &ConvGeometry, first_row: usize, col: &mut [f32]) {
    let k = g.patch_len();
    for (r, row) in col.chunks_mut(k).enumerate() {
        let pixel = first_row + r;
        let (n, oy, ox) = (pixel / (g.ho * g.wo), pixel / g.wo % g.ho, pixel % g.wo);
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let target = &mut row[(ky * g.kw + kx) * g.c..][..g.c];
                let (iy, ix) = (
                    (oy + ky) as isize - g.pad_top as isize,
                    (ox + kx) as isize - g.pad_left as isize,
                );
                if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                    target.fill(0.0);
                } else {
                    let start = ((n * g.h + iy as usize) * g.w + ix as usize) * g.c;
                    target.copy_from_slice(&x[start..start + g.c]);
                }
            }
        }
    }
}
// ANCHOR_END: im2col_by_tap

/// Change 6 before and after: the im2col rows of the whole batch for the first convolution
/// (3 channels), in bands of 1,024 rows on one thread, a copy per kernel position and a copy
/// per kernel row. Both must give the same matrix.
fn im2col_before_after(size: usize, batch: usize) -> Result<()> {
    let (g, x, _, _) = conv_data(size, 0, batch, 6);
    let k = g.patch_len();
    let rows = batch * g.out_pixels();
    let band = 1024;
    let (mut old_col, mut new_col) = (vec![0.0f32; band * k], vec![0.0f32; band * k]);
    for first in (0..rows).step_by(band).take(4) {
        let n = band.min(rows - first);
        im2col_rows_by_tap(&x, &g, first, &mut old_col[..n * k]);
        im2col_rows(&x, &g, first, &mut new_col[..n * k]);
        if old_col[..n * k] != new_col[..n * k] {
            return Err(lumbar_cnn::Error::invalid(format!(
                "im2col_rows and the copy per kernel position differ in the band at row {first}"
            )));
        }
    }
    let fill = |f: fn(&[f32], &ConvGeometry, usize, &mut [f32]), col: &mut Vec<f32>| {
        for first in (0..rows).step_by(band) {
            let n = band.min(rows - first);
            f(&x, &g, first, &mut col[..n * k]);
        }
    };
    let (before, after) = interleaved(
        || {
            fill(im2col_rows_by_tap, &mut old_col);
            Ok(())
        },
        || {
            fill(im2col_rows, &mut new_col);
            Ok(())
        },
    )?;
    before_after_figure(
        "13-im2col-rows.png",
        &format!("Change 6: im2col of conv2d (3 channels), {size}×{size}, batch {batch}, 1 thread"),
        ("a copy per kernel position", "a copy per kernel row"),
        &[Pair {
            label: "im2col".into(),
            before,
            after,
        }],
    )
}

/// Changes 7 and 8 before and after: each convolution's forward pass on two engines, where
/// this CPU has both (else the console says which is missing and no figure is drawn).
fn engines_before_after(
    name: &str,
    change: &str,
    (old, new): (ConvEngine, ConvEngine),
    layers: std::ops::Range<usize>,
    size: usize,
    batch: usize,
) -> Result<()> {
    for engine in [old, new] {
        if !engine.cpu_has_it() {
            println!(
                "  {change} skipped: this CPU lacks the instructions of the {} (figure {name} not drawn)",
                engine.name()
            );
            return Ok(());
        }
    }
    let mut pairs = Vec::new();
    for i in layers {
        let (g, x, kernel, cout) = conv_data(size, i, batch, 7);
        let (before, after) = interleaved(
            || conv_forward_on(old, &x, &g, batch, &kernel, cout, None),
            || conv_forward_on(new, &x, &g, batch, &kernel, cout, None),
        )?;
        pairs.push(Pair {
            label: layer_name(i),
            before,
            after,
        });
    }
    let title = format!("{change}: forward per convolution, {size}×{size}, batch {batch}");
    before_after_figure(name, &title, (&old.name(), &new.name()), &pairs)
}

/// A kernel-gradient engine: `(x, geometry, images, dy, cout) → dK̂`, as
/// `conv_kernel_gradient` and `implicit_kernel_gradient` are.
type KernelGradient = fn(&[f32], &ConvGeometry, usize, &[f32], usize) -> Vec<f32>;

/// The kernel gradients of the convolutions that `takes`, by im2col + GEMM
/// (`conv_kernel_gradient_direct`) and by `after`, in interleaved rounds (changes 10 and 12).
fn kernel_gradient_pairs(
    size: usize,
    batch: usize,
    seed: u64,
    takes: fn(&ConvGeometry, usize) -> bool,
    after: KernelGradient,
) -> Result<Vec<Pair>> {
    let mut pairs = Vec::new();
    for i in 0..10 {
        let (g, x, kernel, cout) = conv_data(size, i, batch, seed);
        if !takes(&g, cout) {
            continue;
        }
        let dy = conv_forward(&x, &g, batch, &kernel, cout, None);
        let (before, after) = interleaved(
            || Ok(conv_kernel_gradient_direct(&x, &g, batch, &dy, cout)),
            || Ok(after(&x, &g, batch, &dy, cout)),
        )?;
        pairs.push(Pair {
            label: layer_name(i),
            before,
            after,
        });
    }
    Ok(pairs)
}

/// Change 10 before and after: the kernel gradients that Winograd's transforms compute, by
/// im2col + GEMM and by the transforms.
fn kernel_gradient_before_after(size: usize, batch: usize) -> Result<()> {
    let pairs = kernel_gradient_pairs(
        size,
        batch,
        10,
        winograd_kernel_gradient_applies,
        conv_kernel_gradient,
    )?;
    if pairs.is_empty() {
        println!("  change 10 skipped: no kernel gradient takes Winograd's transforms here");
        return Ok(());
    }
    before_after_figure(
        "13-kernel-gradient.png",
        &format!("Change 10: kernel gradient per convolution, {size}×{size}, batch {batch}"),
        ("im2col + GEMM", "Winograd"),
        &pairs,
    )
}

/// Change 12 before and after: every kernel gradient the AVX-512 micro-kernel reading im2col in
/// place would take (output rows of at least 16 pixels; in training Winograd's transforms come
/// first from 256 channels), by im2col + GEMM and by it, where this CPU has AVX-512F.
fn implicit_kernel_gradient_before_after(size: usize, batch: usize) -> Result<()> {
    let pairs = kernel_gradient_pairs(
        size,
        batch,
        12,
        implicit_kernel_gradient_applies,
        implicit_kernel_gradient,
    )?;
    if pairs.is_empty() {
        println!(
            "  change 12 skipped: no kernel gradient takes the AVX-512 micro-kernel here (it needs AVX-512F; figure 13-implicit-kernel-gradient.png not drawn)"
        );
        return Ok(());
    }
    before_after_figure(
        "13-implicit-kernel-gradient.png",
        &format!("Change 12: kernel gradient per convolution, {size}×{size}, batch {batch}"),
        ("im2col + GEMM", "read in place, AVX-512"),
        &pairs,
    )
}
