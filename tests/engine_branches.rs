//! The fast convolution equals its reference on shapes that reach every branch of the engine the
//! paper's network runs: forward, input gradient, kernel gradient and bias gradient, through the
//! `Conv2d` layer, against `nn::reference::conv2d` (the definitions as nested loops).
//!
//! Which branch a shape reaches is decided by a few constants of `nn::conv2d` and
//! `nn::engine::micro_kernel_avx2`; each case below works out, in its comment, which branches it reaches and
//! why, and the test asserts the branch facts from the shapes before it computes anything, so a
//! case that stops reaching its branch (after a change of a constant) fails instead of passing
//! while testing something else.
//!
//! **Which micro-kernel.** The tile arithmetic in the comments is the AVX2 micro-kernel's, which
//! the layer runs on CPUs with AVX2 and FMA but not AVX-512F. On a CPU with AVX-512F the layer
//! runs the AVX-512 micro-kernel (whose own branches `tests/engine_avx512.rs` covers), which
//! also takes 256 output channels; there every case also runs the engine its comments describe
//! by name (`conv_forward_on`, `conv_input_gradient_on`) and holds it to the reference (and an
//! AVX2 result to the layer's AVX-512 bits), so the branches below are still tested. The
//! constants, for the arithmetic:
//!
//! - `band_rows(k, cout, rows) = max(max(BAND_FLOATS / k, MIN_BAND_ROWS), min(2·cout,
//!   ⌈rows / MIN_BANDS⌉))` with `BAND_FLOATS = 65,536`, `MIN_BAND_ROWS = 128`, `MIN_BANDS = 8`:
//!   the pixels (im2col rows) per band, `k = kh·kw·cin` values per row.
//! - The portable engine cuts the `rows` output pixels into bands of `band_rows` pixels; the
//!   AVX2 engine into bands of `⌈band_rows / wo⌉` whole image rows (a band may run from one
//!   image into the next).
//! - The AVX2 micro-kernel is taken when `cout` is a multiple of `NR = 16` and at most
//!   `MAX_CHANNELS = 128` (and the CPU has AVX2 and FMA). Its tiles are `MR = 6` pixels of one
//!   image row; a tile is an *edge tile* (read from a copied strip with the zeros) when its
//!   window crosses the left or right border; kernel rows above or below the image are skipped.
//!   The inner dimension is walked per kernel row (a *segment* of `kw·c` values): short
//!   segments grouped `⌊KC / (kw·c)⌋` at a time, long ones cut into `⌈kw·c / KC⌉` pieces,
//!   `KC = 256`; pixel blocks are `max(⌊MC / wo⌋, 1)` image rows, `MC = 120`.
//! - The input gradient is the convolution of `dy` (`c = cout` channels) with the flipped
//!   kernel into `cin` channels: `k' = kh·kw·cout`, `cout' = cin`, padded by `kh−1−pt`.
//! - The kernel gradient builds the whole im2col matrix when `rows·k ≤ WHOLE_COL_FLOATS =
//!   4,194,304`; above, it sums band by band in `parts = min(bands, WEIGHT_GRAD_PARTS = 8)`
//!   partial sums of `⌈bands / parts⌉` bands each, added in order.
//!
//! **Cost.** The reference loops run at roughly 0.15 (forward, dynamic-rank indexing, as the
//! book times it) to 0.5 GMAC/s (gradients); each case is about `rows·k·cout` multiply-adds per
//! pass, given next to it, done twice per pass (the sums, and the sums of squared terms that
//! scale the tolerance): about 5.5 G multiply-adds in all, 17 s of CPU time in release
//! (`cargo test --release --test engine_branches`), spread over the test threads.

use lumbar_cnn::nn::engine::bands::band_rows;
use lumbar_cnn::nn::engine::conv::{WEIGHT_GRAD_PARTS, WHOLE_COL_FLOATS};
use lumbar_cnn::nn::engine::implicit_im2col::{
    automatic_micro_kernel, MicroKernel as Kernel, PackedKernel, CHANNEL_STEP, PORTABLE_ENV,
};
use lumbar_cnn::nn::engine::micro_kernel_avx2::MAX_CHANNELS;
use lumbar_cnn::nn::engine::winograd::winograd_applies;
use lumbar_cnn::nn::engine::{
    conv_engine, conv_forward_on, conv_input_gradient_on, ConvEngine, ConvGeometry,
};
use lumbar_cnn::nn::reference::conv2d as reference;
use lumbar_cnn::nn::{Conv2d, Layer, Padding, Pass, Tensor};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// The engine's branch rules, from its public constants and functions: the only place this file
// looks inside the engine.

