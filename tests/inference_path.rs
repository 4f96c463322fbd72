//! The forward-only path (`Sequential::infer`, `Layer::infer`, `Layer::infer_then`) gives the
//! eval pass's output: layer by layer, and for the whole paper network with batch norm's running
//! statistics away from their defaults (so the fused affine maps do something), at 32×32 and
//! 64×64 (where Winograd and the direct engines both run, each with the maps fused into its
//! bands). A backward pass after it is an error, not a panic or a stale gradient.
//!
//! **Tolerance.** The fused path computes batch norm as `s·x + t` instead of
//! `γ (x − μ)/√(σ² + ε) + β`: a few roundings of `ε = 1.2e-7` of the values' size per layer,
//! which the following layers carry along. Outputs are compared with
//! `|infer − eval| ≤ 1e-4 · (1 + max |eval|)`, far below the effect of one wrong map (a ReLU
//! skipped or a channel's scale misplaced changes outputs by their own size).

use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::nn::engine::channel_maps::{relu_keeping_nan, ChannelMap};
use lumbar_cnn::nn::relu::relu;
use lumbar_cnn::nn::{BatchNorm, Conv2d, Dropout, Layer, Padding, Pass, Relu, Sequential, Tensor};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random(shape: &[usize], rng: &mut StdRng) -> Tensor {
    let len = shape.iter().product();
    Tensor::from_shape_vec(
        IxDyn(shape),
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
    )
    .unwrap()
}

/// Set every batch norm's γ, β, running mean and running variance to random values (variance
/// in 0.5–2), so that the eval pass is not close to the identity.
fn randomise_batch_norms(model: &mut Sequential, rng: &mut StdRng) {
    for layer in model.layers_mut() {
        if layer.kind() != "BatchNormalization" {
            continue;
        }
        for param in layer.params_mut() {
            param.value.mapv_inplace(|_| rng.random_range(0.5f32..1.5));
        }
        for (i, state) in layer.state_mut().into_iter().enumerate() {
            // moving_mean first, moving_variance second (Keras' order).
            let range = if i == 0 { -0.2f32..0.2 } else { 0.5..2.0 };
            state
                .value
                .mapv_inplace(|_| rng.random_range(range.clone()));
        }
    }
}

fn assert_close(fast: &Tensor, eval: &Tensor, what: &str) {
    assert_eq!(fast.shape(), eval.shape(), "{what}: shape");
    let largest = eval.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let tolerance = 1e-4 * (1.0 + largest);
    let worst = fast
        .iter()
        .zip(eval)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("{what}: worst difference {worst:.2e} (tolerance {tolerance:.2e})");
    assert!(worst <= tolerance, "{what}: {worst} > {tolerance}");
}

#[test]
fn infer_equals_the_eval_pass_on_the_paper_network() {
    for (size, batch) in [(32, 3), (64, 2)] {
        let mut rng = StdRng::seed_from_u64(size as u64);
        let mut model = paper_cnn(size, 7).unwrap();
        randomise_batch_norms(&mut model, &mut rng);
        let x = random(&[batch, size, size, 3], &mut rng).mapv(|v| v.abs());
        let eval = model.forward(&x, Pass::Eval).unwrap();
        let fast = model.infer(&x).unwrap();
        assert_close(
            &fast,
            &eval,
            &format!("paper_cnn at {size}×{size}, batch {batch}"),
        );
        // Inference keeps nothing for backward.
        let dy = Tensor::from_elem(fast.raw_dim(), 0.1);
        assert!(
            model.backward(&dy).is_err(),
            "backward after infer must be refused"
        );
    }
}

