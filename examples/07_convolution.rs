//! Chapter 7 of the book: first the chapter's hand-worked example (a 4×4 input and a 3×3
//! kernel: the output, the im2col matrix and the input gradient, computed by the reference
//! convolution and checked against the numbers the chapter computes by hand); then one
//! convolution computed four ways — nested loops, im2col with a textbook matrix product, im2col
//! with a tuned GEMM on one thread, and the same on every core with rayon — checked equal and
//! timed; plus, on CPUs with AVX2 or AVX-512, the layer's fast path of chapter 13 for comparison.
//!
//! `cargo run --release --example 07_convolution`
//! (figures: `book/src/figures/07-sliding-window.png`, `07-im2col.png` and `07-gflops.png`;
//! `LUMBAR_BOOK_TINY=1` runs a tiny layer and writes the figures to a temporary folder
//! instead).

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
use lumbar_cnn::plot::number_grid::{
    format_number, save_grid_figure, tint, GridFigure, NumberGrid, Panel,
};
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

/// The chapter's worked example: a 4×4 single-channel image, a 3×3 kernel (not symmetric, so
/// that rotating it by 180° changes it) and an upstream gradient for the 2×2 `valid` output.
#[rustfmt::skip]
const X: [f32; 16] = [
    1.0, 2.0, 0.0, 1.0,
    0.0, 1.0, 3.0, 1.0,
    2.0, 1.0, 0.0, 2.0,
    1.0, 0.0, 1.0, 3.0,
];
#[rustfmt::skip]
const K: [f32; 9] = [
    1.0,  0.0, -1.0,
    2.0,  1.0,  0.0,
    0.0, -1.0,  1.0,
];
const DY: [f32; 4] = [1.0, 0.0, 0.0, 2.0];

// The numbers the chapter computes by hand, to check the library against.
const HAND_Y: [f32; 4] = [1.0, 8.0, 3.0, 4.0];
#[rustfmt::skip]
const HAND_DX: [f32; 16] = [
    1.0, 0.0, -1.0,  0.0,
    2.0, 3.0,  0.0, -2.0,
    0.0, 3.0,  3.0,  0.0,
    0.0, 0.0, -2.0,  2.0,
];
#[rustfmt::skip]
const HAND_Y_SAME: [f32; 16] = [
     2.0, 6.0, 2.0, 0.0,
    -3.0, 1.0, 8.0, 5.0,
     0.0, 3.0, 4.0, 2.0,
     0.0, 4.0, 0.0, 5.0,
];

/// The output pixel the figures single out, `(oy, ox)`.
const SHOWN: (usize, usize) = (0, 1);

/// A single-image, single-channel tensor `[1, rows, columns, 1]` of `values` (row-major).
fn image(rows: usize, columns: usize, values: &[f32]) -> Result<Tensor> {
    Tensor::from_shape_vec(IxDyn(&[1, rows, columns, 1]), values.to_vec())
        .map_err(|e| Error::invalid(format!("a {rows}×{columns} image: {e}")))
}

/// Print `values` as a matrix of `columns` columns under `name`.
fn print_matrix(name: &str, values: &[f32], columns: usize) {
    println!("{name}");
    for row in values.chunks(columns) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:>3}")).collect();
        println!("  [{} ]", cells.join(""));
    }
}

/// An error unless the library's `got` equals the chapter's hand computation `hand` (small
/// integers: exact in `f32`).
fn agrees(what: &str, got: &[f32], hand: &[f32]) -> Result<()> {
    if got != hand {
        return Err(Error::invalid(format!(
            "{what}: the library gives {got:?}, the hand computation {hand:?}"
        )));
    }
    println!("{what} matches the hand computation");
    Ok(())
}