/// Which engine multiplies im2col rows by the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// A micro-kernel reading im2col rows in place (`engine::micro_kernel_avx2`, or
    /// `engine::micro_kernel_avx512` on CPUs with AVX-512F).
    MicroKernel,
    /// The portable engine: im2col bands and `matrixmultiply`.
    Im2col,
}

/// How the kernel gradient sums over the batch's output pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KernelGradient {
    /// One GEMM over the whole im2col matrix (`rows·k ≤ WHOLE_COL_FLOATS`).
    WholeCol,
    /// `parts` partial sums of `bands_per_part` bands each (the last part may have fewer).
    Banded { parts: usize, bands_per_part: usize },
}

/// The engine a convolution into `cout` channels qualifies for by its shape, under the AVX2
/// micro-kernel's rule (a multiple of 16 channels up to its `MAX_CHANNELS` = 128) that the
/// comments below work with. (The AVX-512 micro-kernel takes up to 256 channels; `check` then
/// runs the engine this rule gives by name.)
fn engine_for(cout: usize) -> Engine {
    let packable = cout > 0 && cout.is_multiple_of(CHANNEL_STEP) && cout <= MAX_CHANNELS;
    if packable {
        Engine::MicroKernel
    } else {
        Engine::Im2col
    }
}

/// Whether the engine really takes the micro-kernel for this shape on this run.
fn micro_kernel_runs(k: usize, cout: usize) -> bool {
    PackedKernel::new(&vec![0.0; k * cout], k, cout).is_some()
}

/// Bands the engine cuts `n` images of `ho × wo` output pixels into.
fn bands(engine: Engine, k: usize, cout: usize, (n, ho, wo): (usize, usize, usize)) -> usize {
    let band = band_rows(k, cout, n * ho * wo);
    match engine {
        Engine::MicroKernel => (n * ho).div_ceil(band.div_ceil(wo).max(1)),
        Engine::Im2col => (n * ho * wo).div_ceil(band),
    }
}

/// The kernel gradient's branch for `rows` output pixels of `k` values into `cout` channels.
fn kernel_gradient_branch(k: usize, cout: usize, rows: usize) -> KernelGradient {
    if rows * k <= WHOLE_COL_FLOATS {
        return KernelGradient::WholeCol;
    }
    let bands = rows.div_ceil(band_rows(k, cout, rows));
    let parts = bands.min(WEIGHT_GRAD_PARTS);
    KernelGradient::Banded {
        parts,
        bands_per_part: bands.div_ceil(parts),
    }
}

/// Why the micro-kernel cannot be checked on this run, if it cannot.
fn micro_kernel_missing_reason() -> Option<String> {
    if automatic_micro_kernel().is_some() {
        return None;
    }
    Some(match std::env::var(PORTABLE_ENV) {
        Ok(value) if !value.is_empty() && value != "0" => format!("{PORTABLE_ENV}={value} is set"),
        _ => "this CPU lacks AVX2 or FMA".to_string(),
    })
}

// ---------------------------------------------------------------------------------------------

/// One convolution layer's shape and the branches it must reach.
struct Case {
    /// What the case stands for (the paper's layer, or the branch).
    name: String,
    /// Batch, height, width of the input.
    n: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    kernel: (usize, usize),
    padding: Padding,
    /// Engine and bands of the forward pass.
    forward: (Engine, usize),
    /// Engine and bands of the input gradient.
    input_gradient: (Engine, usize),
    kernel_gradient: KernelGradient,
}

impl Case {
    fn output_size(&self) -> (usize, usize) {
        match self.padding {
            Padding::Same => (self.h, self.w),
            Padding::Valid => (self.h - self.kernel.0 + 1, self.w - self.kernel.1 + 1),
        }
    }

    /// The forward pass's geometry, as the layer computes it.
    fn geometry(&self) -> ConvGeometry {
        let (kh, kw) = self.kernel;
        let (ho, wo) = self.output_size();
        let (pad_top, pad_left) = match self.padding {
            Padding::Same => ((kh - 1) / 2, (kw - 1) / 2),
            Padding::Valid => (0, 0),
        };
        ConvGeometry {
            h: self.h,
            w: self.w,
            c: self.cin,
            kh,
            kw,
            pad_top,
            pad_left,
            ho,
            wo,
        }
    }

