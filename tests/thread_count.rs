//! Reproducibility across thread counts: two full training steps of a small network of the
//! paper's kind give the same loss, gradients and parameters, bit for bit, on 1, 2 and 3
//! threads.
//!
//! Every parallel loop in the layers cuts its work by the shapes only (bands of `band_rows`
//! pixels, `WEIGHT_GRAD_PARTS` partial sums added in order, dropout's mask in fixed blocks, …),
//! never by the number of threads; this test holds them to it on shapes that reach several
//! bands, the banded partial-sum kernel gradient, the AVX2 micro-kernel and the portable engine.
//! The network, on a batch of 4 images of 64×64×3 (Keras names, `same` 3×3 convolutions, each
//! followed by ReLU and batch norm):
//!
//! ```text
//! conv2d 3→32, conv2d_1 32→32, max pool, dropout 0.25        64×64 → 32×32
//! conv2d_2 32→64, conv2d_3 64→64, max pool, dropout 0.25     32×32 → 16×16
//! conv2d_4 64→512, max pool                                  16×16 → 8×8
//! flatten 32,768, dense 16, ReLU, batch norm, dropout 0.5, dense 3, softmax cross-entropy
//! ```
//!
//! and Adam, two steps, so that Adam's moments and dropout's step both enter the second.

use lumbar_cnn::nn::engine::bands::band_rows;
use lumbar_cnn::nn::engine::conv::{WEIGHT_GRAD_PARTS, WHOLE_COL_FLOATS};
use lumbar_cnn::nn::engine::implicit_im2col::{automatic_micro_kernel, PackedKernel, PORTABLE_ENV};
use lumbar_cnn::nn::{
    BatchNorm, Conv2d, Dense, Dropout, Flatten, MaxPool2d, Padding, Pass, Relu, Sequential,
    SoftmaxCrossEntropy, Tensor,
};
use lumbar_cnn::optim::{Adam, Optimizer};
use lumbar_cnn::test_notice::notice;
use lumbar_cnn::Result;
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------------
// The engine's branch rules, from its public constants and functions: the only place this file
// looks inside the engine.

/// Whether the convolution engine takes a micro-kernel for `k`-value im2col rows into `cout`
/// channels on this run.
fn micro_kernel_runs(k: usize, cout: usize) -> bool {
    PackedKernel::new(&vec![0.0; k * cout], k, cout).is_some()
}

/// Whether the kernel gradient of `rows` output pixels of `k` values sums band by band in
/// partial sums (rather than building the whole im2col matrix), and into how many parts.
fn kernel_gradient_parts(k: usize, cout: usize, rows: usize) -> Option<usize> {
    (rows * k > WHOLE_COL_FLOATS).then(|| {
        rows.div_ceil(band_rows(k, cout, rows))
            .min(WEIGHT_GRAD_PARTS)
    })
}

/// Bands of whole image rows the micro-kernel cuts `rows_total` image rows of `wo` pixels into.
fn micro_kernel_bands(k: usize, cout: usize, image_rows: usize, wo: usize) -> usize {
    let band_pixels = band_rows(k, cout, image_rows * wo);
    image_rows.div_ceil(band_pixels.div_ceil(wo).max(1))
}

// ---------------------------------------------------------------------------------------------

const BATCH: usize = 4;
const SIZE: usize = 64;
const CLASSES: usize = 3;

/// The network described at the top, its weights and dropout masks drawn from `seed`.
fn network(seed: u64) -> Result<Sequential> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Sequential::new("threads", &[SIZE, SIZE, 3]);
    let mut convs = 0;
    let mut conv = |model: &mut Sequential, cin, cout, rng: &mut StdRng| -> Result<()> {
        let name = match convs {
            0 => "conv2d".to_string(),
            i => format!("conv2d_{i}"),
        };
        convs += 1;
        model.push(Conv2d::new(&name, (3, 3), cin, cout, Padding::Same, rng))?;
        model.push(Relu::new(format!("{name}_relu")))?;
        model.push(BatchNorm::new(format!("{name}_bn"), cout))
    };
    conv(&mut model, 3, 32, &mut rng)?;
    conv(&mut model, 32, 32, &mut rng)?;
    model.push(MaxPool2d::new("max_pooling2d"))?;
    model.push(Dropout::new("dropout", 0.25, seed ^ 1)?)?;
    conv(&mut model, 32, 64, &mut rng)?;
    conv(&mut model, 64, 64, &mut rng)?;
    model.push(MaxPool2d::new("max_pooling2d_1"))?;
    model.push(Dropout::new("dropout_1", 0.25, seed ^ 2)?)?;
    conv(&mut model, 64, 512, &mut rng)?;
    model.push(MaxPool2d::new("max_pooling2d_2"))?;
    model.push(Flatten::new("flatten"))?;
    model.push(Dense::new("dense", 8 * 8 * 512, 16, &mut rng))?;
    model.push(Relu::new("dense_relu"))?;
    model.push(BatchNorm::new("dense_bn", 16))?;
    model.push(Dropout::new("dropout_2", 0.5, seed ^ 3)?)?;
    model.push(Dense::new("dense_1", 16, CLASSES, &mut rng))?;
    Ok(model)
}

/// Everything a training step produces, as bits: the loss, then every parameter's gradient and
/// value (trainable and running statistics) after the step.
type StepBits = Vec<(String, Vec<u32>)>;