/// `"2·1 + 0·0 + 1·(−1) + …"`: the products of one im2col row with the kernel, as the chapter
/// writes them.
fn products(row: &[f32], kernel: &[f32]) -> String {
    let factor = |v: f32| {
        if v < 0.0 {
            format!("({})", format_number(v))
        } else {
            format_number(v)
        }
    };
    let terms: Vec<String> = row
        .iter()
        .zip(kernel)
        .map(|(&a, &b)| format!("{}·{}", factor(a), factor(b)))
        .collect();
    terms.join(" + ")
}

/// The chapter's worked example: the `valid` and `same` outputs, the im2col matrix and
/// `col · k`, and the input gradient two ways (by the definition, and as the `full`
/// convolution of `dy` with the kernel rotated by 180°), each checked against the hand
/// computation; then the two figures.
fn worked_example() -> Result<()> {
    let (x, dy) = (image(4, 4, &X)?, image(2, 2, &DY)?);
    let kernel = Tensor::from_shape_vec(IxDyn(&[3, 3, 1, 1]), K.to_vec())
        .map_err(|e| Error::invalid(format!("the 3×3 kernel: {e}")))?;
    let no_bias = Tensor::zeros(IxDyn(&[1]));
    let as_slice = |t: &Tensor| t.iter().copied().collect::<Vec<f32>>();
    println!("== The worked example: a 4×4 input and a 3×3 kernel ==\n");
    print_matrix("x =", &X, 4);
    print_matrix("K =", &K, 3);

    let y = as_slice(&reference::forward(&x, &kernel, &no_bias, Padding::Valid)?);
    print_matrix("y = x ⊛ K (valid) =", &y, 2);
    agrees("valid output", &y, &HAND_Y)?;

    let g = ConvGeometry {
        h: 4,
        w: 4,
        c: 1,
        kh: 3,
        kw: 3,
        pad_top: 0,
        pad_left: 0,
        ho: 2,
        wo: 2,
    };
    let mut col = vec![0.0f32; g.out_pixels() * g.patch_len()];
    im2col_rows(&X, &g, 0, &mut col);
    print_matrix("col(x), one row per output pixel =", &col, 9);
    let mut col_k = vec![0.0f32; 4];
    textbook_matmul(4, 9, 1, &col, &K, &mut col_k);
    print_matrix("col(x) · k =", &col_k, 1);
    agrees("col(x) · k", &col_k, &HAND_Y)?;
    let shown_row = SHOWN.0 * 2 + SHOWN.1;
    let arithmetic = format!(
        "y({}, {}) = {} = {}",
        SHOWN.0,
        SHOWN.1,
        products(&col[shown_row * 9..][..9], &K),
        format_number(y[shown_row])
    );
    println!("{arithmetic}");

    let y_same = as_slice(&reference::forward(&x, &kernel, &no_bias, Padding::Same)?);
    print_matrix("x ⊛ K (same: one zero all round) =", &y_same, 4);
    agrees("same output", &y_same, &HAND_Y_SAME)?;

    print_matrix("\ndy =", &DY, 2);
    let dx = as_slice(&reference::input_gradient(&kernel, &dy, Padding::Valid)?);
    print_matrix("dL/dx by the definition =", &dx, 4);
    agrees("input gradient", &dx, &HAND_DX)?;
    // The same as a `full` convolution: dy padded by k − 1 = 2 zeros all round, convolved
    // (`valid`) with the kernel rotated by 180°.
    let mut padded = vec![0.0f32; 36];
    for (i, &v) in DY.iter().enumerate() {
        padded[(i / 2 + 2) * 6 + i % 2 + 2] = v;
    }
    let rotated: Vec<f32> = K.iter().rev().copied().collect();
    print_matrix("K rotated by 180° =", &rotated, 3);
    let rotated = Tensor::from_shape_vec(IxDyn(&[3, 3, 1, 1]), rotated)
        .map_err(|e| Error::invalid(format!("the rotated kernel: {e}")))?;
    let full = reference::forward(&image(6, 6, &padded)?, &rotated, &no_bias, Padding::Valid)?;
    let full = as_slice(&full);
    print_matrix("dy (padded by 2) ⊛ rotated K =", &full, 4);
    agrees("full convolution", &full, &HAND_DX)?;

    let sliding = sliding_window_figure(&y, &arithmetic)?;
    let path = figure_path("07-sliding-window.png");
    save_grid_figure(&path, &sliding)?;
    announce(&path);
    let path = figure_path("07-im2col.png");
    save_grid_figure(&path, &im2col_figure(&col, &y)?)?;
    announce(&path);
    println!();
    Ok(())
}