    /// Assert that the shapes reach the branches the case claims.
    fn assert_branches(&self) {
        let (kh, kw) = self.kernel;
        let (ho, wo) = self.output_size();
        let k = kh * kw * self.cin;
        let forward_engine = engine_for(self.cout);
        let forward = (
            forward_engine,
            bands(forward_engine, k, self.cout, (self.n, ho, wo)),
        );
        // The input gradient convolves dy (cout channels, ho × wo) back to the input's size.
        let k_back = kh * kw * self.cout;
        let back_engine = engine_for(self.cin);
        let input_gradient = (
            back_engine,
            bands(back_engine, k_back, self.cin, (self.n, self.h, self.w)),
        );
        let kernel_gradient = kernel_gradient_branch(k, self.cout, self.n * ho * wo);
        assert_eq!(forward, self.forward, "{}: forward branch", self.name);
        assert_eq!(
            input_gradient, self.input_gradient,
            "{}: input-gradient branch",
            self.name
        );
        assert_eq!(
            kernel_gradient, self.kernel_gradient,
            "{}: kernel-gradient branch",
            self.name
        );
        // The layer really takes the engine this CPU's micro-kernel gives the shape. Where that
        // is not the engine the comments describe (the AVX-512 micro-kernel also takes 256
        // channels), `check` runs the described one by name as well.
        for (what, k, cout, engine) in [
            ("forward", k, self.cout, forward_engine),
            ("input gradient", k_back, self.cin, back_engine),
        ] {
            let runs = micro_kernel_runs(k, cout);
            match (automatic_micro_kernel(), micro_kernel_missing_reason()) {
                (Some(Kernel::Avx2), _) => assert_eq!(
                    runs,
                    engine == Engine::MicroKernel,
                    "{}: the {what} on the AVX2 micro-kernel",
                    self.name
                ),
                (Some(Kernel::Avx512), _) => assert_eq!(
                    runs,
                    Kernel::Avx512.takes(k, cout),
                    "{}: the {what} on the AVX-512 micro-kernel",
                    self.name
                ),
                (None, reason) => {
                    assert!(!runs, "{}: no micro-kernel here", self.name);
                    if engine == Engine::MicroKernel {
                        notice(&format!(
                            "skipped the micro-kernel check: {}; {} ({what}) is checked on the portable path only",
                            reason.unwrap_or_default(),
                            self.name
                        ));
                    }
                }
            }
        }
    }
}

fn uniform(shape: &[usize], scale: f32, rng: &mut StdRng) -> Tensor {
    let len = shape.iter().product();
    let values = (0..len).map(|_| rng.random_range(-scale..=scale)).collect();
    Tensor::from_shape_vec(IxDyn(shape), values).unwrap()
}

fn squared(t: &Tensor) -> Tensor {
    t.mapv(|v| v * v)
}

/// Compare `fast` with `reference` up to the rounding of sums of `terms` terms, value by value:
/// `|fast − reference| ≤ 16·ε·√terms · size`, where `size = √(Σ term²)` is the root of the same
/// sum taken over the squares of its terms and `ε = f32::EPSILON`. Returns the failures found
/// (the first few values out of tolerance), empty when all values agree.
///
/// Why this tolerance: both sides add the same products, in different orders (the micro-kernel's
/// chain of fused multiply-adds, `matrixmultiply`'s blocks, the bands and partial sums of the
/// kernel gradient; the reference sums the forward pass in f32 in its loop order and the
/// gradients in f64). Each f32 addition rounds by at most `ε/2` of a partial sum; the terms
/// of these tests are random in sign, so a partial sum is a random walk that stays within a few
/// times `size`, and the `terms` roundings add up like a random walk too, about `√terms` of
/// them. `16 = 4 · 4` leaves a wide margin over both (observed errors are printed as a fraction
/// of the tolerance; they stay below a tenth). For up to 16 terms it is also above the
/// worst-case bound of both sides, `terms · ε · Σ|term| ≤ terms^1.5 · ε · size`.
/// What it catches: one missing or wrong term of typical size `size / √terms` is above the
/// tolerance while `16·ε·terms < 1`, up to about 500,000 terms — every sum in this file.
fn compare(
    case: &str,
    what: &str,
    fast: &Tensor,
    reference: &Tensor,
    sum_of_squares: &Tensor,
    terms: usize,
) -> Vec<String> {
    assert_eq!(fast.shape(), reference.shape(), "{case}: {what} shape");
    let scale = 16.0 * f32::EPSILON as f64 * (terms as f64).sqrt();
    let mut worst = 0.0f64;
    let mut failures = Vec::new();
    for (i, ((&got, &want), &squares)) in fast.iter().zip(reference).zip(sum_of_squares).enumerate()
    {
        let error = (got as f64 - want as f64).abs();
        let tolerance = scale * (squares as f64).sqrt();
        // `error > tolerance` alone would let a NaN pass.
        if error > tolerance || error.is_nan() {
            failures.push(format!(
                "{case}: {what}[{i}] = {got}, reference {want}: error {error:.3e} > tolerance {tolerance:.3e} ({terms} terms)"
            ));
        } else if tolerance > 0.0 {
            worst = worst.max(error / tolerance);
        }
    }
    println!(
        "{case}: {what}: worst error {worst:.3} of its tolerance, {} values out of it",
        failures.len()
    );
    failures.truncate(3);
    failures
}

