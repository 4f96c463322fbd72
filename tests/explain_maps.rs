//! Saliency and Grad-CAM are what their definitions say.
//!
//! - Saliency's gradient equals centred finite differences of the class score (proptest, as the
//!   layer gradient checks), through a small network of the paper's kind.
//! - Grad-CAM of a model whose class score is a known linear function of the chosen layer's
//!   activations (conv → ReLU → flatten → dense) equals the map computed by hand from the dense
//!   weights: `α_k = mean_{i,j} W[i,j,k; c]`, `L = ReLU(Σ_k α_k A_k)`.
//! - The map is upsampled with the image resize's half-pixel convention: a delta at coarse pixel
//!   `(i, j)` peaks on the fine pixels it covers, where the resized sac ellipse's centre lies.

use lumbar_cnn::explain::grad_cam::{grad_cam_from, grad_cam_layer};
use lumbar_cnn::explain::localisation::localise;
use lumbar_cnn::explain::{default_grad_cam_layer, grad_cam, score_gradient, Ellipse};
use lumbar_cnn::gradcheck::relative_error;
use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::nn::*;
use lumbar_cnn::prepare::image_ops::resize_bilinear;
use ndarray::{Array2, IxDyn};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// conv 3→4 (3×3 same) → ReLU → batch norm → max pool → flatten → dense 3.
fn small_cnn(side: usize, seed: u64) -> Sequential {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Sequential::new("small", &[side, side, 3]);
    model
        .push(Conv2d::new("conv2d", (3, 3), 3, 4, Padding::Same, &mut rng))
        .unwrap();
    model.push(Relu::new("re_lu")).unwrap();
    model
        .push(BatchNorm::new("batch_normalization", 4))
        .unwrap();
    model.push(MaxPool2d::new("max_pooling2d")).unwrap();
    model.push(Flatten::new("flatten")).unwrap();
    let features = (side / 2) * (side / 2) * 4;
    model
        .push(Dense::new("dense", features, 3, &mut rng))
        .unwrap();
    model
}

