//! Behaviour of the layers and optimisers beyond their gradients: the fast convolution equals
//! the naive one, Adam matches its hand-computed first steps, batch norm normalises and keeps
//! Keras' running statistics, dropout keeps the right fraction, and bad shapes are errors.

use lumbar_cnn::nn::engine::bands::{band_rows, BAND_FLOATS};
use lumbar_cnn::nn::reference::conv2d as reference;
use lumbar_cnn::nn::*;
use lumbar_cnn::optim::{Adam, Optimizer, Sgd};
use lumbar_cnn::Error;
use ndarray::IxDyn;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn uniform(shape: &[usize], scale: f32, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let values = (0..shape.iter().product())
        .map(|_| rng.random_range(-scale..=scale))
        .collect();
    Tensor::from_shape_vec(IxDyn(shape), values).unwrap()
}

fn max_abs_difference(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// im2col + GEMM + rayon computes the same numbers as the seven nested loops.
    #[test]
    fn fast_conv_equals_naive_conv(
        n in 1usize..7, h in 1usize..11, w in 1usize..11, cin in 1usize..6, cout in 1usize..6,
        kh in 1usize..4, kw in 1usize..4, same in any::<bool>(), seed in any::<u64>(),
    ) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        prop_assume!(same || (h >= kh && w >= kw));
        let mut rng = StdRng::seed_from_u64(seed);
        let mut conv = Conv2d::new("conv", (kh, kw), cin, cout, padding, &mut rng);
        conv.params_mut()[1].value = uniform(&[cout], 1.0, seed ^ 1);
        let x = uniform(&[n, h, w, cin], 1.0, seed ^ 2);
        let fast = conv.forward(&x, Pass::Eval)?;
        let naive = reference::forward(&x, conv.kernel(), conv.bias(), padding)?;
        // Both sum the same products in different orders: f32 rounding only.
        prop_assert!(max_abs_difference(&fast, &naive) < 1e-5);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// With channel counts that are multiples of 16 the convolution takes a micro-kernel (AVX-512
    /// or AVX2, on CPUs that have one) in forward and in the input gradient: both equal their
    /// definitions.
    #[test]
    fn micro_kernel_conv_equals_naive_conv(
        n in 1usize..4, h in 1usize..9, w in 1usize..9,
        cin in prop::sample::select(vec![1usize, 3, 16, 32]),
        cout in prop::sample::select(vec![16usize, 32, 48]),
        kh in 1usize..4, kw in 1usize..4, same in any::<bool>(), seed in any::<u64>(),
    ) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        prop_assume!(same || (h >= kh && w >= kw));
        let mut rng = StdRng::seed_from_u64(seed);
        let mut conv = Conv2d::new("conv", (kh, kw), cin, cout, padding, &mut rng);
        conv.params_mut()[1].value = uniform(&[cout], 1.0, seed ^ 1);
        let x = uniform(&[n, h, w, cin], 1.0, seed ^ 2);
        let y = conv.forward(&x, Pass::Train { step: 0 })?;
        let naive = reference::forward(&x, conv.kernel(), conv.bias(), padding)?;
        prop_assert!(max_abs_difference(&y, &naive) < 1e-5);
        let dy = uniform(y.shape(), 1.0, seed ^ 3);
        let dx = conv.backward(&dy)?;
        let expected = reference::input_gradient(conv.kernel(), &dy, padding)?;
        prop_assert!(max_abs_difference(&dx, &expected) < 1e-4);
    }
}