fn bits(t: &Tensor) -> Vec<u32> {
    t.iter().map(|v| v.to_bits()).collect()
}

/// Two training steps (as the fit loop does them) on `threads` threads, from the same seeds.
fn two_steps(threads: usize) -> Result<Vec<StepBits>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let mut model = network(11)?;
        let mut rng = StdRng::seed_from_u64(12);
        let len = BATCH * SIZE * SIZE * 3;
        let x = Tensor::from_shape_vec(
            IxDyn(&[BATCH, SIZE, SIZE, 3]),
            (0..len).map(|_| rng.random_range(0.0..1.0)).collect(),
        )
        .expect("input size");
        let labels = [0, 1, 2, 1];
        let (mut loss_fn, mut adam) = (SoftmaxCrossEntropy::new(), Adam::default());
        let mut steps = Vec::new();
        for step in 0..2 {
            let logits = model.forward(&x, Pass::Train { step })?;
            let loss = loss_fn.forward(&logits, &labels)?;
            model.backward_params(&loss_fn.backward()?)?;
            let mut record = vec![("loss".to_string(), vec![loss.to_bits()])];
            for (layer, param) in model.params() {
                let name = format!("{layer}/{}", param.name);
                record.push((format!("{name} gradient"), bits(&param.grad)));
            }
            adam.step(&mut model.params_mut())?;
            for (layer, param) in model.params() {
                record.push((format!("{layer}/{}", param.name), bits(&param.value)));
            }
            steps.push(record);
        }
        Ok(steps)
    })
}

/// The shapes above reach the branches this test is about (checked from the engine's own rules,
/// so a change of its constants cannot make the test pass without them):
///
/// - `conv2d_1` (32→32 on 4×64×64: 16,384 pixels of `k = 288`): `16,384 · 288 = 4,718,592 >
///   WHOLE_COL_FLOATS = 4,194,304`, so its kernel gradient is summed in partial sums: bands of
///   `band_rows(288, 32, 16,384) = max(227, min(64, 2,048)) = 227` pixels, `⌈16,384/227⌉ = 73`
///   bands in 8 parts of 10 (the last 3). Its forward pass and input gradient run on the
///   micro-kernel (32 channels) in `⌈256/⌈227/64⌉⌉ = 64` bands of 4 image rows.
/// - `conv2d` (3→32, `k = 27`): micro-kernel forward, `band_rows(27, 32, 16,384) = 2,427` →
///   `⌈256/38⌉ = 7` bands; its kernel gradient (`16,384 · 27 = 442,368`) builds the whole
///   im2col matrix.
/// - `conv2d_4` (64→512): the portable engine forward (512 channels, more than either
///   micro-kernel takes: 128 for AVX2, 256 for AVX-512), in
///   `⌈1,024/128⌉ = 8` bands; its input gradient (into 64 channels) on the micro-kernel.
#[test]
fn shapes_reach_the_branches_under_test() {
    assert_eq!(kernel_gradient_parts(288, 32, BATCH * SIZE * SIZE), Some(8));
    assert_eq!(kernel_gradient_parts(27, 32, BATCH * SIZE * SIZE), None);
    assert_eq!(micro_kernel_bands(288, 32, BATCH * SIZE, SIZE), 64);
    assert_eq!(micro_kernel_bands(27, 32, BATCH * SIZE, SIZE), 7);
    let quarter = SIZE / 4;
    assert_eq!(
        (BATCH * quarter * quarter).div_ceil(band_rows(576, 512, BATCH * quarter * quarter)),
        8
    );
    if let Some(micro_kernel) = automatic_micro_kernel() {
        println!("micro-kernel under test: {}", micro_kernel.name());
        assert!(micro_kernel_runs(288, 32) && micro_kernel_runs(27, 32));
        assert!(micro_kernel_runs(9 * 512, 64), "conv2d_4's input gradient");
    } else {
        let reason = match std::env::var(PORTABLE_ENV) {
            Ok(value) if !value.is_empty() && value != "0" => format!("{PORTABLE_ENV}={value}"),
            _ => "this CPU lacks AVX2 or FMA".to_string(),
        };
        notice(&format!(
            "skipped the micro-kernel check: {reason}; thread counts are compared on the portable engine only"
        ));
    }
    assert!(!micro_kernel_runs(576, 512), "conv2d_4 forward is portable");
}

/// Two training steps give the same loss, gradients and parameters, bit for bit, on 1, 2 and 3
/// threads (3 does not divide the bands or parts evenly, and exceeds this machine's cores).
#[test]
fn training_steps_do_not_depend_on_the_thread_count() -> Result<()> {
    let one = two_steps(1)?;
    for threads in [2, 3] {
        let other = two_steps(threads)?;
        for (step, (expected, got)) in one.iter().zip(&other).enumerate() {
            assert_eq!(expected.len(), got.len());
            for ((name, want), (_, have)) in expected.iter().zip(got) {
                let differing = want.iter().zip(have).filter(|(a, b)| a != b).count();
                assert!(
                    differing == 0,
                    "step {}, {threads} threads: {name} differs from 1 thread in {differing} of {} values",
                    step + 1,
                    want.len()
                );
            }
        }
    }
    Ok(())
}