#[test]
fn each_layer_infers_its_eval_pass() {
    let mut rng = StdRng::seed_from_u64(3);
    let x = random(&[2, 6, 8, 16], &mut rng);
    let mut relu = Relu::new("re_lu");
    let mut dropout = Dropout::new("dropout", 0.25, 1).unwrap();
    let mut norm = BatchNorm::new("batch_normalization", 16);
    for param in norm.params_mut() {
        param.value.mapv_inplace(|_| rng.random_range(0.5f32..1.5));
    }
    let eval = |layer: &mut dyn Layer| layer.forward(&x, Pass::Eval).unwrap();
    assert_eq!(relu.infer(x.clone()).unwrap(), eval(&mut relu));
    assert_eq!(dropout.infer(x.clone()).unwrap(), eval(&mut dropout));
    assert_close(
        &norm.infer(x.clone()).unwrap(),
        &eval(&mut norm),
        "batch norm",
    );
    // A convolution with ReLU and batch norm fused into its bands, against the three layers.
    let mut conv = Conv2d::new("conv2d", (3, 3), 16, 32, Padding::Same, &mut rng);
    let mut wide_norm = BatchNorm::new("batch_normalization_1", 32);
    for param in wide_norm.params_mut() {
        param.value.mapv_inplace(|_| rng.random_range(0.5f32..1.5));
    }
    let separate = {
        let y = conv.forward(&x, Pass::Eval).unwrap();
        let y = relu.forward(&y, Pass::Eval).unwrap();
        wide_norm.forward(&y, Pass::Eval).unwrap()
    };
    let mut maps = relu.inference_maps().unwrap();
    maps.extend(wide_norm.inference_maps().unwrap());
    let fused = conv.infer_then(x.clone(), &maps).unwrap();
    assert_close(&fused, &separate, "conv2d + ReLU + batch norm fused");
}

#[test]
fn maps_of_the_wrong_width_are_refused() {
    let mut rng = StdRng::seed_from_u64(4);
    let x = random(&[1, 4, 4, 16], &mut rng);
    let mut conv = Conv2d::new("conv2d", (3, 3), 16, 32, Padding::Same, &mut rng);
    let narrow = ChannelMap::Affine {
        scale: vec![1.0; 16],
        shift: vec![0.0; 16],
    };
    let error = conv
        .infer_then(x.clone(), std::slice::from_ref(&narrow))
        .unwrap_err();
    assert!(error.to_string().contains("conv2d"), "{error}");
    let mut relu = Relu::new("re_lu");
    assert!(relu
        .infer_then(random(&[1, 4, 4, 8], &mut rng), &[narrow])
        .is_err());
    // And a wrong input shape is the layer's usual error.
    assert!(conv.infer(random(&[1, 4, 4, 3], &mut rng)).is_err());
}

#[test]
fn the_fused_relu_is_the_layer_relu() {
    for x in [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        0.0,
        -1.5,
        2.5,
        f32::MIN_POSITIVE,
    ] {
        let (fused, layer) = (relu_keeping_nan(x), relu(x));
        assert!(
            fused.to_bits() == layer.to_bits() || (fused.is_nan() && layer.is_nan()),
            "{x}"
        );
    }
}

/// The inference path keeps each convolution's prepared kernel between batches; a change of
/// the weights (an optimiser step, loaded weights) or of the input size must be seen.
#[test]
fn changed_weights_and_sizes_are_not_served_from_the_kept_kernel() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut model = paper_cnn(32, 3).unwrap();
    let x = random(&[2, 32, 32, 3], &mut rng);
    let before = model.infer(&x).unwrap();
    assert_close(&model.infer(&x).unwrap(), &before, "the same weights twice");
    // Negate every convolution's kernel (the 512-channel layers take Winograd).
    for layer in model.layers_mut() {
        if layer.kind() == "Conv2D" {
            layer.params_mut()[0].value.mapv_inplace(|v| -v);
        }
    }
    let eval = model.forward(&x, Pass::Eval).unwrap();
    let after = model.infer(&x).unwrap();
    assert_close(&after, &eval, "after changing the kernels");
    let moved = after.iter().zip(&before).any(|(a, b)| (a - b).abs() > 1e-3);
    assert!(moved, "changing the kernels must change the output");
    // Another input size: a Conv2d alone on 8×8 and then 6×6 images (Winograd, then direct).
    let mut conv = Conv2d::new("conv2d", (3, 3), 64, 64, Padding::Same, &mut rng);
    for (h, w) in [(8, 8), (6, 6), (7, 6)] {
        let x = random(&[1, h, w, 64], &mut rng);
        let eval = conv.forward(&x, Pass::Eval).unwrap();
        assert_close(&conv.infer(x).unwrap(), &eval, &format!("conv on {h}×{w}"));
    }
}