#[test]
#[allow(clippy::needless_range_loop)] // index loops mirror the formulas
fn adam_first_two_steps_match_hand_computation() {
    // One parameter θ = [1.0, -2.0] with gradients g1 = [0.5, -0.1], then g2 = [-0.2, 0.3].
    let mut param = Param::new(
        "w",
        Tensor::from_shape_vec(IxDyn(&[2]), vec![1.0, -2.0]).unwrap(),
    );
    let mut adam = Adam::default();
    let grads = [[0.5f64, -0.1], [-0.2, 0.3]];
    // Keras' rule by hand, in f64: m, v, α_t = lr·√(1−β2^t)/(1−β1^t), θ −= α_t·m/(√v+ε).
    let (lr, b1, b2, eps) = (1e-3f64, 0.9f64, 0.999f64, 1e-7f64);
    let mut theta = [1.0f64, -2.0];
    let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
    for (t, g) in grads.iter().enumerate() {
        let t = (t + 1) as i32;
        let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        for i in 0..2 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            theta[i] -= alpha * m[i] / (v[i].sqrt() + eps);
        }
        param.grad =
            Tensor::from_shape_vec(IxDyn(&[2]), g.iter().map(|&x| x as f32).collect()).unwrap();
        adam.step(&mut [&mut param]).unwrap();
        for i in 0..2 {
            assert!(
                (param.value[[i]] as f64 - theta[i]).abs() < 1e-6,
                "step {t}, entry {i}"
            );
        }
        if t == 1 {
            // Adam's first step has size ≈ lr in the direction of −sign(g), whatever |g| is.
            assert!((param.value[[0]] - (1.0 - 1e-3)).abs() < 1e-6);
            assert!((param.value[[1]] - (-2.0 + 1e-3)).abs() < 1e-6);
        }
    }
    assert_eq!(adam.iterations(), 2);
}

#[test]
fn batch_norm_statistics_are_state_listed_after_the_parameters() {
    let mut model = Sequential::new("m", &[4, 4, 2]);
    let mut rng = StdRng::seed_from_u64(5);
    model
        .push(Conv2d::new("conv2d", (3, 3), 2, 3, Padding::Same, &mut rng))
        .unwrap();
    model
        .push(BatchNorm::new("batch_normalization", 3))
        .unwrap();
    // The optimiser sees kernel, bias, gamma, beta; the running statistics are state.
    let names: Vec<&str> = model.params().iter().map(|(_, p)| p.name).collect();
    assert_eq!(names, ["kernel", "bias", "gamma", "beta"]);
    let state: Vec<(&str, &str)> = model.state().iter().map(|(l, s)| (*l, s.name)).collect();
    assert_eq!(
        state,
        [
            ("batch_normalization", "moving_mean"),
            ("batch_normalization", "moving_variance")
        ]
    );
    // Keras' get_weights() order, and the checkpoint names.
    let weights: Vec<String> = model.named_weights().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        weights,
        [
            "conv2d/kernel",
            "conv2d/bias",
            "batch_normalization/gamma",
            "batch_normalization/beta",
            "batch_normalization/moving_mean",
            "batch_normalization/moving_variance"
        ]
    );
    assert_eq!(model.parameter_counts(), (2 * 9 * 3 + 3 + 3 + 3, 3 + 3));
    // A training step moves the running mean; Adam's step leaves it where the pass put it.
    let x = uniform(&[2, 4, 4, 2], 1.0, 6).mapv(|v| v + 3.0);
    let y = model.forward(&x, Pass::Train { step: 0 }).unwrap();
    model.backward_params(&y.mapv(|v| v * 0.1)).unwrap();
    let moved = model.state()[0].1.value.clone();
    assert!(
        moved.iter().any(|&v| v != 0.0),
        "the train pass moves the statistics"
    );
    Adam::default().step(&mut model.params_mut()).unwrap();
    Sgd::new(0.1, 0.9).step(&mut model.params_mut()).unwrap();
    assert_eq!(
        model.state()[0].1.value,
        moved,
        "optimisers never touch state"
    );
    // set_weights restores every weight, state included, in the same order.
    let snapshot = model.weights();
    model.forward(&x, Pass::Train { step: 1 }).unwrap();
    assert_ne!(model.state()[0].1.value, moved);
    model.set_weights(&snapshot).unwrap();
    assert_eq!(model.weights(), snapshot);
}

