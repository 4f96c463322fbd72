//! Chapter 7 of the book: one convolution computed four ways — nested loops, im2col with a
//! textbook matrix product, im2col with a tuned GEMM on one thread, and the same on every core
//! with rayon — checked equal and timed; plus, on CPUs with AVX2 or AVX-512, the layer's fast
//! path of chapter 13 for comparison.
//!
//! `cargo run --release --example 07_convolution`
//! (figure: `book/src/figures/07-gflops.png`; `LUMBAR_BOOK_TINY=1` runs a tiny layer and writes
//! the figure to a temporary folder instead).

/// Timed like `lumbar bench`: large freed blocks are recycled (chapter 13, change 1).
#[global_allocator]
static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;

use lumbar_cnn::book_examples::{announce, figure_path, tiny};
use lumbar_cnn::nn::engine::conv::conv_im2col_gemm;
use lumbar_cnn::nn::engine::im2col::{im2col_rows, ConvGeometry};
use lumbar_cnn::nn::engine::{conv_engine, ConvEngine};
use lumbar_cnn::nn::reference::conv2d as reference;
use lumbar_cnn::nn::{Conv2d, Layer, Padding, Pass, Tensor};
use lumbar_cnn::plot::bar_chart::{save_bar_chart, Bar, BarChart};
use lumbar_cnn::plot::PALETTE;
use lumbar_cnn::RecyclingAllocator;
use lumbar_cnn::{Error, Result};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

// ANCHOR: textbook_matmul
/// `C[m×n] = A[m×k] · B[k×n]` (row-major) by the definition: one dot product per entry.
fn textbook_matmul(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0;
            for p in 0..k {
                sum += a[i * k + p] * b[p * n + j];
            }
            c[i * n + j] += sum;
        }
    }
}

/// The geometry of a 3×3 `same` convolution of `[h, w, c]` images.
fn same_3x3(h: usize, w: usize, c: usize) -> ConvGeometry {
    ConvGeometry {
        h,
        w,
        c,
        kh: 3,
        kw: 3,
        pad_top: 1,
        pad_left: 1,
        ho: h,
        wo: w,
    }
}

/// A 3×3 `same` convolution as im2col followed by the textbook product, image by image.
fn conv_im2col_textbook(x: &Tensor, kernel: &Tensor, bias: &Tensor) -> Tensor {
    let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let cout = kernel.shape()[3];
    let g = same_3x3(h, w, c);
    let (xs, ks) = (x.as_slice().unwrap(), kernel.as_slice().unwrap());
    let mut y = vec![0.0f32; n * h * w * cout];
    let mut col = vec![0.0f32; g.out_pixels() * g.patch_len()];
    for (x_n, y_n) in xs.chunks(h * w * c).zip(y.chunks_mut(h * w * cout)) {
        im2col_rows(x_n, &g, 0, &mut col);
        for row in y_n.chunks_mut(cout) {
            row.copy_from_slice(bias.as_slice().unwrap());
        }
        textbook_matmul(g.out_pixels(), g.patch_len(), cout, &col, ks, y_n);
    }
    Tensor::from_shape_vec(IxDyn(&[n, h, w, cout]), y).unwrap()
}
// ANCHOR_END: textbook_matmul

/// The fastest of `repeats` runs of `f`, in seconds, and its last result.
fn best_time(repeats: usize, mut f: impl FnMut() -> Result<Tensor>) -> Result<(f64, Tensor)> {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..repeats {
        let start = Instant::now();
        let y = f()?;
        best = best.min(start.elapsed().as_secs_f64());
        out = Some(y);
    }
    Ok((best, out.expect("at least one run")))
}