/// Panic with every failure found, if any.
fn assert_no_failures(failures: &[String]) {
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Run `case` through a `Conv2d` layer (forward, then backward) and compare the output, the
/// input gradient, the kernel gradient and the bias gradient with the reference; all four are
/// compared before the test fails, so a failure names every quantity that is wrong.
fn check(case: &Case, seed: u64) {
    case.assert_branches();
    let start = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let (kh, kw) = case.kernel;
    let mut conv = Conv2d::new(
        &case.name,
        case.kernel,
        case.cin,
        case.cout,
        case.padding,
        &mut rng,
    );
    // A bias that is not zero, so that the bands' starting value is tested too.
    conv.params_mut()[1].value = uniform(&[case.cout], 0.5, &mut rng);
    let x = uniform(&[case.n, case.h, case.w, case.cin], 1.0, &mut rng);

    let y = conv.forward(&x, Pass::Train { step: 0 }).unwrap();
    let dy = uniform(y.shape(), 1.0, &mut rng);
    let dx = conv.backward(&dy).unwrap();
    let (kernel, bias) = (conv.kernel(), conv.bias());
    let (dkernel, dbias) = (conv.params()[0].grad.clone(), conv.params()[1].grad.clone());

    let (x2, k2, dy2) = (squared(&x), squared(kernel), squared(&dy));
    let mut failures = Vec::new();
    let y_ref = reference::forward(&x, kernel, bias, case.padding).unwrap();
    let y_squares = reference::forward(&x2, &k2, &squared(bias), case.padding).unwrap();
    let terms = kh * kw * case.cin + 1;
    failures.extend(compare(&case.name, "y", &y, &y_ref, &y_squares, terms));

    let dx_ref = reference::input_gradient(kernel, &dy, case.padding).unwrap();
    let dx_squares = reference::input_gradient(&k2, &dy2, case.padding).unwrap();
    let terms = kh * kw * case.cout;
    failures.extend(compare(&case.name, "dx", &dx, &dx_ref, &dx_squares, terms));

    let references = [(&y_ref, &y_squares), (&dx_ref, &dx_squares)];
    failures.extend(described_engine_failures(
        case,
        (&x, kernel, bias, &dy),
        (&y, &dx),
        references,
    ));

    let rows = dy.len() / case.cout;
    failures.extend(compare_parameter_gradients(
        case, &x, &dy, &dkernel, &dbias, rows,
    ));
    println!("{}: {:.2} s", case.name, start.elapsed().as_secs_f64());
    assert_no_failures(&failures);
}

/// Where the layer ran another engine than the one the case's comments describe (on a CPU with
/// AVX-512F: the AVX-512 micro-kernel instead of the AVX2 one, or instead of the portable
/// engine for 256 channels), run the described engine by name on the same `(x, kernel, bias,
/// dy)` and compare its forward output and input gradient with the references `[(y, squares),
/// (dx, squares)]`; where both are micro-kernels, also with the layer's `(y, dx)` bit for bit
/// (the same fused multiply-adds in the same order). Returns the failures.
fn described_engine_failures(
    case: &Case,
    (x, kernel, bias, dy): (&Tensor, &Tensor, &Tensor, &Tensor),
    (y, dx): (&Tensor, &Tensor),
    references: [(&Tensor, &Tensor); 2],
) -> Vec<String> {
    let (g, n, (kh, kw)) = (case.geometry(), case.n, case.kernel);
    let flat = |t: &Tensor| t.as_slice().expect("standard layout").to_vec();
    let (x, kernel, bias, dy) = (flat(x), flat(kernel), flat(bias), flat(dy));
    let mut failures = Vec::new();
    let passes = [
        ("y", case.cout, kh * kw * case.cin, y, references[0]),
        ("dx", case.cin, kh * kw * case.cout, dx, references[1]),
    ];
    for (what, channels, k, layer_output, (reference, squares)) in passes {
        let described = match engine_for(channels) {
            Engine::MicroKernel => ConvEngine::Avx2MicroKernel,
            Engine::Im2col => ConvEngine::Im2colGemm,
        };
        let layer_engine = conv_engine(k, channels);
        if layer_engine == described || !described.cpu_has_it() {
            continue;
        }
        let ours = match what {
            "y" => conv_forward_on(described, &x, &g, n, &kernel, case.cout, Some(&bias)),
            _ => conv_input_gradient_on(described, &dy, &g, n, &kernel, (case.cin, case.cout)),
        };
        let ours = Tensor::from_shape_vec(IxDyn(layer_output.shape()), ours.expect("runs here"))
            .expect("same shape");
        let name = format!("{} on the {} by name", case.name, described.name());
        let terms = if what == "y" { k + 1 } else { k };
        failures.extend(compare(&name, what, &ours, reference, squares, terms));
        // The layer runs Winograd's algorithm on some of these shapes (tested against the
        // reference in engine_winograd): different sums, so no bit-for-bit comparison then.
        let pass_geometry = match what {
            "y" => g,
            _ => g.for_input_gradient(case.cout),
        };
        if winograd_applies(&pass_geometry, channels) {
            println!(
                "{name}: {what}: the layer ran Winograd F(2×2, 3×3), not compared bit for bit"
            );
        } else if described.micro_kernel().is_some() && layer_engine.micro_kernel().is_some() {
            let differing = ours
                .iter()
                .zip(layer_output.iter())
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            println!(
                "{name}: {what}: {differing} values differ from the layer's ({})",
                layer_engine.name()
            );
            if differing > 0 {
                failures.push(format!(
                    "{name}: {what} differs from the {} in {differing} values",
                    layer_engine.name()
                ));
            }
        }
    }
    failures
}

/// Compare the layer's kernel and bias gradients for input `x` and upstream gradient `dy`
/// (`rows` output pixels) with the reference; returns the failures.
fn compare_parameter_gradients(
    case: &Case,
    x: &Tensor,
    dy: &Tensor,
    dkernel: &Tensor,
    dbias: &Tensor,
    rows: usize,
) -> Vec<String> {
    let (x2, dy2) = (squared(x), squared(dy));
    let dk_ref = reference::kernel_gradient(x, dy, case.kernel, case.padding).unwrap();
    let dk_squares = reference::kernel_gradient(&x2, &dy2, case.kernel, case.padding).unwrap();
    let mut failures = compare(&case.name, "dK", dkernel, &dk_ref, &dk_squares, rows);
    let db_ref = reference::bias_gradient(dy).unwrap();
    let db_squares = reference::bias_gradient(&dy2).unwrap();
    failures.extend(compare(&case.name, "db", dbias, &db_ref, &db_squares, rows));
    failures
}

use lumbar_cnn::test_notice::notice;
use Engine::{Im2col, MicroKernel};
use KernelGradient::{Banded, WholeCol};

/// Block 1's first layer at the paper's 256×256, batch 3: 3 → 32 channels, `same`.
/// 196,608 pixels · 27 · 32 = 170 M multiply-adds per pass.
///
/// - Forward: 32 = 2·16 channels → micro-kernel, 2 panels. `band_rows(27, 32, 196,608) =
///   max(65,536/27 = 2,427, min(64, 24,576)) = 2,427` pixels → `⌈2,427/256⌉ = 10` image rows
///   per band → `⌈768/10⌉ = 77` bands; 10 ∤ 256, so bands 25 and 51 run from one image into the
///   next. `wo = 256 = 42·6 + 4`: a last tile of 4 pixels; edge tiles at `x0 = 0` (`< pl = 1`)
///   and `x0 = 252` (its last column `252+4+1 = 257 ≥ w + pl`). Segments of `3·3 = 9` values:
///   all three kernel rows in one inner block; the top and bottom rows skip a kernel row.
/// - Input gradient: into 3 channels (not a multiple of 16) → portable engine, `k' = 288`:
///   `band_rows(288, 3, 196,608) = max(227, min(6, …)) = 227` → `⌈196,608/227⌉ = 867` bands,
///   the last of 26 pixels.
/// - Kernel gradient: `196,608 · 27 = 5,308,416 > 4,194,304` → banded, bands of 2,427 pixels,
///   `⌈196,608/2,427⌉ = 82` bands (the last of 21 pixels) → 8 parts of `⌈82/8⌉ = 11` bands,
///   the last part 5.
#[test]
fn first_layer_at_the_papers_image_size() {
    check(
        &Case {
            name: "conv2d (3→32, 3×256×256)".into(),
            n: 3,
            h: 256,
            w: 256,
            cin: 3,
            cout: 32,
            kernel: (3, 3),
            padding: Padding::Same,
            forward: (MicroKernel, 77),
            input_gradient: (Im2col, 867),
            kernel_gradient: Banded {
                parts: 8,
                bands_per_part: 11,
            },
        },
        1,
    );
}

/// Block 1's second layer, 32 → 32, `same`, on 2×64×58 (7,424 pixels · 288 · 32 = 68 M).
///
/// - Forward and input gradient (both 32 channels, `k = k' = 288`): micro-kernel;
///   `band_rows(288, 32, 7,424) = max(227, min(64, 928)) = 227` → `⌈227/58⌉ = 4` image rows →
///   `⌈128/4⌉ = 32` bands. `wo = 58 = 9·6 + 4`: a 4-pixel last tile, edge tiles at 0 and 54
///   (`54+4+1 = 59 ≥ 59`). Pixel blocks of `⌊120/58⌋ = 2` image rows, two per band. Segments of
///   96 values: grouped `⌊256/96⌋ = 2` per inner block (kernel rows 0–1, then 2).
/// - Kernel gradient: `7,424 · 288 = 2,138,112 ≤ 4,194,304` → the whole im2col matrix, filled
///   in 33 bands of 227 rows, one GEMM split into blocks of 64 of the 288 kernel rows.
#[test]
fn block_1_second_layer() {
    check(
        &Case {
            name: "conv2d_1 (32→32, 2×64×58)".into(),
            n: 2,
            h: 64,
            w: 58,
            cin: 32,
            cout: 32,
            kernel: (3, 3),
            padding: Padding::Same,
            forward: (MicroKernel, 32),
            input_gradient: (MicroKernel, 32),
            kernel_gradient: WholeCol,
        },
        2,
    );
}

/// Block 2's first layer, 32 → 64, `same`, on 2×37×43 (3,182 pixels · 288 · 64 = 59 M).
///
/// - Forward: micro-kernel, 4 panels; `band_rows(288, 64, 3,182) = max(227, min(128, 398)) =
///   227` → `⌈227/43⌉ = 6` image rows → `⌈74/6⌉ = 13` bands; band 6 (rows 36–41) crosses from
///   image 0 (37 rows) into image 1, the last band has 2 rows. `wo = 43 = 7·6 + 1`: a last tile
///   of one pixel, which is also an edge tile. Pixel blocks of `⌊120/43⌋ = 2` rows.
/// - Input gradient: into 32 channels → micro-kernel, `c = 64`: segments of `3·64 = 192`
///   values, one per inner block; `k' = 576`, `band_rows(576, 32, 3,182) = max(128, min(64,
///   398)) = 128` → `⌈128/43⌉ = 3` image rows → `⌈74/3⌉ = 25` bands.
/// - Kernel gradient: `3,182 · 288 = 916,416` → whole im2col matrix.
#[test]
fn block_2_first_layer_with_one_pixel_tiles() {
    check(
        &Case {
            name: "conv2d_2 (32→64, 2×37×43)".into(),
            n: 2,
            h: 37,
            w: 43,
            cin: 32,
            cout: 64,
            kernel: (3, 3),
            padding: Padding::Same,
            forward: (MicroKernel, 13),
            input_gradient: (MicroKernel, 25),
            kernel_gradient: WholeCol,
        },
        3,
    );
}

/// Block 3's second layer, 128 → 128 (`MAX_CHANNELS`, 8 panels), `same`, on 1×20×22
/// (440 pixels · 1,152 · 128 = 65 M).
///
/// - Forward and input gradient: micro-kernel; `band_rows(1,152, 128, 440) = max(max(56, 128),
///   min(256, 55)) = 128` → `⌈128/22⌉ = 6` image rows → `⌈20/6⌉ = 4` bands, the last of 2 rows.
///   Segments of `3·128 = 384 > 256` values, each cut into 2 pieces of 192 (6 inner blocks).
///   Pixel blocks of `⌊120/22⌋ = 5` rows: 5 + 1 per band. `wo = 22 = 3·6 + 4`, edge tiles at 0
///   and 18.
/// - Kernel gradient: `440 · 1,152 = 506,880` → whole im2col matrix.
#[test]
fn block_3_with_long_segments_and_pixel_blocks() {
    check(
        &Case {
            name: "conv2d_5 (128→128, 1×20×22)".into(),
            n: 1,
            h: 20,
            w: 22,
            cin: 128,
            cout: 128,
            kernel: (3, 3),
            padding: Padding::Same,
            forward: (MicroKernel, 4),
            input_gradient: (MicroKernel, 4),
            kernel_gradient: WholeCol,
        },
        4,
    );
}

/// Block 4's first layer, 128 → 256, `same`, on 1×16×16 (256 pixels · 1,152 · 256 = 75 M).
///
/// - Forward: 256 > `MAX_CHANNELS` → portable engine; `band_rows(1,152, 256, 256) = max(128,
///   min(512, 32)) = 128` → 2 bands.
/// - Input gradient: into 128 channels → micro-kernel with `c = 256`: segments of 768 values
///   cut into 3 pieces of exactly `KC = 256`; `band_rows(2,304, 128, 256) = 128` → 8 image rows
///   → 2 bands; pixel blocks of `⌊120/16⌋ = 7` rows (7 + 1 per band); `wo = 16 = 2·6 + 4`, edge
///   tiles at 0 and 12.
/// - Kernel gradient: `256 · 1,152 = 294,912` → whole im2col matrix.
#[test]
fn block_4_first_layer_256_channels() {
    check(
        &Case {
            name: "conv2d_6 (128→256, 1×16×16)".into(),
            n: 1,
            h: 16,
            w: 16,
            cin: 128,
            cout: 256,
            kernel: (3, 3),
            padding: Padding::Same,
            forward: (Im2col, 2),
            input_gradient: (MicroKernel, 2),
            kernel_gradient: WholeCol,
        },
        5,
    );
}

/// Block 4's second layer, 256 → 256, `same`, on 2×9×8 (144 pixels · 2,304 · 256 = 85 M).
///
/// - Forward and input gradient: 256 channels → portable engine; `band_rows(2,304, 256, 144) =
///   max(128, min(512, 18)) = 128` → 2 bands (128 + 16 pixels); the first runs from image 0
///   (72 pixels) into image 1.
/// - Kernel gradient: `144 · 2,304 = 331,776` → whole im2col matrix, the GEMM split into 8
///   blocks of 288 kernel rows.
#[test]
fn block_4_second_layer_256_channels() {
    check(
        &Case {
            name: "conv2d_7 (256→256, 2×9×8)".into(),
            n: 2,
            h: 9,
            w: 8,
            cin: 256,
            cout: 256,
            kernel: (3, 3),
            padding: Padding::Same,
            forward: (Im2col, 2),
            input_gradient: (Im2col, 2),
            kernel_gradient: WholeCol,
        },
        6,
    );
}

/// Block 5, 256 → 512 and 512 → 512, `same`, on images smaller than the kernel's reach
/// (5×5: 25 · 2,304 · 512 = 30 M; 4×4: 16 · 4,608 · 512 = 38 M): portable engine both ways
/// (512 and 256 channels), one band each (`band_rows = 128` pixels), whole im2col matrix.
#[test]
fn block_5_512_channels() {
    for (case, seed) in [
        (
            Case {
                name: "conv2d_8 (256→512, 1×5×5)".into(),
                n: 1,
                h: 5,
                w: 5,
                cin: 256,
                cout: 512,
                kernel: (3, 3),
                padding: Padding::Same,
                forward: (Im2col, 1),
                input_gradient: (Im2col, 1),
                kernel_gradient: WholeCol,
            },
            7,
        ),
        (
            Case {
                name: "conv2d_9 (512→512, 1×4×4)".into(),
                n: 1,
                h: 4,
                w: 4,
                cin: 512,
                cout: 512,
                kernel: (3, 3),
                padding: Padding::Same,
                forward: (Im2col, 1),
                input_gradient: (Im2col, 1),
                kernel_gradient: WholeCol,
            },
            8,
        ),
    ] {
        check(&case, seed);
    }
}

/// `valid` padding (not used by the paper's network, offered by the layer), 32 → 16, on
/// 2×21×27 → 2×19×25 (950 pixels · 288 · 16 = 4 M).
///
/// - Forward: micro-kernel, one panel; `band_rows(288, 16, 950) = max(227, min(32, 119)) =
///   227` → `⌈227/25⌉ = 10` image rows → `⌈38/10⌉ = 4` bands (band 1 crosses images at row 19).
///   No edge tiles at all (no padding); `wo = 25 = 4·6 + 1`; pixel blocks of 4 rows.
/// - Input gradient: into 32 channels → micro-kernel, padded by 2 on every side: edge tiles at
///   `x0 = 0` and `x0 = 24` (of `27 = 4·6 + 3`), the first and last two rows skip two and one
///   kernel rows; `k' = 144`, `band_rows(144, 32, 1,134) = max(455, min(64, 142)) = 455` → `⌈455/27⌉ =
///   17` image rows → `⌈42/17⌉ = 3` bands.
/// - Kernel gradient: `950 · 288 = 273,600` → whole im2col matrix.
#[test]
fn valid_padding_on_the_micro_kernel() {
    check(
        &Case {
            name: "valid 3×3 (32→16, 2×21×27)".into(),
            n: 2,
            h: 21,
            w: 27,
            cin: 32,
            cout: 16,
            kernel: (3, 3),
            padding: Padding::Valid,
            forward: (MicroKernel, 4),
            input_gradient: (MicroKernel, 3),
            kernel_gradient: WholeCol,
        },
        9,
    );
}

/// `valid` padding with a 5×5 kernel on the portable engine both ways (40 and 24 channels are
/// not multiples of 16), 24 → 40 on 2×20×19 → 2×16×15 (480 pixels · 600 · 40 = 12 M).
///
/// - Forward: `band_rows(600, 40, 480) = max(128, min(80, 60)) = 128` → `⌈480/128⌉ = 4` bands.
/// - Input gradient: padded by 4, `k' = 1,000`, `band_rows(1,000, 24, 760) = max(128, min(48,
///   95)) = 128` → `⌈760/128⌉ = 6` bands.
/// - Kernel gradient: `480 · 600 = 288,000` → whole im2col matrix.
#[test]
fn valid_padding_on_the_portable_engine() {
    check(
        &Case {
            name: "valid 5×5 (24→40, 2×20×19)".into(),
            n: 2,
            h: 20,
            w: 19,
            cin: 24,
            cout: 40,
            kernel: (5, 5),
            padding: Padding::Valid,
            forward: (Im2col, 4),
            input_gradient: (Im2col, 6),
            kernel_gradient: WholeCol,
        },
        10,
    );
}

/// The banded kernel gradient with every number of partial sums, 1 to `WEIGHT_GRAD_PARTS`:
/// 3×3 `same` convolutions into 16 channels on one `h × w` image, with just enough input
/// channels that `rows·k` exceeds `WHOLE_COL_FLOATS` (`cin = ⌊4,194,304 / (9·rows)⌋ + 1`).
/// With `k = 9·cin ≥ 4,374 > 512` values per row, `BAND_FLOATS / k < MIN_BAND_ROWS`, and
/// `min(2·16, ⌈rows/8⌉) ≤ 32`, so bands are `MIN_BAND_ROWS = 128` pixels and there are
/// `⌈h·w / 128⌉` of them: 1 (8×16), 2 (12×20, the last of 112 pixels), 3 (16×20), 4 (16×28),
/// 5 (24×24), 6 (26×26, the last of 36), 7 (28×30) and 8 (30×32, one band per part). With the
/// paper's 3×3 kernels and at most 512 input channels (`k ≤ 4,608`) fewer than 8 bands cannot
/// happen (`rows > 4,194,304 / 4,608 = 910` pixels make at least `⌈911/128⌉ = 8` bands), so the
/// wider inputs here are the only way to reach those branches; 8 parts of several bands each
/// are reached by the first layer above. About 67 M multiply-adds per pass each; only the
/// parameter gradients are compared with the reference (the forward pass and input gradient of
/// these shapes take the branches of the cases above).
#[test]
fn banded_kernel_gradient_with_every_number_of_parts() {
    let mut failures = Vec::new();
    for (parts, (h, w)) in [
        (8, 16),
        (12, 20),
        (16, 20),
        (16, 28),
        (24, 24),
        (26, 26),
        (28, 30),
        (30, 32),
    ]
    .into_iter()
    .enumerate()
    {
        let parts = parts + 1;
        let rows = h * w;
        let cin = WHOLE_COL_FLOATS / (9 * rows) + 1;
        let name = format!("banded dK, {parts} parts ({cin}→16, 1×{h}×{w})");
        let case = Case {
            name,
            n: 1,
            h,
            w,
            cin,
            cout: 16,
            kernel: (3, 3),
            padding: Padding::Same,
            forward: (MicroKernel, bands(MicroKernel, 9 * cin, 16, (1, h, w))),
            input_gradient: (Im2col, bands(Im2col, 9 * 16, cin, (1, h, w))),
            kernel_gradient: Banded {
                parts,
                bands_per_part: 1,
            },
        };
        case.assert_branches();
        let mut rng = StdRng::seed_from_u64(20 + parts as u64);
        let mut conv = Conv2d::new(&case.name, (3, 3), cin, 16, Padding::Same, &mut rng);
        let x = uniform(&[1, h, w, cin], 1.0, &mut rng);
        let y = conv.forward(&x, Pass::Train { step: 0 }).unwrap();
        let dy = uniform(y.shape(), 1.0, &mut rng);
        conv.backward(&dy).unwrap();
        let (dkernel, dbias) = (&conv.params()[0].grad, &conv.params()[1].grad);
        failures.extend(compare_parameter_gradients(
            &case, &x, &dy, dkernel, dbias, rows,
        ));
    }
    assert_no_failures(&failures);
}