#[test]
fn sequential_forward_and_backward_chain_the_layers() {
    // Dense → ReLU → Dense by hand, against the model: the same numbers.
    let mut rng = StdRng::seed_from_u64(8);
    let mut model = Sequential::new("chain", &[5]);
    model.push(Dense::new("dense", 5, 4, &mut rng)).unwrap();
    model.push(Relu::new("re_lu")).unwrap();
    model.push(Dense::new("dense_1", 4, 3, &mut rng)).unwrap();
    let mut rng = StdRng::seed_from_u64(8);
    let (mut first, mut relu, mut last) = (
        Dense::new("dense", 5, 4, &mut rng),
        Relu::new("re_lu"),
        Dense::new("dense_1", 4, 3, &mut rng),
    );
    let x = uniform(&[6, 5], 1.0, 9);
    let pass = Pass::Train { step: 0 };
    let by_hand = last
        .forward(
            &relu
                .forward(&first.forward(&x, pass).unwrap(), pass)
                .unwrap(),
            pass,
        )
        .unwrap();
    assert_eq!(model.forward(&x, pass).unwrap(), by_hand);
    let dy = uniform(&[6, 3], 1.0, 10);
    let dx_by_hand = first
        .backward(&relu.backward(&last.backward(&dy).unwrap()).unwrap())
        .unwrap();
    assert_eq!(model.backward(&dy).unwrap(), dx_by_hand);
    assert_eq!(model.params()[0].1.grad, first.params()[0].grad);
}

#[test]
fn sgd_with_momentum_accumulates_velocity() {
    let mut p = Param::new("w", Tensor::from_elem(IxDyn(&[1]), 1.0));
    p.grad.fill(2.0);
    let mut sgd = Sgd::new(0.1, 0.5);
    sgd.step(&mut [&mut p]).unwrap(); // v = −0.2, θ = 0.8
    sgd.step(&mut [&mut p]).unwrap(); // v = 0.5·(−0.2) − 0.2 = −0.3, θ = 0.5
    assert!((p.value[[0]] - 0.5).abs() < 1e-6);
}

#[test]
fn batch_norm_train_mode_normalises_each_channel() {
    let mut bn = BatchNorm::new("bn", 3);
    // Channels with very different means and spreads.
    let mut x = uniform(&[8, 5, 5, 3], 1.0, 11);
    for (i, v) in x.iter_mut().enumerate() {
        let c = i % 3;
        *v = *v * (1.0 + 4.0 * c as f32) + 10.0 * c as f32 - 3.0;
    }
    let y = bn.forward(&x, Pass::Train { step: 0 }).unwrap();
    let mean_and_variance = |t: &Tensor, c: usize| {
        let values: Vec<f64> = t.iter().skip(c).step_by(3).map(|&v| v as f64).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        (mean, var)
    };
    for c in 0..3 {
        let (mean, var) = mean_and_variance(&y, c);
        let (_, input_var) = mean_and_variance(&x, c);
        assert!(mean.abs() < 1e-5, "channel {c}: mean {mean}");
        // var(x̂) = σ²/(σ²+ε): a hair below 1 because of Keras' ε = 1e-3.
        let want = input_var / (input_var + 1e-3);
        assert!(
            (var - want).abs() < 1e-4,
            "channel {c}: variance {var}, want {want}"
        );
        assert!(var > 0.99, "channel {c}: variance {var}");
    }
}

