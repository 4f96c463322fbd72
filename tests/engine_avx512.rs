//! The AVX-512 micro-kernel (`nn::engine::micro_kernel_avx512`) equals the reference
//! convolution (`nn::reference::conv2d`, the definitions as nested loops), forward and input
//! gradient, and the AVX2 micro-kernel bit for bit, on shapes that reach every branch of its
//! path; and the automatic choice of micro-kernel follows the CPU and the environment.
//!
//! The engine is called by name (`conv_forward_on`, `conv_input_gradient_on`), so the AVX-512
//! and AVX2 micro-kernels are both tested in one process on a CPU that has both. A test that
//! needs AVX-512F on a CPU without it prints `skipped: CPU lacks AVX-512F` and checks nothing
//! more (the AVX2 micro-kernel is then tested by `engine_branches` and `layer_behaviour`).
//!
//! **Branches.** The AVX-512 path cuts a product `[rows, k] · [k, m]` (`m` output channels) as
//! the AVX2 one does (see `engine_branches`), with its own sizes: tiles of up to `MR` pixels of
//! one image row and `NR = 32` channels (two registers), the last panel 16 channels wide (one
//! register) when `m` is an odd multiple of 16; inner blocks of about `KC` values; pixel blocks
//! of `⌊MC / wo⌋` image rows. [`Reached`] lists the branches of one product, computed from the
//! shapes and the engine's public constants, and [`the_cases_reach_every_branch`] checks that
//! the fixed cases below reach all of them, forward and input gradient, so that a change of a
//! constant cannot leave a branch untested while the tests still pass.
//!
//! **Tolerance against the reference.** `|fast − reference| ≤ 16·ε·√terms · √(Σ term²)`, value
//! by value (`ε = f32::EPSILON`, `terms` the number of products in the sum, `Σ term²` the same
//! convolution computed on the squared inputs): both sides add the same products in different
//! orders, each addition rounding by at most `ε/2` of a partial sum; with random signs the
//! partial sums stay within a few times `√(Σ term²)` and the roundings add up like a random
//! walk, about `√terms` of them, so 16 leaves a wide margin (the worst error is printed as a
//! fraction of the tolerance). One missing or wrong term of typical size is far above it.
//! **Against AVX2**: equal bits (the same fused multiply-adds in the same order).

use lumbar_cnn::nn::engine::bands::band_rows;
use lumbar_cnn::nn::engine::implicit_im2col::{
    automatic_micro_kernel, inner_blocks, MicroKernel, NO_AVX512_ENV, PORTABLE_ENV,
};
use lumbar_cnn::nn::engine::micro_kernel_avx512::{KC, MC, MR, NR};
use lumbar_cnn::nn::engine::{conv_forward_on, conv_input_gradient_on, ConvEngine, ConvGeometry};
use lumbar_cnn::nn::reference::conv2d as reference;
use lumbar_cnn::nn::{Padding, Tensor};
use lumbar_cnn::test_notice::notice;
use ndarray::IxDyn;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const AVX512: ConvEngine = ConvEngine::Avx512MicroKernel;
const AVX2: ConvEngine = ConvEngine::Avx2MicroKernel;

/// Whether the AVX-512 micro-kernel can run here; says that its checks are skipped otherwise.
fn avx512_runs() -> bool {
    let runs = AVX512.cpu_has_it();
    if !runs {
        notice("tests/engine_avx512.rs: the AVX-512 checks are skipped: this CPU lacks AVX-512F");
    }
    runs
}

/// One convolution layer's shape: batch, input size, channels, kernel and padding.
#[derive(Clone, Copy, Debug)]
struct Shape {
    n: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    kernel: (usize, usize),
    padding: Padding,
}

