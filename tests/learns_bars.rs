//! The honest end-to-end test of the layer library: a small conv net, built only from our layers
//! and trained with our Adam, learns to tell horizontal from vertical bars in noisy images it
//! has never seen. If any forward or backward were wrong, it would not.

use lumbar_cnn::nn::*;
use lumbar_cnn::optim::{Adam, Optimizer};
use ndarray::{Axis, IxDyn};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

const SIZE: usize = 12;

/// `count` images `[count, 12, 12, 1]` with one bar each (label 0 horizontal, 1 vertical) of
/// random position and length, plus Gaussian noise of standard deviation 0.4.
fn bars(count: usize, rng: &mut StdRng) -> (Tensor, Vec<usize>) {
    let noise = Normal::new(0.0f32, 0.4).unwrap();
    let mut x = Tensor::zeros(IxDyn(&[count, SIZE, SIZE, 1]));
    let mut labels = Vec::with_capacity(count);
    for n in 0..count {
        let label = rng.random_range(0..2usize);
        let line = rng.random_range(1..SIZE - 1);
        let start = rng.random_range(0..4);
        let length = rng.random_range(6..=SIZE - start);
        for i in start..start + length {
            let (row, col) = if label == 0 { (line, i) } else { (i, line) };
            x[[n, row, col, 0]] = 1.0;
        }
        x.index_axis_mut(Axis(0), n)
            .mapv_inplace(|v| v + noise.sample(rng));
        labels.push(label);
    }
    (x, labels)
}

fn small_net(rng: &mut StdRng) -> Sequential {
    let mut model = Sequential::new("bars", &[SIZE, SIZE, 1]);
    model
        .push(Conv2d::new("conv2d", (3, 3), 1, 4, Padding::Same, rng))
        .unwrap();
    model.push(Relu::new("re_lu")).unwrap();
    model.push(MaxPool2d::new("max_pooling2d")).unwrap();
    model
        .push(Conv2d::new("conv2d_1", (3, 3), 4, 8, Padding::Same, rng))
        .unwrap();
    model.push(Relu::new("re_lu_1")).unwrap();
    model.push(MaxPool2d::new("max_pooling2d_1")).unwrap();
    model.push(Flatten::new("flatten")).unwrap();
    model.push(Dense::new("dense", 3 * 3 * 8, 2, rng)).unwrap();
    model
}

fn accuracy(model: &mut Sequential, x: &Tensor, labels: &[usize]) -> f64 {
    let logits = model.forward(x, Pass::Eval).unwrap();
    let correct = logits
        .outer_iter()
        .zip(labels)
        .filter(|(row, &label)| {
            let predicted = if row[1] > row[0] { 1 } else { 0 };
            predicted == label
        })
        .count();
    correct as f64 / labels.len() as f64
}

#[test]
fn a_small_conv_net_learns_bars_to_95_percent_on_held_out_images() {
    let mut rng = StdRng::seed_from_u64(2025);
    let (train_x, train_y) = bars(512, &mut rng);
    let (test_x, test_y) = bars(256, &mut rng);
    let mut model = small_net(&mut rng);
    let mut loss = SoftmaxCrossEntropy::new();
    let mut adam = Adam::new(3e-3);
    let before = accuracy(&mut model, &test_x, &test_y);
    let batch = 32;
    for _epoch in 0..15 {
        for start in (0..train_y.len()).step_by(batch) {
            let end = (start + batch).min(train_y.len());
            let xb = train_x.slice_axis(Axis(0), (start..end).into()).to_owned();
            let logits = model.forward(&xb, Pass::Train { step: 0 }).unwrap();
            loss.forward(&logits, &train_y[start..end]).unwrap();
            model.backward(&loss.backward().unwrap()).unwrap();
            adam.step(&mut model.params_mut()).unwrap();
        }
    }
    let after = accuracy(&mut model, &test_x, &test_y);
    assert!(
        after >= 0.95,
        "held-out accuracy {after:.3} (before training {before:.3})"
    );
}