#[test]
fn batch_norm_eval_mode_uses_running_statistics_with_keras_momentum() {
    let mut bn = BatchNorm::new("bn", 2);
    let x = uniform(&[16, 2], 2.0, 12).mapv(|v| v + 5.0);
    bn.forward(&x, Pass::Train { step: 0 }).unwrap();
    for c in 0..2 {
        let values: Vec<f32> = x.iter().skip(c).step_by(2).copied().collect();
        let mean = values.iter().sum::<f32>() / 16.0;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 16.0;
        // momentum 0.99 weights the old value (mean 0, variance 1).
        assert!((bn.moving_mean()[[c]] - 0.01 * mean).abs() < 1e-5);
        assert!((bn.moving_variance()[[c]] - (0.99 + 0.01 * var)).abs() < 1e-5);
    }
    let probe = uniform(&[4, 2], 1.0, 13);
    let y = bn.forward(&probe, Pass::Eval).unwrap();
    for ((index, &inp), &out) in probe.indexed_iter().zip(y.iter()) {
        let c = index[1];
        let want = (inp - bn.moving_mean()[[c]]) / (bn.moving_variance()[[c]] + 1e-3).sqrt();
        assert!((out - want).abs() < 1e-5);
    }
    // Eval mode must not move the running statistics.
    let before = bn.moving_mean().clone();
    bn.forward(&probe, Pass::Eval).unwrap();
    assert_eq!(&before, bn.moving_mean());
}

#[test]
fn dropout_keeps_the_expected_fraction_and_preserves_the_mean() {
    let rate = 0.3;
    let mut dropout = Dropout::new("dropout", rate, 42).unwrap();
    let x = Tensor::ones(IxDyn(&[100, 1000]));
    let y = dropout.forward(&x, Pass::Train { step: 0 }).unwrap();
    let n = x.len() as f64;
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / n;
    let sd = (rate as f64 * (1.0 - rate as f64) / n).sqrt();
    assert!((kept - 0.7).abs() < 5.0 * sd, "kept fraction {kept}");
    // Kept values are scaled by 1/(1−rate), so the mean stays ≈ 1.
    let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n;
    assert!((mean - 1.0).abs() < 5.0 * sd / 0.7, "mean {mean}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
    // Identity at inference.
    assert_eq!(dropout.forward(&x, Pass::Eval).unwrap(), x);
}

#[test]
fn dropout_mask_is_a_function_of_seed_and_step() {
    let x = Tensor::ones(IxDyn(&[4, 50]));
    let mut a = Dropout::new("d", 0.5, 1).unwrap();
    let mut b = Dropout::new("d", 0.5, 1).unwrap();
    let ya = a.forward(&x, Pass::Train { step: 7 }).unwrap();
    assert_eq!(ya, b.forward(&x, Pass::Train { step: 7 }).unwrap());
    assert_eq!(
        ya,
        a.forward(&x, Pass::Train { step: 7 }).unwrap(),
        "same step, same mask"
    );
    assert_ne!(
        ya,
        a.forward(&x, Pass::Train { step: 8 }).unwrap(),
        "next step, new mask"
    );
}

/// The message of a shape error must name the layer and both shapes.
fn assert_shape_error(result: lumbar_cnn::Result<Tensor>, layer: &str) {
    match result {
        Err(e @ Error::Shape { .. }) => {
            let text = e.to_string();
            assert!(text.contains(layer), "{text}");
            assert!(
                text.contains("expected") && text.contains("found"),
                "{text}"
            );
        }
        Err(other) => panic!("expected a shape error, got {other}"),
        Ok(_) => panic!("expected a shape error, got a result"),
    }
}

#[test]
fn wrong_shapes_are_errors_naming_the_layer() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut conv = Conv2d::new("conv2d_7", (3, 3), 3, 4, Padding::Same, &mut rng);
    assert_shape_error(
        conv.forward(
            &Tensor::zeros(IxDyn(&[2, 8, 8, 1])),
            Pass::Train { step: 0 },
        ),
        "conv2d_7",
    );
    assert_shape_error(
        conv.forward(&Tensor::zeros(IxDyn(&[8, 8, 3])), Pass::Train { step: 0 }),
        "conv2d_7",
    );
    assert_shape_error(
        conv.forward(
            &Tensor::zeros(IxDyn(&[0, 8, 8, 3])),
            Pass::Train { step: 0 },
        ),
        "conv2d_7",
    );
    let mut valid = Conv2d::new("conv_valid", (3, 3), 1, 1, Padding::Valid, &mut rng);
    assert_shape_error(
        valid.forward(
            &Tensor::zeros(IxDyn(&[1, 2, 8, 1])),
            Pass::Train { step: 0 },
        ),
        "conv_valid",
    );

    let mut dense = Dense::new("dense_2", 10, 3, &mut rng);
    assert_shape_error(
        dense.forward(&Tensor::zeros(IxDyn(&[4, 9])), Pass::Train { step: 0 }),
        "dense_2",
    );
    dense
        .forward(&Tensor::zeros(IxDyn(&[4, 10])), Pass::Train { step: 0 })
        .unwrap();
    assert_shape_error(dense.backward(&Tensor::zeros(IxDyn(&[4, 2]))), "dense_2");

    let mut bn = BatchNorm::new("batch_normalization", 5);
    assert_shape_error(
        bn.forward(&Tensor::zeros(IxDyn(&[4, 6])), Pass::Train { step: 0 }),
        "batch_normalization",
    );
    let mut pool = MaxPool2d::new("max_pooling2d");
    assert_shape_error(
        pool.forward(
            &Tensor::zeros(IxDyn(&[1, 1, 4, 2])),
            Pass::Train { step: 0 },
        ),
        "max_pooling2d",
    );
}