impl Shape {
    /// The forward pass's geometry.
    fn geometry(&self) -> ConvGeometry {
        let (kh, kw) = self.kernel;
        let (pad_top, pad_left, ho, wo) = match self.padding {
            Padding::Same => ((kh - 1) / 2, (kw - 1) / 2, self.h, self.w),
            Padding::Valid => (0, 0, self.h - kh + 1, self.w - kw + 1),
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

    /// The geometry of the input gradient's convolution: `dy` (`ho × wo × cout`) convolved
    /// back to `h × w`, padded by `(kh−1−pt, kw−1−pl)`.
    fn backward_geometry(&self) -> ConvGeometry {
        let g = self.geometry();
        ConvGeometry {
            h: g.ho,
            w: g.wo,
            c: self.cout,
            kh: g.kh,
            kw: g.kw,
            pad_top: g.kh - 1 - g.pad_top,
            pad_left: g.kw - 1 - g.pad_left,
            ho: g.h,
            wo: g.w,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The AVX-512 path's branch rules, from its public constants and functions: the only place
// this file looks inside the engine.

/// The branches of the AVX-512 path one product reaches: a convolution with geometry `g` of
/// `n` images into `m` channels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Reached {
    /// A tile of `MR` pixels.
    full_tile: bool,
    /// A tile of fewer pixels, at the end of an image row (`wo` not a multiple of `MR`).
    short_tile: bool,
    /// A 32-channel panel (two registers per pixel).
    wide_panel: bool,
    /// A 16-channel last panel (`m` an odd multiple of 16).
    narrow_panel: bool,
    /// A tile read in place from the input (its windows inside the image's columns).
    inner_tile: bool,
    /// A tile read from a copied strip because its window crosses the left border.
    left_edge: bool,
    /// … or the right border.
    right_edge: bool,
    /// Output rows whose window starts above the image (kernel rows skipped).
    rows_above: bool,
    /// … or ends below it.
    rows_below: bool,
    /// Several segments (kernel rows of `kw·c` values) summed in one inner block.
    grouped_segments: bool,
    /// A segment longer than `KC` cut into pieces.
    cut_segments: bool,
    /// More than one inner block.
    several_inner_blocks: bool,
    /// A band with more image rows than one pixel block (`⌊MC / wo⌋` rows).
    several_pixel_blocks: bool,
    /// More than one band, and a band that runs from one image into the next.
    several_bands: bool,
    band_across_images: bool,
}

impl Reached {
    fn of(g: &ConvGeometry, n: usize, m: usize) -> Self {
        let tiles: Vec<(usize, usize)> = (0..g.wo)
            .step_by(MR)
            .map(|x0| (x0, MR.min(g.wo - x0)))
            .collect();
        let left = |x0: usize| x0 < g.pad_left;
        let right = |x0: usize, pixels: usize| x0 + pixels + g.kw - 2 >= g.w + g.pad_left;
        let segment = g.kw * g.c;
        let blocks: Vec<_> = inner_blocks(KC, g.kh, segment).collect();
        let band_pixels = band_rows(g.patch_len(), m, n * g.out_pixels());
        let band_image_rows = band_pixels.div_ceil(g.wo).max(1);
        let image_rows = n * g.ho;
        Reached {
            full_tile: g.wo >= MR,
            short_tile: !g.wo.is_multiple_of(MR),
            wide_panel: m >= NR,
            narrow_panel: m % NR == NR / 2,
            inner_tile: tiles.iter().any(|&(x0, p)| !left(x0) && !right(x0, p)),
            left_edge: tiles.iter().any(|&(x0, _)| left(x0)),
            right_edge: tiles.iter().any(|&(x0, p)| right(x0, p)),
            rows_above: g.pad_top > 0,
            // The last input row the last output row reads, counted in the padded image.
            rows_below: g.ho + g.kh - 2 >= g.h + g.pad_top,
            grouped_segments: blocks.iter().any(|&(_, segments, _, _)| segments > 1),
            cut_segments: segment > KC,
            several_inner_blocks: blocks.len() > 1,
            several_pixel_blocks: band_image_rows.min(image_rows) > (MC / g.wo).max(1),
            several_bands: image_rows > band_image_rows,
            band_across_images: (0..image_rows).step_by(band_image_rows).any(|first| {
                let next_image = (first / g.ho + 1) * g.ho;
                next_image < (first + band_image_rows).min(image_rows)
            }),
        }
    }

    /// The branches reached by either.
    fn or(self, other: Reached) -> Reached {
        let mut bits = self.bits();
        for (b, o) in bits.iter_mut().zip(other.bits()) {
            *b |= o;
        }
        Reached::from_bits(bits)
    }

    fn bits(self) -> [bool; 15] {
        [
            self.full_tile,
            self.short_tile,
            self.wide_panel,
            self.narrow_panel,
            self.inner_tile,
            self.left_edge,
            self.right_edge,
            self.rows_above,
            self.rows_below,
            self.grouped_segments,
            self.cut_segments,
            self.several_inner_blocks,
            self.several_pixel_blocks,
            self.several_bands,
            self.band_across_images,
        ]
    }

    fn from_bits(b: [bool; 15]) -> Reached {
        Reached {
            full_tile: b[0],
            short_tile: b[1],
            wide_panel: b[2],
            narrow_panel: b[3],
            inner_tile: b[4],
            left_edge: b[5],
            right_edge: b[6],
            rows_above: b[7],
            rows_below: b[8],
            grouped_segments: b[9],
            cut_segments: b[10],
            several_inner_blocks: b[11],
            several_pixel_blocks: b[12],
            several_bands: b[13],
            band_across_images: b[14],
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn uniform(shape: &[usize], scale: f32, rng: &mut StdRng) -> Tensor {
    let len = shape.iter().product();
    let values = (0..len).map(|_| rng.random_range(-scale..=scale)).collect();
    Tensor::from_shape_vec(IxDyn(shape), values).unwrap()
}

fn squared(t: &Tensor) -> Tensor {
    t.mapv(|v| v * v)
}

fn tensor(shape: &[usize], values: Vec<f32>) -> Tensor {
    Tensor::from_shape_vec(IxDyn(shape), values).unwrap()
}

/// Compare `fast` with `reference` within the tolerance at the top of the file; returns the
/// first failures (empty when every value agrees) and prints the worst error as a fraction of
/// its tolerance.
fn within_tolerance(
    what: &str,
    fast: &Tensor,
    reference: &Tensor,
    sum_of_squares: &Tensor,
    terms: usize,
) -> Vec<String> {
    assert_eq!(fast.shape(), reference.shape(), "{what}: shape");
    let scale = 16.0 * f32::EPSILON as f64 * (terms as f64).sqrt();
    let (mut worst, mut failures) = (0.0f64, Vec::new());
    for (i, ((&got, &want), &squares)) in fast.iter().zip(reference).zip(sum_of_squares).enumerate()
    {
        let error = (got as f64 - want as f64).abs();
        let tolerance = scale * (squares as f64).sqrt();
        // `error > tolerance` alone would let a NaN pass.
        if error > tolerance || error.is_nan() {
            failures.push(format!(
                "{what}[{i}] = {got}, reference {want}: error {error:.3e} > tolerance {tolerance:.3e} ({terms} terms)"
            ));
        } else if tolerance > 0.0 {
            worst = worst.max(error / tolerance);
        }
    }
    println!(
        "{what}: worst error {worst:.3} of its tolerance, {} values out of it",
        failures.len()
    );
    failures.truncate(3);
    failures
}

/// The number of values whose bits differ.
fn differing_bits(a: &[f32], b: &[f32]) -> usize {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count()
}

/// Run `shape`'s forward pass and input gradient on the AVX-512 micro-kernel; compare both
/// with the reference (within the tolerance) and with the AVX2 micro-kernel (bit for bit, when
/// the CPU has AVX2 and FMA, as every AVX-512 CPU does). Returns the failures.
fn check(name: &str, shape: &Shape, seed: u64) -> Vec<String> {
    let Shape {
        n,
        h,
        w,
        cin,
        cout,
        kernel: (kh, kw),
        padding,
    } = *shape;
    let g = shape.geometry();
    let mut rng = StdRng::seed_from_u64(seed);
    let x = uniform(&[n, h, w, cin], 1.0, &mut rng);
    let kernel = uniform(&[kh, kw, cin, cout], 0.5, &mut rng);
    // A bias that is not zero, so that the bands' starting value is tested too.
    let bias = uniform(&[cout], 0.5, &mut rng);
    let dy = uniform(&[n, g.ho, g.wo, cout], 1.0, &mut rng);
    let (xs, ks, bs, dys) = (
        x.as_slice().unwrap(),
        kernel.as_slice().unwrap(),
        bias.as_slice().unwrap(),
        dy.as_slice().unwrap(),
    );
    let mut failures = Vec::new();
    let forward = |engine| conv_forward_on(engine, xs, &g, n, ks, cout, Some(bs));
    let y = forward(AVX512).expect("the AVX-512 micro-kernel computes 16-channel multiples");
    let y_ref = reference::forward(&x, &kernel, &bias, padding).unwrap();
    let y_squares =
        reference::forward(&squared(&x), &squared(&kernel), &squared(&bias), padding).unwrap();
    failures.extend(within_tolerance(
        &format!("{name}: y"),
        &tensor(&[n, g.ho, g.wo, cout], y.clone()),
        &y_ref,
        &y_squares,
        kh * kw * cin + 1,
    ));
    let backward = |engine| conv_input_gradient_on(engine, dys, &g, n, ks, (cin, cout));
    let dx_engine_runs = cin.is_multiple_of(16);
    let dx = dx_engine_runs.then(|| backward(AVX512).expect("16-channel multiples"));
    if let Some(dx) = &dx {
        let dx_ref = reference::input_gradient(&kernel, &dy, padding).unwrap();
        let dx_squares =
            reference::input_gradient(&squared(&kernel), &squared(&dy), padding).unwrap();
        failures.extend(within_tolerance(
            &format!("{name}: dx"),
            &tensor(&[n, h, w, cin], dx.clone()),
            &dx_ref,
            &dx_squares,
            kh * kw * cout,
        ));
    }
    if AVX2.cpu_has_it() {
        let differing = differing_bits(&y, &forward(AVX2).unwrap());
        if differing > 0 {
            failures.push(format!(
                "{name}: y differs from AVX2's in {differing} values"
            ));
        }
        if let Some(dx) = &dx {
            let differing = differing_bits(dx, &backward(AVX2).unwrap());
            if differing > 0 {
                failures.push(format!(
                    "{name}: dx differs from AVX2's in {differing} values"
                ));
            }
        }
    } else {
        notice(&format!(
            "{name}: the CPU lacks AVX2/FMA, not compared with the AVX2 micro-kernel"
        ));
    }
    failures
}

/// Panic with every failure found, if any.
fn assert_no_failures(failures: &[String]) {
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------

/// The fixed cases, each with the branches it is there for (forward, input gradient); their
/// union must be every branch ([`the_cases_reach_every_branch`]).
fn cases() -> Vec<(&'static str, Shape)> {
    use Padding::{Same, Valid};
    let shape = |n, h, w, cin, cout, kernel, padding| Shape {
        n,
        h,
        w,
        cin,
        cout,
        kernel,
        padding,
    };
    vec![
        // (The arithmetic in these comments is for MR = 14, KC = 256, MC = 120; the test above
        // checks the branches from the constants, whatever they are.)
        // The first layer: 3 → 32 on rows of 64 = 4·14 + 8, k = 27 in one inner block, the
        // three kernel rows grouped; edges left and right, rows above and below.
        ("first layer 3→32", shape(2, 24, 64, 3, 32, (3, 3), Same)),
        // 32 → 48: a 32- and a 16-channel panel; rows of 21 = 14 + 7 (a short tile); segments
        // of 96 grouped two per block (2 inner blocks); input gradient into 32 channels with
        // segments of 144, one per block.
        ("32→48, short tiles", shape(2, 11, 21, 32, 48, (3, 3), Same)),
        // 16 → 16: one narrow panel only, both ways; rows of 5, shorter than a tile.
        ("16→16, narrow rows", shape(3, 9, 5, 16, 16, (3, 3), Same)),
        // 64 → 64 on 1×30×30: band_rows(576, 64, 900) = 128 pixels → bands of ⌈128/30⌉ = 5
        // image rows, in pixel blocks of ⌊120/30⌋ = 4 rows; segments of 192, one per block.
        (
            "64→64, pixel blocks",
            shape(1, 30, 30, 64, 64, (3, 3), Same),
        ),
        // 128 → 112: forward segments of 384 > KC cut into two pieces of 192, a 112-channel
        // output (3 wide panels and a narrow one); the input gradient's segments of 336 too.
        (
            "128→112, cut segments",
            shape(1, 12, 17, 128, 112, (3, 3), Same),
        ),
        // Valid padding: no edge strips forward; the input gradient, padded by 2, has both.
        ("valid 32→16", shape(2, 13, 19, 32, 16, (3, 3), Valid)),
        // A 1×3 kernel (no rows above or below) and a 5×5 one (two rows each side).
        ("1×3 48→32", shape(2, 7, 26, 48, 32, (1, 3), Same)),
        ("5×5 16→32", shape(1, 14, 18, 16, 32, (5, 5), Same)),
        // Many small images: bands that run from one image into the next.
        ("many images 32→32", shape(9, 7, 9, 32, 32, (3, 3), Same)),
    ]
}

/// The fixed cases, forward and input gradient, reach every branch of [`Reached`], counted on
/// the AVX-512 path's constants.
#[test]
fn the_cases_reach_every_branch() {
    let (mut forward, mut backward) = (Reached::default(), Reached::default());
    for (name, shape) in cases() {
        let f = Reached::of(&shape.geometry(), shape.n, shape.cout);
        println!("{name}: forward {f:?}");
        forward = forward.or(f);
        if shape.cin.is_multiple_of(16) {
            let b = Reached::of(&shape.backward_geometry(), shape.n, shape.cin);
            println!("{name}: input gradient {b:?}");
            backward = backward.or(b);
        }
    }
    let all = Reached::from_bits([true; 15]);
    assert_eq!(
        forward, all,
        "branches the forward passes miss: those false above"
    );
    assert_eq!(
        backward, all,
        "branches the input gradients miss: those false above"
    );
}

/// The fixed cases against the reference and against AVX2.
#[test]
fn fixed_cases_equal_the_reference_and_avx2() {
    if !avx512_runs() {
        return;
    }
    let mut failures = Vec::new();
    for (seed, (name, shape)) in cases().into_iter().enumerate() {
        failures.extend(check(name, &shape, seed as u64));
    }
    assert_no_failures(&failures);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Random shapes: batch 1–2, images up to 19×19 (full and short tiles), kernels 1–3 on
    /// each side, `same` or `valid`, channel counts 16 to 128 (narrow and wide panels, one to
    /// several inner blocks, cut segments from 128 input channels), about 4 M multiply-adds at
    /// most per pass.
    #[test]
    fn random_shapes_equal_the_reference_and_avx2(
        n in 1usize..3, h in 1usize..20, w in 1usize..20,
        cin in prop::sample::select(vec![3usize, 16, 32, 48, 64, 128]),
        cout in prop::sample::select(vec![16usize, 32, 48, 64, 80, 128]),
        kh in 1usize..4, kw in 1usize..4, same in any::<bool>(), seed in any::<u64>(),
    ) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        prop_assume!(same || (h >= kh && w >= kw));
        prop_assume!(n * h * w * kh * kw * cin * cout <= 4_000_000);
        if !avx512_runs() {
            return Ok(());
        }
        let shape = Shape { n, h, w, cin, cout, kernel: (kh, kw), padding };
        let failures = check(&format!("{shape:?}"), &shape, seed);
        prop_assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }
}

/// The network's ten convolutions at 64×64, batch 2 (rows of 64 down to 4 pixels, 3 to 512
/// channels, beyond `MAX_CHANNELS` too): the AVX-512 micro-kernel gives AVX2's bits, forward
/// and input gradient (no reference here: the fixed and random cases hold both to it).
#[test]
fn the_networks_layers_give_avx2s_bits() {
    if !avx512_runs() {
        return;
    }
    if !AVX2.cpu_has_it() {
        notice("skipped: CPU lacks AVX2/FMA, nothing to compare the AVX-512 micro-kernel with");
        return;
    }
    let mut rng = StdRng::seed_from_u64(40);
    let (mut size, mut cin, mut failures) = (64, 3, Vec::new());
    for cout in [32, 32, 64, 64, 128, 128, 256, 256, 512, 512] {
        let shape = Shape {
            n: 2,
            h: size,
            w: size,
            cin,
            cout,
            kernel: (3, 3),
            padding: Padding::Same,
        };
        let g = shape.geometry();
        let x = uniform(&[2, size, size, cin], 1.0, &mut rng);
        let kernel = uniform(&[3, 3, cin, cout], 0.1, &mut rng);
        let dy = uniform(&[2, size, size, cout], 1.0, &mut rng);
        let (xs, ks, dys) = (
            x.as_slice().unwrap(),
            kernel.as_slice().unwrap(),
            dy.as_slice().unwrap(),
        );
        let bias = vec![0.25f32; cout];
        let y = |engine| conv_forward_on(engine, xs, &g, 2, ks, cout, Some(&bias)).unwrap();
        let differing = differing_bits(&y(AVX512), &y(AVX2));
        if differing > 0 {
            failures.push(format!(
                "{cin}→{cout} at {size}²: y differs in {differing} values"
            ));
        }
        if cin.is_multiple_of(16) {
            let dx = |engine| conv_input_gradient_on(engine, dys, &g, 2, ks, (cin, cout)).unwrap();
            let differing = differing_bits(&dx(AVX512), &dx(AVX2));
            if differing > 0 {
                failures.push(format!(
                    "{cin}→{cout} at {size}²: dx differs in {differing} values"
                ));
            }
        }
        if cin == cout {
            size /= 2;
        }
        cin = cout;
    }
    assert_no_failures(&failures);
}

/// Asking a micro-kernel for what it cannot do is an error, not a panic.
#[test]
fn an_engine_that_cannot_run_is_an_error() {
    let g = Shape {
        n: 1,
        h: 4,
        w: 4,
        cin: 2,
        cout: 24,
        kernel: (3, 3),
        padding: Padding::Same,
    }
    .geometry();
    let (x, kernel) = (vec![0.5; 32], vec![0.25; 9 * 2 * 24]);
    for engine in [AVX512, AVX2] {
        let result = conv_forward_on(engine, &x, &g, 1, &kernel, 24, None);
        let message = result
            .expect_err("24 channels are not a multiple of 16")
            .to_string();
        let expected = if engine.cpu_has_it() {
            "multiple of 16"
        } else {
            "lacks"
        };
        assert!(message.contains(expected), "{engine:?}: {message}");
    }
    let portable = conv_forward_on(ConvEngine::Im2colGemm, &x, &g, 1, &kernel, 24, None);
    assert_eq!(portable.unwrap().len(), 16 * 24);
}

/// The automatic choice: AVX-512 where the CPU has AVX-512F, AVX2 with `LUMBAR_NO_AVX512=1`
/// (or on a CPU with AVX2 and FMA only), none with `LUMBAR_PORTABLE_GEMM=1`. Each setting runs
/// in a child process (the choice is made once per process): this test binary again, running
/// only this test, told by `EXPECTED_CHOICE` what it must find.
#[test]
fn the_automatic_choice_follows_the_cpu_and_the_environment() {
    const EXPECTED: &str = "EXPECTED_CHOICE";
    if let Ok(expected) = std::env::var(EXPECTED) {
        assert_eq!(format!("{:?}", automatic_micro_kernel()), expected);
        return;
    }
    let has = |m: MicroKernel| m.cpu_has_it();
    let best = if has(MicroKernel::Avx512) {
        Some(MicroKernel::Avx512)
    } else {
        notice("skipped the AVX-512 part: CPU lacks AVX-512F");
        has(MicroKernel::Avx2).then_some(MicroKernel::Avx2)
    };
    let avx2 = has(MicroKernel::Avx2).then_some(MicroKernel::Avx2);
    for (settings, expected) in [
        (vec![], best),
        (vec![(NO_AVX512_ENV, "0")], best),
        (vec![(NO_AVX512_ENV, "1")], avx2),
        (vec![(PORTABLE_ENV, "1")], None),
        (vec![(PORTABLE_ENV, "1"), (NO_AVX512_ENV, "1")], None),
    ] {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([
                "--exact",
                "the_automatic_choice_follows_the_cpu_and_the_environment",
                "--test-threads=1",
            ])
            .env_remove(PORTABLE_ENV)
            .env_remove(NO_AVX512_ENV)
            .env(EXPECTED, format!("{expected:?}"));
        for (name, value) in &settings {
            child.env(name, value);
        }
        let output = child.output().unwrap();
        assert!(
            output.status.success(),
            "with {settings:?} the choice is not {expected:?}:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        let ran = String::from_utf8_lossy(&output.stdout).contains("1 passed");
        assert!(ran, "the child process ran no test: {settings:?}");
    }
}