fn uniform(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::from_shape_fn(IxDyn(shape), |_| rng.random_range(0.0..1.0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn the_saliency_gradient_is_the_class_scores_derivative(
        seed in 0u64..1000, class in 0usize..3, half in 2usize..4
    ) {
        let side = 2 * half;
        let mut model = small_cnn(side, seed);
        let x = uniform(&[1, side, side, 3], seed + 1);
        let analytic = score_gradient(&mut model, &x, &[class], None).unwrap().gradient;
        let point: Vec<f32> = x.iter().copied().collect();
        let mut score = |values: &[f32]| -> f64 {
            let input = Tensor::from_shape_vec(IxDyn(x.shape()), values.to_vec()).unwrap();
            model.forward(&input, Pass::Eval).unwrap()[[0, class]] as f64
        };
        // Centred differences, skipping the inputs where a ReLU or a max pool switches inside
        // ±h (the one-sided slopes disagree there, and no derivative exists at the kink).
        let h = 1e-3f32;
        let centre = score(&point);
        let (mut analytic_kept, mut numeric_kept, mut kinks) = (Vec::new(), Vec::new(), 0);
        for i in (0..point.len()).step_by(3) {
            let mut moved = point.clone();
            moved[i] = point[i] + h;
            let (up_x, up) = (moved[i] as f64, score(&moved));
            moved[i] = point[i] - h;
            let (down_x, down) = (moved[i] as f64, score(&moved));
            let right = (up - centre) / (up_x - point[i] as f64);
            let left = (centre - down) / (point[i] as f64 - down_x);
            if (right - left).abs() > 1e-2 * (right.abs() + left.abs()) + 1e-3 {
                kinks += 1;
                continue;
            }
            numeric_kept.push((up - down) / (up_x - down_x));
            analytic_kept.push(analytic.as_slice().unwrap()[i] as f64);
        }
        prop_assert!(kinks * 4 < point.len() / 3, "{kinks} inputs sit on a kink");
        let error = relative_error(&analytic_kept, &numeric_kept);
        prop_assert!(error < 1e-2, "relative error {error:e}");
    }
}

#[test]
fn grad_cam_of_a_linear_score_is_the_hand_computed_map() {
    let (side, channels, classes) = (6usize, 4usize, 3usize);
    let mut rng = StdRng::seed_from_u64(3);
    let mut model = Sequential::new("linear-head", &[side, side, 3]);
    model
        .push(Conv2d::new(
            "conv2d",
            (3, 3),
            3,
            channels,
            Padding::Same,
            &mut rng,
        ))
        .unwrap();
    model.push(Relu::new("re_lu")).unwrap();
    model.push(Flatten::new("flatten")).unwrap();
    model
        .push(Dense::new(
            "dense",
            side * side * channels,
            classes,
            &mut rng,
        ))
        .unwrap();
    let layer = grad_cam_layer(&model, "conv2d").unwrap();
    assert_eq!(
        layer.index, 1,
        "a Conv2D stands for its ReLU output, as in Keras"
    );
    assert_eq!(layer.size, (side, side));

    let images = uniform(&[2, side, side, 3], 9);
    let classes_of = [2usize, 0];
    let maps = grad_cam(&mut model, &images, &classes_of, &layer).unwrap();
    let kernel = model.layers()[3].params()[0].value.clone(); // [features, classes]
    for (n, &class) in classes_of.iter().enumerate() {
        let image = images
            .index_axis(ndarray::Axis(0), n)
            .insert_axis(ndarray::Axis(0));
        let activation = model
            .forward_keeping(&image.to_owned(), Pass::Eval, 1)
            .unwrap()
            .1;
        // ∂y_c/∂A[i,j,k] = W[(i·side + j)·channels + k, c] (flatten is row-major over i, j, k).
        let alpha: Vec<f32> = (0..channels)
            .map(|k| {
                (0..side * side)
                    .map(|p| kernel[[p * channels + k, class]])
                    .sum::<f32>()
                    / (side * side) as f32
            })
            .collect();
        let expected = Array2::from_shape_fn((side, side), |(i, j)| {
            (0..channels)
                .map(|k| alpha[k] * activation[[0, i, j, k]])
                .sum::<f32>()
                .max(0.0)
        });
        for (k, (&a, &b)) in alpha.iter().zip(&maps[n].weights).enumerate() {
            assert!((a - b).abs() < 1e-6, "α_{k}: {a} by hand, {b} by grad_cam");
        }
        for ((i, j), &e) in expected.indexed_iter() {
            let got = maps[n].coarse[(i, j)];
            assert!(
                (e - got).abs() < 1e-5,
                "map at ({i}, {j}): {e} by hand, {got}"
            );
        }
        // At the input size, the map is the coarse one (the layer keeps the input's size).
        assert_eq!(maps[n].map, maps[n].coarse);
    }
}

#[test]
fn the_weighted_sum_is_rectified() {
    let activation = ndarray::Array3::from_shape_fn((2, 2, 2), |(i, _, k)| (i + k) as f32);
    let gradient =
        ndarray::Array3::from_shape_fn((2, 2, 2), |(_, _, k)| if k == 0 { 1.0 } else { -1.0 });
    let (coarse, weights) = grad_cam_from(activation.view(), gradient.view());
    assert_eq!(weights, vec![1.0, -1.0]);
    // Row 0: 1·0 − 1·1 = −1 → 0; row 1: 1·1 − 1·2 = −1 → 0.
    assert!(coarse.iter().all(|&v| v == 0.0));
}

#[test]
fn a_delta_map_upsamples_onto_the_pixels_it_covers_and_the_resized_ellipse_agrees() {
    let mut coarse = Array2::<f32>::zeros((4, 4));
    coarse[(1, 2)] = 1.0;
    let fine = resize_bilinear(coarse.view(), 16, 16);
    let max = fine.iter().cloned().fold(0.0f32, f32::max);
    let peaks: Vec<(usize, usize)> = fine
        .indexed_iter()
        .filter(|(_, &v)| v == max)
        .map(|(p, _)| p)
        .collect();
    // Coarse pixel 1 spans fine rows 4..8 (centre 5.5), coarse pixel 2 fine columns 8..12 (9.5).
    assert_eq!(peaks, vec![(5, 9), (5, 10), (6, 9), (6, 10)]);
    let sac = Ellipse {
        centre_row: 1.0,
        centre_col: 2.0,
        half_rows: 0.5,
        half_cols: 0.5,
    }
    .resized((4, 4), (16, 16));
    assert_eq!((sac.centre_row, sac.centre_col), (5.5, 9.5));
    assert!(localise(&fine, &sac).hit);
}

#[test]
fn the_default_layer_is_the_deepest_convolution_of_at_least_8x8() {
    let model = paper_cnn(32, 1).unwrap();
    let layer = default_grad_cam_layer(&model).unwrap();
    assert_eq!(layer.size, (8, 8));
    assert_eq!(
        layer.name, "conv2d_5",
        "block 3's second convolution at 32×32"
    );
    assert_eq!(model.layers()[layer.index].kind(), "ReLU");
    let error = grad_cam_layer(&model, "dense").unwrap_err().to_string();
    assert!(error.contains("feature map"), "{error}");
    let error = grad_cam_layer(&model, "nope").unwrap_err().to_string();
    assert!(error.contains("conv2d_9"), "{error}");
}