#[test]
fn loss_rejects_bad_labels_and_empty_batches() {
    let mut loss = SoftmaxCrossEntropy::new();
    let logits = Tensor::zeros(IxDyn(&[2, 3]));
    let err = loss.forward(&logits, &[0, 3]).unwrap_err().to_string();
    assert!(err.contains("label 3") && err.contains("0..3"), "{err}");
    assert!(
        loss.forward(&logits, &[0]).is_err(),
        "2 logit rows for 1 label"
    );
    assert!(
        loss.forward(&Tensor::zeros(IxDyn(&[0, 3])), &[]).is_err(),
        "empty batch"
    );
    assert!(
        SoftmaxCrossEntropy::new().backward().is_err(),
        "backward before forward"
    );
}

#[test]
fn loss_of_uniform_prediction_is_ln_k_and_clipping_bounds_it() {
    let mut loss = SoftmaxCrossEntropy::new();
    let uniform_loss = loss
        .forward(&Tensor::zeros(IxDyn(&[4, 3])), &[0, 1, 2, 0])
        .unwrap();
    assert!((uniform_loss - 3f32.ln()).abs() < 1e-6);
    // A hopelessly wrong prediction costs at most −ln(1e-7) ≈ 16.118, thanks to the clip.
    let logits = Tensor::from_shape_vec(IxDyn(&[1, 3]), vec![100.0, -100.0, 0.0]).unwrap();
    let worst = loss.forward(&logits, &[1]).unwrap();
    assert!((worst - (1e-7f32).ln().abs()).abs() < 1e-3, "{worst}");
    assert!(loss.backward().unwrap().iter().all(|&g| g == 0.0));
}

#[test]
fn backward_before_forward_is_an_error() {
    let mut rng = StdRng::seed_from_u64(0);
    let dy = Tensor::zeros(IxDyn(&[1, 2, 2, 1]));
    let mut layers: Vec<Box<dyn Layer>> = vec![
        Box::new(Conv2d::new("c", (3, 3), 1, 1, Padding::Same, &mut rng)),
        Box::new(BatchNorm::new("b", 1)),
        Box::new(MaxPool2d::new("m")),
        Box::new(Relu::new("r")),
        Box::new(Flatten::new("f")),
        Box::new(Dropout::new("d", 0.5, 0).unwrap()),
        Box::new(Dense::new("e", 4, 1, &mut rng)),
    ];
    for layer in &mut layers {
        let err = layer.backward(&dy).unwrap_err().to_string();
        assert!(err.contains("before forward"), "{}: {err}", layer.name());
    }
}

