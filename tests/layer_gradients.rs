//! Every layer's backward pass checked against centred finite differences, by proptest over
//! random shapes and values (see `lumbar_cnn::gradcheck` for the method).
//!
//! Tolerance: a correct backward in f32 with h = 1e-2 gives relative errors of about 1e-4 to
//! 1e-3; a wrong backward (sign, missing term, transposed index) gives 0.1 or more. Each
//! assertion uses `TOLERANCE = 1e-2`, an order of magnitude above the first and below the second.

use lumbar_cnn::gradcheck::{self, away_from_zero, check_layer, distinct_values, CheckOptions};
use lumbar_cnn::nn::*;
use ndarray::IxDyn;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Largest relative error accepted between analytic and numeric gradients.
const TOLERANCE: f64 = 1e-2;

/// A tensor of `shape` with values uniform in `[-scale, scale]`, from `seed`.
fn uniform(shape: &[usize], scale: f32, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let values = (0..shape.iter().product())
        .map(|_| rng.random_range(-scale..=scale))
        .collect();
    Tensor::from_shape_vec(IxDyn(shape), values).unwrap()
}

fn options(seed: u64) -> CheckOptions {
    CheckOptions {
        seed,
        ..CheckOptions::default()
    }
}

fn assert_within_tolerance(report: &gradcheck::GradCheckReport) -> Result<(), TestCaseError> {
    prop_assert!(
        report.worst() < TOLERANCE,
        "gradient check failed (tolerance {TOLERANCE:e}):\n{report}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_gradients_match_finite_differences(
        n in 1usize..3, h in 1usize..7, w in 1usize..7, cin in 1usize..4, cout in 1usize..4,
        kh in prop::sample::select(vec![1usize, 2, 3]), kw in prop::sample::select(vec![1usize, 3]),
        same in any::<bool>(), seed in any::<u64>(),
    ) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        prop_assume!(same || (h >= kh && w >= kw));
        let mut rng = StdRng::seed_from_u64(seed);
        let mut conv = Conv2d::new("conv", (kh, kw), cin, cout, padding, &mut rng);
        // Non-zero biases so their gradient is checked away from the initial value too.
        conv.params_mut()[1].value = uniform(&[cout], 0.5, seed ^ 1);
        let x = uniform(&[n, h, w, cin], 1.0, seed ^ 2);
        let report = check_layer(&mut conv, &x, Pass::Train { step: 0 }, &options(seed))?;
        assert_within_tolerance(&report)?;
    }

    #[test]
    fn dense_gradients_match_finite_differences(
        n in 1usize..5, inputs in 1usize..9, outputs in 1usize..7, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut dense = Dense::new("dense", inputs, outputs, &mut rng);
        dense.params_mut()[1].value = uniform(&[outputs], 0.5, seed ^ 1);
        let x = uniform(&[n, inputs], 1.0, seed ^ 2);
        let report = check_layer(&mut dense, &x, Pass::Train { step: 0 }, &options(seed))?;
        assert_within_tolerance(&report)?;
    }

    #[test]
    fn relu_gradient_matches_finite_differences(
        shape in prop::collection::vec(1usize..5, 2..5), seed in any::<u64>(),
    ) {
        let mut x = uniform(&shape, 1.0, seed);
        away_from_zero(&mut x, 0.05); // the kink at 0 stays 5 steps away
        let report = check_layer(&mut Relu::new("relu"), &x, Pass::Train { step: 0 }, &options(seed))?;
        assert_within_tolerance(&report)?;
    }

    // ANCHOR: batch_norm_property
    #[test]
    fn batch_norm_gradients_match_finite_differences(
        n in 1usize..4, h in 1usize..4, w in 1usize..4, c in 1usize..4,
        dense_input in any::<bool>(), eval in any::<bool>(), seed in any::<u64>(),
    ) {
        // [N, H, W, C] feature maps or [M, C] dense features with M = N·H·W rows.
        let shape = if dense_input { vec![n * h * w, c] } else { vec![n, h, w, c] };
        prop_assume!(n * h * w >= 3); // at least 3 values per channel for a meaningful variance
        let mut bn = BatchNorm::new("bn", c);
        bn.params_mut()[0].value = uniform(&[c], 1.0, seed ^ 1).mapv(|g| g + 1.5); // gamma
        bn.params_mut()[1].value = uniform(&[c], 1.0, seed ^ 2); // beta
        let x = uniform(&shape, 2.0, seed ^ 3);
        let mode = if eval {
            // Move the running statistics away from (0, 1) first.
            bn.forward(&uniform(&shape, 3.0, seed ^ 4).mapv(|v| v + 1.0), Pass::Train { step: 0 })?;
            Pass::Eval
        } else {
            Pass::Train { step: 0 }
        };
        let report = check_layer(&mut bn, &x, mode, &options(seed))?;
        assert_within_tolerance(&report)?;
    }
    // ANCHOR_END: batch_norm_property

    #[test]
    fn max_pool_gradient_matches_finite_differences(
        n in 1usize..3, h in 2usize..8, w in 2usize..8, c in 1usize..4, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        // Distinct values 0.05 apart: no window's winner changes within a step of 0.01.
        let x = distinct_values(&[n, h, w, c], 0.05, &mut rng);
        let report = check_layer(&mut MaxPool2d::new("pool"), &x, Pass::Train { step: 0 }, &options(seed))?;
        assert_within_tolerance(&report)?;
    }

    #[test]
    fn dropout_gradient_matches_finite_differences(
        shape in prop::collection::vec(1usize..6, 2..5), rate in 0.0f32..0.9,
        step in any::<u64>(), seed in any::<u64>(),
    ) {
        let mut dropout = Dropout::new("dropout", rate, seed)?;
        let x = uniform(&shape, 1.0, seed ^ 1);
        // One step for every forward pass of the check: the same mask each time.
        let report = check_layer(&mut dropout, &x, Pass::Train { step }, &options(seed))?;
        assert_within_tolerance(&report)?;
    }

    #[test]
    fn flatten_gradient_matches_finite_differences(
        shape in prop::collection::vec(1usize..5, 2..5), seed in any::<u64>(),
    ) {
        let x = uniform(&shape, 1.0, seed);
        let report = check_layer(&mut Flatten::new("flatten"), &x, Pass::Train { step: 0 }, &options(seed))?;
        assert_within_tolerance(&report)?;
    }

    #[test]
    fn softmax_cross_entropy_gradient_matches_finite_differences(
        n in 1usize..6, classes in 2usize..6, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let logits = uniform(&[n, classes], 3.0, seed);
        let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..classes)).collect();
        let mut loss = SoftmaxCrossEntropy::new();
        loss.forward(&logits, &labels)?;
        let analytic: Vec<f64> = loss.backward()?.iter().map(|&v| v as f64).collect();
        let entries: Vec<usize> = (0..logits.len()).collect();
        let numeric = gradcheck::numeric_gradient(
            &mut |z: &[f32]| {
                let z = Tensor::from_shape_vec(IxDyn(&[n, classes]), z.to_vec()).unwrap();
                Ok(loss.forward(&z, &labels)? as f64)
            },
            logits.as_slice().unwrap(),
            &entries,
            1e-2,
        )?;
        let error = gradcheck::relative_error(&analytic, &numeric);
        prop_assert!(error < TOLERANCE, "softmax cross-entropy: relative error {error:e} ≥ {TOLERANCE:e}");
    }
}

// ANCHOR: checker_test
/// A deliberately wrong backward must fail the check: the checker itself is tested.
#[test]
fn the_checker_catches_a_wrong_gradient() {
    struct Doubling;
    impl Layer for Doubling {
        fn name(&self) -> &str {
            "doubling"
        }
        fn kind(&self) -> &'static str {
            "Test"
        }
        fn output_shape(&self, input: &[usize]) -> lumbar_cnn::Result<Vec<usize>> {
            Ok(input.to_vec())
        }
        fn forward(&mut self, x: &Tensor, _: Pass) -> lumbar_cnn::Result<Tensor> {
            Ok(x * 2.0)
        }
        fn backward(&mut self, dy: &Tensor) -> lumbar_cnn::Result<Tensor> {
            Ok(dy.clone()) // wrong: should be 2·dy
        }
    }
    let x = uniform(&[2, 3], 1.0, 7);
    let report = check_layer(&mut Doubling, &x, Pass::Train { step: 0 }, &options(7)).unwrap();
    assert!(
        report.worst() > 0.3,
        "a factor-2 error gave relative error {}",
        report.worst()
    );
}
// ANCHOR_END: checker_test
