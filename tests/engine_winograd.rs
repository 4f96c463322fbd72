//! The Winograd F(2×2, 3×3) path (`nn::engine::winograd`, `winograd_kernel_gradient`) equals the
//! reference convolution (`nn::reference::conv2d`, the definitions as nested loops), forward,
//! input gradient and kernel gradient, with
//! every product engine this CPU can run (AVX-512 and AVX2 micro-kernels, `matrixmultiply`), on
//! the network's own layer shapes and on shapes that reach every branch of the path; and it is
//! taken exactly for the shapes it fits. The direct kernel gradient (`conv_kernel_gradient_direct`,
//! what chapter 13 times Winograd's against) is held to the same reference on the same shapes.
//!
//! **Branches.** A band holds whole tile rows (pairs of image rows); inside it, blocks of
//! `tiles_per_block(cin, cout)` tiles are transformed and multiplied together. The cases below
//! reach: one band and several; a band that runs from one image into the next; one block per
//! band and several, the last one short; a single tile per image (2×2 images); tiles on the
//! top, bottom, left and right borders (zeros read from the padding) and inside; non-square
//! images; channel counts that are odd multiples of 16 (a 16-wide last panel in the
//! micro-kernel) and the 512 channels of block 5 (the smallest block); with and without bias.
//! [`the_cases_reach_every_branch`] checks the block and band branches from the path's public
//! constants.
//!
//! **Tolerance.** `|winograd − reference| ≤ 1e-5 · Σ |x·w|` value by value (the sum of the
//! absolute products behind that output, computed by the reference on `|x|` and `|w|`), plus
//! `1e-6`. The transforms multiply by 0, ±1 and ±1/2 and add up to 16 values, so each
//! transformed value carries a few roundings of `ε = 1.2e-7` relative to the absolute sum;
//! `1e-5` is about 80 ε. A missing or wrong term of typical size is orders of magnitude above
//! it (checked by [`a_wrong_term_is_caught`]).

use lumbar_cnn::nn::engine::conv::conv_kernel_gradient_direct;
mod engine_common;