#[test]
fn sequential_checks_shapes_and_counts_parameters_like_keras() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Sequential::new("tiny", &[8, 8, 3]);
    model
        .push(Conv2d::new("conv2d", (3, 3), 3, 4, Padding::Same, &mut rng))
        .unwrap();
    model.push(Relu::new("re_lu")).unwrap();
    model
        .push(BatchNorm::new("batch_normalization", 4))
        .unwrap();
    model.push(MaxPool2d::new("max_pooling2d")).unwrap();
    model.push(Flatten::new("flatten")).unwrap();
    // A dense layer expecting the wrong width is refused when pushed.
    assert!(model
        .push(Dense::new("dense_bad", 65, 3, &mut rng))
        .is_err());
    model.push(Dense::new("dense", 64, 3, &mut rng)).unwrap();
    // conv: 3·3·3·4 + 4 = 112; BN: 4 γ + 4 β trainable, 8 running stats; dense: 64·3 + 3 = 195.
    assert_eq!(model.parameter_counts(), (112 + 8 + 195, 8));
    let summary = model.summary().unwrap();
    assert!(summary.contains("(None, 4, 4, 4)"), "{summary}");
    assert!(summary.contains("Trainable params: 315"), "{summary}");
    assert!(summary.contains("Non-trainable params: 8"), "{summary}");

    let x = uniform(&[2, 8, 8, 3], 1.0, 1);
    let y = model.forward(&x, Pass::Train { step: 0 }).unwrap();
    assert_eq!(y.shape(), &[2, 3]);
    let dx = model.backward(&Tensor::ones(IxDyn(&[2, 3]))).unwrap();
    assert_eq!(dx.shape(), x.shape());
    let err = model
        .forward(&uniform(&[2, 8, 8, 1], 1.0, 1), Pass::Train { step: 0 })
        .unwrap_err();
    assert!(err.to_string().contains("tiny"), "{err}");
}

/// A deep layer's shape (64 → 128 channels, 2,304 output rows): its bands are made longer so the
/// kernel is packed fewer times (`band_rows`); the result is still the naive convolution's.
#[test]
fn fast_conv_equals_naive_conv_with_long_bands() {
    let (cin, cout, rows) = (64, 128, 48 * 48);
    let patch_len = 9 * cin;
    assert!(
        band_rows(patch_len, cout, rows) > BAND_FLOATS / patch_len,
        "this shape must take the long-band branch"
    );
    let mut rng = StdRng::seed_from_u64(21);
    let mut conv = Conv2d::new("conv", (3, 3), cin, cout, Padding::Same, &mut rng);
    let x = uniform(&[1, 48, 48, cin], 1.0, 22);
    let fast = conv.forward(&x, Pass::Eval).unwrap();
    let naive = reference::forward(&x, conv.kernel(), conv.bias(), Padding::Same).unwrap();
    assert!(max_abs_difference(&fast, &naive) < 1e-4);
}

/// Training asks the first layer for its parameter gradients only: they must be exactly the
/// ones a full backward pass gives, for a convolution (which skips its input gradient) and for
/// a whole network.
#[test]
fn parameter_only_backward_gives_the_same_parameter_gradients() {
    let mut rng = StdRng::seed_from_u64(31);
    let x = uniform(&[4, 10, 10, 3], 1.0, 32);
    let mut model = Sequential::new("net", &[10, 10, 3]);
    model
        .push(Conv2d::new("conv", (3, 3), 3, 5, Padding::Same, &mut rng))
        .unwrap();
    model.push(Relu::new("relu")).unwrap();
    model.push(Flatten::new("flatten")).unwrap();
    model.push(Dense::new("dense", 500, 3, &mut rng)).unwrap();
    let y = model.forward(&x, Pass::Train { step: 0 }).unwrap();
    let dy = uniform(y.shape(), 1.0, 33);
    model.backward(&dy).unwrap();
    let full: Vec<Tensor> = model.params().iter().map(|(_, p)| p.grad.clone()).collect();
    for param in model.params_mut() {
        param.grad.fill(f32::NAN);
    }
    model.forward(&x, Pass::Train { step: 0 }).unwrap();
    model.backward_params(&dy).unwrap();
    let params_only: Vec<Tensor> = model.params().iter().map(|(_, p)| p.grad.clone()).collect();
    assert_eq!(full, params_only);
}