/// The colour of output pixel `r` (row-major) in both figures: a light tint of the palette.
fn pixel_color(r: usize) -> plotters::style::RGBColor {
    tint(PALETTE[r], 0.35)
}

/// Figure 7.1: the input with the window of output pixel [`SHOWN`], the kernel, and the output
/// with that pixel; `arithmetic` (its sum written out) under them.
fn sliding_window_figure(y: &[f32], arithmetic: &str) -> Result<GridFigure> {
    let (oy, ox) = SHOWN;
    let (color, shown) = (PALETTE[oy * 2 + ox], pixel_color(oy * 2 + ox));
    let input = NumberGrid::new("input x (4×4)", &X, 4)?
        .with_indices()
        .fill(oy..oy + 3, ox..ox + 3, shown)?
        .outline(oy..oy + 3, ox..ox + 3, color)?;
    let kernel = NumberGrid::new("kernel K (3×3)", &K, 3)?
        .with_indices()
        .fill(0..3, 0..3, plotters::style::RGBColor(235, 235, 235))?;
    let output = NumberGrid::new("output y (2×2, valid)", y, 2)?
        .with_indices()
        .fill(oy..oy + 1, ox..ox + 1, shown)?
        .outline(oy..oy + 1, ox..ox + 1, color)?;
    Ok(GridFigure {
        title: format!(
            "Output pixel ({oy}, {ox}): the window of x at rows {oy}–{}, columns {ox}–{}, \
             times K, summed",
            oy + 2,
            ox + 2
        ),
        panels: vec![
            Panel::Grid(input),
            Panel::Symbol("⊛".to_string()),
            Panel::Grid(kernel),
            Panel::Symbol("=".to_string()),
            Panel::Grid(output),
        ],
        notes: vec![arithmetic.to_string()],
    })
}

/// Figure 7.2: the im2col matrix, each row in the colour of its output pixel, times the kernel
/// as a column of 9 equals the output as a column of 4.
fn im2col_figure(col: &[f32], y: &[f32]) -> Result<GridFigure> {
    let pixels = ["(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"].map(String::from);
    let positions: Vec<String> = (0..9).map(|i| format!("{},{}", i / 3, i % 3)).collect();
    let mut matrix = NumberGrid::new("col(x): one row per output pixel (oy, ox)", col, 9)?;
    let mut output = NumberGrid::new("y", y, 1)?;
    for r in 0..4 {
        matrix = matrix.fill(r..r + 1, 0..9, pixel_color(r))?;
        output = output.fill(r..r + 1, 0..1, pixel_color(r))?;
    }
    matrix.row_labels = pixels.to_vec();
    matrix.column_labels = positions.clone();
    let mut kernel =
        NumberGrid::new("k", &K, 1)?.fill(0..9, 0..1, plotters::style::RGBColor(235, 235, 235))?;
    kernel.row_labels = positions;
    Ok(GridFigure {
        title: "im2col: the window of each output pixel becomes a row; columns are (ky, kx)"
            .to_string(),
        panels: vec![
            Panel::Grid(matrix),
            Panel::Symbol("×".to_string()),
            Panel::Grid(kernel),
            Panel::Symbol("=".to_string()),
            Panel::Grid(output),
        ],
        notes: vec![
            "row r of col(x) times k is output pixel r: the same sums as the sliding window"
                .to_string(),
        ],
    })
}

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
    worked_example()?;

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
        let y = conv_im2col_gemm(xs, &g, batch, ks, cout, bias.as_slice(), &[]);
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