use engine_common::{assert_close, random};
use lumbar_cnn::nn::engine::implicit_im2col::MicroKernel;
use lumbar_cnn::nn::engine::winograd::{
    conv_winograd_on, tile_rows_per_band, tiles_per_block, winograd_applies, winograd_can_compute,
    MIN_CHANNELS, NO_WINOGRAD_ENV,
};
use lumbar_cnn::nn::engine::winograd_kernel_gradient::{chunk_tiles, winograd_kernel_gradient};
use lumbar_cnn::nn::engine::{conv_input_gradient, ConvGeometry};
use lumbar_cnn::nn::reference::conv2d as reference;
use lumbar_cnn::nn::{Padding, Tensor};
use lumbar_cnn::test_notice::notice;
use ndarray::IxDyn;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The product engines this CPU can run, by name; says which it cannot.
fn product_engines() -> Vec<(&'static str, Option<MicroKernel>)> {
    let mut missing = Vec::new();
    let mut engines = vec![("matrixmultiply", None)];
    for (name, micro_kernel) in [
        ("AVX2 micro-kernel", MicroKernel::Avx2),
        ("AVX-512 micro-kernel", MicroKernel::Avx512),
    ] {
        if micro_kernel.cpu_has_it() {
            engines.push((name, Some(micro_kernel)));
        } else {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        notice(&format!(
            "tests/engine_winograd.rs: Winograd's products are not checked on the {}: this CPU lacks its instructions",
            missing.join(", ")
        ));
    }
    engines
}

/// A "same" 3×3 convolution's geometry for `h × w × c` images.
fn same_3x3(h: usize, w: usize, c: usize) -> ConvGeometry {
    ConvGeometry::same(h, w, c, (3, 3))
}

/// One forward case on every product engine: `n` images of `h × w × cin` into `cout`.
fn check_forward(
    n: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    with_bias: bool,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = random(&[n, h, w, cin], &mut rng);
    let kernel = random(&[3, 3, cin, cout], &mut rng);
    let bias = if with_bias {
        random(&[cout], &mut rng)
    } else {
        Tensor::zeros(IxDyn(&[cout]))
    };
    let exact = reference::forward(&x, &kernel, &bias, Padding::Same).unwrap();
    let scale = reference::forward(
        &x.mapv(f32::abs),
        &kernel.mapv(f32::abs),
        &bias.mapv(f32::abs),
        Padding::Same,
    )
    .unwrap();
    let g = same_3x3(h, w, cin);
    assert!(winograd_can_compute(&g, cout));
    for (name, micro_kernel) in product_engines() {
        let bias = with_bias.then(|| bias.as_slice().unwrap());
        let x = x.as_slice().unwrap();
        let y = conv_winograd_on(
            micro_kernel,
            x,
            &g,
            n,
            kernel.as_slice().unwrap(),
            cout,
            bias,
            &[],
        );
        let worst = assert_close(
            &y,
            &exact,
            &scale,
            &format!("forward {n}×{h}×{w}×{cin}→{cout} ({name})"),
        );
        println!(
            "forward {n}×{h}×{w}×{cin}→{cout}, {name}: worst error {worst:.3} of the tolerance"
        );
    }
}

/// The fixed cases: the network's layers (at 32 px, and block 1 and 5 at 256 px, batch 1) and
/// the branch cases of the module documentation.
const CASES: [(usize, usize, usize, usize, usize); 12] = [
    // The paper's network at 32×32 (blocks 1–5), batch 2.
    (2, 32, 32, 32, 32),
    (2, 16, 16, 32, 64),
    (2, 8, 8, 128, 128),
    (2, 4, 4, 128, 256),
    (2, 2, 2, 256, 512),
    (2, 2, 2, 512, 512),
    // Block 1 at 256×256 (one image) and block 5 at 256×256 (16×16, two images).
    (1, 256, 256, 32, 32),
    (2, 16, 16, 512, 512),
    // Odd multiples of 16, non-square images, several blocks per band with a short last one.
    (3, 6, 10, 48, 80),
    (1, 2, 200, 32, 48),
    (5, 4, 2, 112, 32),
    (1, 2, 136, 256, 256),
];

#[test]
fn winograd_forward_equals_the_reference_on_every_case() {
    for (i, &(n, h, w, cin, cout)) in CASES.iter().enumerate() {
        check_forward(n, h, w, cin, cout, i % 2 == 0, i as u64);
    }
}

/// The band and block branches the fixed cases reach, from the path's public constants.
#[test]
fn the_cases_reach_every_branch() {
    let (mut one_band, mut several_bands, mut across_images) = (false, false, false);
    let (mut one_block, mut several_blocks, mut short_block) = (false, false, false);
    for &(n, h, w, cin, cout) in &CASES {
        let tiles_per_row = w / 2;
        let tile_rows = n * h / 2;
        let block = tiles_per_block(cin, cout);
        let rows_per_band = tile_rows_per_band(tiles_per_row, tile_rows, block);
        let bands = tile_rows.div_ceil(rows_per_band);
        one_band |= bands == 1;
        several_bands |= bands > 1;
        across_images |= (0..tile_rows).step_by(rows_per_band).any(|first| {
            (first / (h / 2)) != ((first + rows_per_band).min(tile_rows) - 1) / (h / 2)
        });
        let tiles = rows_per_band * tiles_per_row;
        one_block |= tiles <= block;
        several_blocks |= tiles > block;
        short_block |= tiles > block && !tiles.is_multiple_of(block);
    }
    assert!(one_band && several_bands && across_images, "bands");
    assert!(one_block && several_blocks && short_block, "blocks");
}

#[test]
fn the_input_gradient_through_the_engine_equals_the_reference() {
    // conv_input_gradient convolves dy with the flipped kernel by the chosen engine: Winograd
    // for these shapes unless LUMBAR_NO_WINOGRAD is set.
    for (seed, &(n, h, w, cin, cout)) in
        [(2, 16, 16, 64, 64), (1, 4, 6, 128, 64), (2, 2, 2, 512, 512)]
            .iter()
            .enumerate()
    {
        let mut rng = StdRng::seed_from_u64(100 + seed as u64);
        let kernel = random(&[3, 3, cin, cout], &mut rng);
        let dy = random(&[n, h, w, cout], &mut rng);
        let exact = reference::input_gradient(&kernel, &dy, Padding::Same).unwrap();
        let scale =
            reference::input_gradient(&kernel.mapv(f32::abs), &dy.mapv(f32::abs), Padding::Same)
                .unwrap();
        let g = same_3x3(h, w, cin);
        let turned_off = std::env::var(NO_WINOGRAD_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(turned_off || winograd_applies(&same_3x3(h, w, cout), cin));
        let dx = conv_input_gradient(
            dy.as_slice().unwrap(),
            &g,
            n,
            kernel.as_slice().unwrap(),
            (cin, cout),
        );
        assert_close(
            &dx,
            &exact,
            &scale,
            &format!("input gradient {n}×{h}×{w}×{cin}←{cout}"),
        );
    }
}

#[test]
fn only_shapes_the_path_computes_take_it() {
    let cout = 64;
    assert!(winograd_can_compute(&same_3x3(8, 8, 32), cout));
    assert!(winograd_can_compute(&same_3x3(8, 8, 16), 16));
    // Not a multiple of 16 channels (the first layer's 3, or 40, 24).
    assert!(!winograd_can_compute(&same_3x3(8, 8, 3), cout));
    assert!(!winograd_can_compute(&same_3x3(8, 8, 40), cout));
    assert!(!winograd_can_compute(&same_3x3(8, 8, 32), 24));
    // Odd sizes, "valid" padding, other kernels.
    assert!(!winograd_can_compute(&same_3x3(7, 8, 32), cout));
    assert!(!winograd_can_compute(&same_3x3(8, 9, 32), cout));
    let valid = ConvGeometry {
        pad_top: 0,
        pad_left: 0,
        ho: 6,
        wo: 6,
        ..same_3x3(8, 8, 32)
    };
    assert!(!winograd_can_compute(&valid, cout));
    let five = ConvGeometry {
        kh: 5,
        kw: 5,
        pad_top: 2,
        pad_left: 2,
        ..same_3x3(8, 8, 32)
    };
    assert!(!winograd_can_compute(&five, cout));
    // The engine takes it from MIN_CHANNELS channels on, in and out, unless turned off.
    if std::env::var(NO_WINOGRAD_ENV).is_ok_and(|v| !v.is_empty() && v != "0") {
        notice(&format!(
            "{NO_WINOGRAD_ENV} is set: the automatic choice is off, not checked"
        ));
        return;
    }
    assert!(winograd_applies(
        &same_3x3(8, 8, MIN_CHANNELS),
        MIN_CHANNELS
    ));
    assert!(!winograd_applies(
        &same_3x3(8, 8, MIN_CHANNELS - 16),
        MIN_CHANNELS
    ));
    assert!(!winograd_applies(
        &same_3x3(8, 8, MIN_CHANNELS),
        MIN_CHANNELS - 16
    ));
}

/// The tolerance is tight enough to see one wrong kernel value of typical size.
#[test]
fn a_wrong_term_is_caught() {
    let (n, h, w, cin, cout) = (1, 4, 4, 32, 32);
    let mut rng = StdRng::seed_from_u64(7);
    let x = random(&[n, h, w, cin], &mut rng);
    let mut kernel = random(&[3, 3, cin, cout], &mut rng);
    let bias = Tensor::zeros(IxDyn(&[cout]));
    let exact = reference::forward(&x, &kernel, &bias, Padding::Same).unwrap();
    let scale = reference::forward(
        &x.mapv(f32::abs),
        &kernel.mapv(f32::abs),
        &bias,
        Padding::Same,
    )
    .unwrap();
    kernel[[1, 1, 5, 7]] += 0.5;
    let g = same_3x3(h, w, cin);
    let y = conv_winograd_on(
        None,
        x.as_slice().unwrap(),
        &g,
        n,
        kernel.as_slice().unwrap(),
        cout,
        None,
        &[],
    );
    let caught = std::panic::catch_unwind(|| assert_close(&y, &exact, &scale, "changed kernel"));
    assert!(
        caught.is_err(),
        "a changed kernel value must exceed the tolerance"
    );
}

/// The kernel gradient: one chunk and several (the last one short), 16 to 512 channels,
/// non-square images; tolerance as for the forward pass, `Σ |x·dy|` behind each value.
#[test]
fn the_kernel_gradient_equals_the_reference() {
    assert!(
        3 * 128 * 128 > chunk_tiles(16, 16),
        "the first case must take two chunks"
    );
    for (seed, &(n, h, w, cin, cout)) in [
        (3, 256, 256, 16, 16),
        (2, 16, 16, 64, 64),
        (1, 6, 10, 48, 80),
        (2, 4, 4, 512, 512),
    ]
    .iter()
    .enumerate()
    {
        let mut rng = StdRng::seed_from_u64(200 + seed as u64);
        let x = random(&[n, h, w, cin], &mut rng);
        let dy = random(&[n, h, w, cout], &mut rng);
        let exact = reference::kernel_gradient(&x, &dy, (3, 3), Padding::Same).unwrap();
        let scale = reference::kernel_gradient(
            &x.mapv(f32::abs),
            &dy.mapv(f32::abs),
            (3, 3),
            Padding::Same,
        )
        .unwrap();
        let g = same_3x3(h, w, cin);
        let dk =
            winograd_kernel_gradient(x.as_slice().unwrap(), &g, n, dy.as_slice().unwrap(), cout);
        let worst = assert_close(
            &dk,
            &exact,
            &scale,
            &format!("kernel gradient {n}×{h}×{w}×{cin}→{cout}"),
        );
        println!(
            "kernel gradient {n}×{h}×{w}×{cin}→{cout}: worst error {worst:.3} of the tolerance"
        );
        // The direct path chapter 13 times against it, on the same shapes.
        let direct =
            conv_kernel_gradient_direct(x.as_slice().unwrap(), &g, n, dy.as_slice().unwrap(), cout);
        assert_close(
            &direct,
            &exact,
            &scale,
            &format!("direct kernel gradient {n}×{h}×{w}×{cin}→{cout}"),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn winograd_forward_equals_the_reference_on_random_shapes(
        n in 1usize..3,
        half_h in 1usize..6,
        half_w in 1usize..6,
        cin_steps in 2usize..6,
        cout_steps in 2usize..6,
        with_bias in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_forward(n, 2 * half_h, 2 * half_w, 16 * cin_steps, 16 * cout_steps, with_bias, seed);
    }
}