/// ReLU keeps positives, zeroes negatives and zero, lets NaN through (so the loss check sees
/// it), and its backward pass passes the gradient only where the input was positive.
#[test]
fn relu_keeps_positives_zeroes_the_rest_and_passes_nan_through() {
    let x = Tensor::from_shape_vec(IxDyn(&[1, 5]), vec![2.0, -1.0, 0.0, f32::NAN, 0.5]).unwrap();
    let mut relu = Relu::new("relu");
    let y = relu.forward(&x, Pass::Train { step: 0 }).unwrap();
    assert_eq!(y[[0, 0]], 2.0);
    assert_eq!(y[[0, 1]], 0.0);
    assert_eq!(y[[0, 2]], 0.0);
    assert!(y[[0, 3]].is_nan());
    assert_eq!(y[[0, 4]], 0.5);
    let dy = Tensor::from_elem(IxDyn(&[1, 5]), 3.0);
    let dx = relu.backward(&dy).unwrap();
    assert_eq!(dx.as_slice().unwrap(), &[3.0, 0.0, 0.0, 0.0, 3.0]);
}

/// Max pooling by its definition: the first maximum of each 2×2 window in row-major order,
/// its input index (within the image) the one the gradient goes to.
fn max_pool_by_definition(x: &Tensor) -> (Vec<f32>, Vec<usize>) {
    let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (mut values, mut winners) = (Vec::new(), Vec::new());
    for image in 0..n {
        for i in 0..h / 2 {
            for j in 0..w / 2 {
                for ch in 0..c {
                    let mut best = (2 * i, 2 * j);
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let (y, x_) = (2 * i + dy, 2 * j + dx);
                        if x[[image, y, x_, ch]] > x[[image, best.0, best.1, ch]] {
                            best = (y, x_);
                        }
                    }
                    values.push(x[[image, best.0, best.1, ch]]);
                    winners.push(image * h * w * c + (best.0 * w + best.1) * c + ch);
                }
            }
        }
    }
    (values, winners)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// The vectorised max pooling equals the definition, with ties (values on a coarse grid),
    /// odd sizes, many channels, and NaN (which never wins against an earlier value, and
    /// keeps its place when it comes first), and sends each gradient to the same winner.
    #[test]
    fn max_pool_equals_its_definition(
        n in 1usize..3, h in 2usize..9, w in 2usize..9, c in 1usize..21, seed in 0u64..1000,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = Tensor::from_shape_fn(IxDyn(&[n, h, w, c]), |_| {
            if rng.random::<f32>() < 0.05 { f32::NAN } else { rng.random_range(0..4) as f32 }
        });
        let mut pool = MaxPool2d::new("max_pooling2d");
        let y = pool.forward(&x, Pass::Train { step: 0 }).unwrap();
        let (values, winners) = max_pool_by_definition(&x);
        for (got, want) in y.iter().zip(&values) {
            prop_assert!(got == want || (got.is_nan() && want.is_nan()), "{got} vs {want}");
        }
        let dy = Tensor::from_shape_fn(y.raw_dim(), |i| 1.0 + (i[1] * 31 + i[2] * 7 + i[3]) as f32);
        let dx = pool.backward(&dy).unwrap();
        let mut want_dx = vec![0.0f32; x.len()];
        for (g, &winner) in dy.iter().zip(&winners) {
            want_dx[winner] += g;
        }
        prop_assert_eq!(dx.as_slice().unwrap(), &want_dx[..]);
    }
}