fn max_difference(a: &Tensor, b: &Tensor) -> f32 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn main() -> Result<()> {
    // The second convolution block of the paper's network (32 → 64 channels, 3×3, same)
    // on 64×64 feature maps, a batch of 4. Tiny mode: 16×16, one image.
    let (batch, size, cin, cout) = if tiny() {
        (1, 16, 32, 64)
    } else {
        (4, 64, 32, 64)
    };
    let repeats = if tiny() { 1 } else { 3 };
    let mut rng = StdRng::seed_from_u64(7);
    let mut conv = Conv2d::new("conv2d_2", (3, 3), cin, cout, Padding::Same, &mut rng);
    conv.params_mut()[1].value = Tensor::from_shape_fn(IxDyn(&[cout]), |i| 0.01 * i[0] as f32);
    let x = Tensor::from_shape_fn(IxDyn(&[batch, size, size, cin]), |_| {
        rng.random_range(-1.0..1.0)
    });
    let (kernel, bias) = (conv.kernel().clone(), conv.bias().clone());
    let flops = 2.0 * (batch * size * size * cout * 9 * cin) as f64;
    let threads = rayon::current_num_threads();
    println!(
        "layer: x [{batch}, {size}, {size}, {cin}] * kernel [3, 3, {cin}, {cout}], same padding: {:.3} GFLOP",
        flops / 1e9
    );

    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::invalid(format!("cannot build a one-thread pool: {e}")))?;
    let (t_naive, y_naive) = best_time(repeats, || {
        reference::forward(&x, &kernel, &bias, Padding::Same)
    })?;
    let (t_textbook, y_textbook) =
        best_time(repeats, || Ok(conv_im2col_textbook(&x, &kernel, &bias)))?;
    // The layer's portable engine (im2col bands + matrixmultiply), called directly.
    let im2col_gemm = || {
        let g = same_3x3(size, size, cin);
        let (xs, ks) = (x.as_slice().unwrap(), kernel.as_slice().unwrap());
        let y = conv_im2col_gemm(xs, &g, batch, ks, cout, bias.as_slice());
        Ok(Tensor::from_shape_vec(IxDyn(&[batch, size, size, cout]), y).expect("output size"))
    };
    let (t_gemm, y_gemm) = best_time(repeats, || one_thread.install(im2col_gemm))?;
    let (t_rayon, y_rayon) = best_time(repeats, im2col_gemm)?;

    let mut methods = vec![
        ("nested loops", t_naive, y_naive.clone(), 1),
        ("im2col + textbook matmul", t_textbook, y_textbook, 1),
        ("im2col + GEMM", t_gemm, y_gemm, 1),
        ("im2col + GEMM + rayon", t_rayon, y_rayon, threads),
    ];
    let fast_path = match conv_engine(9 * cin, cout) {
        ConvEngine::Avx512MicroKernel => Some("AVX-512 micro-kernel + rayon"),
        ConvEngine::Avx2MicroKernel => Some("AVX2 micro-kernel + rayon"),
        ConvEngine::Im2colGemm => None,
    };
    if let Some(name) = fast_path {
        // What `Conv2d::forward` runs on this CPU: chapter 13's fast path.
        let (t_fast, y_fast) = best_time(repeats, || conv.forward(&x, Pass::Eval))?;
        methods.push((name, t_fast, y_fast, threads));
    }
    println!(
        "\n{:<26}{:>8}{:>11}{:>10}{:>18}",
        "method", "threads", "time (ms)", "GFLOP/s", "max |Δ| vs loops"
    );
    for (name, t, y, th) in &methods {
        println!(
            "{name:<26}{th:>8}{:>11.1}{:>10.2}{:>18.1e}",
            t * 1e3,
            flops / t / 1e9,
            max_difference(y, &y_naive)
        );
    }
    for (name, _, y, _) in &methods {
        if max_difference(y, &y_naive) > 1e-3 {
            return Err(Error::invalid(format!(
                "{name} disagrees with the nested loops"
            )));
        }
    }

    let bars = methods
        .iter()
        .enumerate()
        .map(|(i, (name, t, _, th))| Bar {
            label: format!("{name}\n{th} thread{}", if *th == 1 { "" } else { "s" }),
            value: flops / t / 1e9,
            color: PALETTE[i],
        })
        .collect();
    let title = format!("Conv 3×3, {cin}→{cout} channels, {batch}×{size}×{size}: GFLOP/s");
    let path = figure_path("07-gflops.png");
    save_bar_chart(
        &path,
        &BarChart {
            // The bars span 0.3 to about 110 GFLOP/s: a log axis shows the slow ones too.
            log_y: true,
            value_format: |v| format!("{v:.2}"),
            ..BarChart::new(&title, "GFLOP/s (higher is faster, log scale)", bars)
        },
    )?;
    announce(&path);
    Ok(())
}
