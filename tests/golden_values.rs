//! Golden values: lumbar-cnn's layers, loss, optimiser and whole network against numbers
//! produced by the real libraries, Keras 3 (TensorFlow backend) and PyTorch.
//!
//! Every other test of the crate is internal (finite differences, naive loops); these tie its
//! semantics to Keras' and PyTorch's. The numbers live in `tests/golden/*.json`, written by
//! `python3 tests/golden/make_golden.py` (its docstring gives the versions and how to run it;
//! each file's `"provenance"` names the library versions, the functions called, the command and
//! the date). The JSON stores the inputs, the weights and the upstream gradient `G` of
//! `L = Σ y ⊙ G` next to the outputs, so nothing here depends on matching a random generator;
//! only the paper network's weights and input are computed, from the integer formula of
//! [`splitmix_unit`] and [`paper_weight`], the same as `make_golden.py`'s.
//!
//! **Tolerances.** lumbar-cnn, TensorFlow (oneDNN) and PyTorch all compute in f32 but add the
//! terms of each sum in different orders, so results agree to a few f32 roundings of the sum's
//! magnitude, not bit for bit. Each comparison passes when `max |ours − golden| ≤ rtol · scale`
//! with `scale = max |golden|` over the tensor (the magnitude of the sums that tensor holds);
//! `rtol` is stated at each assertion with its reason. f32's relative precision is 6e-8.

use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::nn::engine::implicit_im2col::automatic_micro_kernel;
use lumbar_cnn::nn::*;
use lumbar_cnn::optim::{Adam, Optimizer};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// The few calls into the layer API (kept here, so an API change touches only these helpers).
// ---------------------------------------------------------------------------------------------

/// A training-mode forward pass (batch statistics in batch norm).
fn forward_train(layer: &mut dyn Layer, x: &Tensor) -> Tensor {
    layer
        .forward(x, Pass::Train { step: 0 })
        .expect("forward (train)")
}

/// An inference-mode forward pass (running statistics in batch norm, no dropout).
fn forward_eval(layer: &mut dyn Layer, x: &Tensor) -> Tensor {
    layer.forward(x, Pass::Eval).expect("forward (eval)")
}

/// The backward pass for upstream gradient `g`: returns `dL/dx`, stores the parameter gradients.
fn backward(layer: &mut dyn Layer, g: &Tensor) -> Tensor {
    layer.backward(g).expect("backward")
}

/// The whole network's inference-mode forward pass.
fn model_forward_eval(model: &mut Sequential, x: &Tensor) -> Tensor {
    model.forward(x, Pass::Eval).expect("model forward (eval)")
}

/// Overwrite the parameter or state tensor called `name` (Keras' name: `kernel`, `gamma`,
/// `moving_mean`, …) of `layer`.
fn set_param(layer: &mut dyn Layer, name: &str, value: Tensor) {
    let slot = match layer.params_mut().into_iter().find(|p| p.name == name) {
        Some(param) => &mut param.value,
        None => {
            &mut layer
                .state_mut()
                .into_iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no parameter or state {name}"))
                .value
        }
    };
    assert_eq!(slot.shape(), value.shape(), "shape of {name}");
    *slot = value;
}

/// The value (`gradient = false`) or gradient (`true`) of the parameter called `name`; for a
/// state tensor (a running statistic, which has no gradient) its value.
fn param(layer: &dyn Layer, name: &str, gradient: bool) -> Tensor {
    if let Some(p) = layer.params().into_iter().find(|p| p.name == name) {
        return if gradient {
            p.grad.clone()
        } else {
            p.value.clone()
        };
    }
    assert!(!gradient, "{name} is state: it has no gradient");
    layer
        .state()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no parameter or state {name}"))
        .value
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Reading the JSON and comparing
// ---------------------------------------------------------------------------------------------

/// The parsed `tests/golden/<file>`.
fn golden(file: &str) -> Value {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A `{"shape": [...], "data": [...]}` tensor. Each value is an exact f32 written in decimal:
/// parsed as f64 and cast, it is that f32 bit for bit.
fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dimension") as usize)
        .collect();
    let data: Vec<f32> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect();
    Tensor::from_shape_vec(IxDyn(&shape), data).expect("shape matches data")
}

/// The single number of a 0-d tensor.
fn scalar(v: &Value) -> f32 {
    let t = tensor(v);
    assert_eq!(t.len(), 1);
    t.iter().copied().next().unwrap()
}

/// Assert `max |ours − golden| ≤ rtol · max |golden|` (see the module docs), naming `what`.
fn assert_close(what: &str, ours: &Tensor, golden: &Tensor, rtol: f32) {
    assert_eq!(ours.shape(), golden.shape(), "{what}: shape");
    let scale = golden.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let (worst, at) = ours
        .iter()
        .zip(golden.iter())
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold(
            (0.0f32, 0),
            |(w, i), (j, d)| if d > w { (d, j) } else { (w, i) },
        );
    assert!(
        worst <= rtol * scale,
        "{what}: max |ours − golden| = {worst:e} at flat index {at} (ours {}, golden {}) \
         exceeds {rtol:e} · {scale:e}",
        ours.iter().nth(at).unwrap(),
        golden.iter().nth(at).unwrap(),
    );
}

/// Keras and PyTorch, the two sources every JSON file holds.
const SOURCES: [&str; 2] = ["keras", "torch"];

/// Any generator: layers are built with random weights and then overwritten from the JSON.
fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

// ---------------------------------------------------------------------------------------------
// Conv2D
// ---------------------------------------------------------------------------------------------

/// Conv2D forward and all three gradients, four cases: 3×3 `same` and `valid` to 4 channels,
/// 2×4 `same` (TensorFlow's padding split for even kernels: 0 above and 1 below, 1 left and 2
/// right), and 3×3 `same` to 16 channels (a micro-kernel's width, where the CPU has one).
///
/// Produced by Keras 3.15.1 / TensorFlow 2.21.0:
/// `keras.layers.Conv2D(cout, (kh, kw), padding=…)(x)` with `tf.GradientTape`, and by
/// PyTorch 2.15.0: `torch.nn.functional.conv2d(x_nchw, kernel_oihw, bias, padding='same' | 0)`.
#[test]
fn conv2d_matches_keras_and_pytorch() {
    match automatic_micro_kernel() {
        Some(micro_kernel) => println!("the 16-channel case runs the {}", micro_kernel.name()),
        None => eprintln!(
            "note: no AVX2/FMA here (or LUMBAR_PORTABLE_GEMM set): the 16-channel case runs \
             the portable im2col engine instead of a micro-kernel"
        ),
    }
    let file = golden("conv2d.json");
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let padding = match case["padding"].as_str().unwrap() {
            "same" => Padding::Same,
            "valid" => Padding::Valid,
            other => panic!("padding {other}"),
        };
        let inputs = &case["inputs"];
        let (x, kernel, bias, g) = (
            tensor(&inputs["x"]),
            tensor(&inputs["kernel"]),
            tensor(&inputs["bias"]),
            tensor(&inputs["g"]),
        );
        let k = kernel.shape().to_vec();
        let mut conv = Conv2d::new("conv2d", (k[0], k[1]), k[2], k[3], padding, &mut rng());
        set_param(&mut conv, "kernel", kernel);
        set_param(&mut conv, "bias", bias);
        let y = forward_train(&mut conv, &x);
        let dx = backward(&mut conv, &g);
        for source in SOURCES {
            let want = &case[source];
            let what = |t: &str| format!("conv2d {name} {t} vs {source}");
            // Each output is a sum of kh·kw·Cin ≤ 27 products plus the bias: a few f32
            // roundings of the largest output, summed in another order → 1e-5 relative.
            assert_close(&what("y"), &y, &tensor(&want["y"]), 1e-5);
            // dx sums ≤ kh·kw·Cout ≤ 144 products dy·K: same reasoning, 1e-5.
            assert_close(&what("dx"), &dx, &tensor(&want["dx"]), 1e-5);
            // dK sums N·Ho·Wo = 60 products x·dy per entry (24 for valid); db sums 60 dy: 1e-5.
            let dk = param(&conv, "kernel", true);
            assert_close(&what("dkernel"), &dk, &tensor(&want["dkernel"]), 1e-5);
            let db = param(&conv, "bias", true);
            assert_close(&what("dbias"), &db, &tensor(&want["dbias"]), 1e-5);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization
// ---------------------------------------------------------------------------------------------

/// A batch norm whose γ, β and running statistics are the case's (non-default) inputs.
fn batch_norm_from(inputs: &Value) -> BatchNorm {
    let gamma = tensor(&inputs["gamma"]);
    let mut bn = BatchNorm::new("batch_normalization", gamma.len());
    for name in ["gamma", "beta", "moving_mean", "moving_variance"] {
        set_param(&mut bn, name, tensor(&inputs[name]));
    }
    bn
}

/// BatchNormalization in train mode (output, dx, dγ, dβ, updated running mean and variance)
/// and eval mode (output, dx, dγ, dβ), on NHWC `[2, 4, 5, 3]` and dense `[6, 4]` inputs, with
/// Keras' defaults ε = 1e-3 and momentum 0.99.
///
/// Produced by Keras 3.15.1 / TensorFlow 2.21.0:
/// `keras.layers.BatchNormalization()(x, training=True | False)` with `tf.GradientTape`, and by
/// PyTorch 2.15.0: `torch.nn.functional.batch_norm(…, momentum=0.01, eps=1e-3)` — Keras'
/// settings, not PyTorch's defaults (ε = 1e-5, momentum 0.1 weighting the new value).
#[test]
fn batch_norm_matches_keras_and_pytorch() {
    let file = golden("batch_norm.json");
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let inputs = &case["inputs"];
        let (x, g) = (tensor(&inputs["x"]), tensor(&inputs["g"]));
        let m = (x.len() / x.shape()[x.ndim() - 1]) as f32;
        for mode in ["train", "eval"] {
            let mut bn = batch_norm_from(inputs);
            let y = if mode == "train" {
                forward_train(&mut bn, &x)
            } else {
                forward_eval(&mut bn, &x)
            };
            let dx = backward(&mut bn, &g);
            for source in SOURCES {
                let want = &case[source][mode];
                let what = |t: &str| format!("batch norm {name} {mode} {t} vs {source}");
                // y = γ·(x − μ)/√(σ² + ε) + β with μ, σ² sums over M ≤ 40 values: the f32
                // roundings of a few operations on values of order max|y| → 1e-5 relative.
                assert_close(&what("y"), &y, &tensor(&want["y"]), 1e-5);
                // Train dx = γ/√(σ²+ε)·(g − mean g − x̂·mean(g·x̂)) subtracts means of M ≤ 40
                // terms of order max|dx|: a few more roundings than y, still 1e-5 relative.
                assert_close(&what("dx"), &dx, &tensor(&want["dx"]), 1e-5);
                // dγ = Σ g·x̂, dβ = Σ g over M ≤ 40 terms; f64 sums here, f32 there: 1e-5.
                let dgamma = param(&bn, "gamma", true);
                assert_close(&what("dgamma"), &dgamma, &tensor(&want["dgamma"]), 1e-5);
                let dbeta = param(&bn, "beta", true);
                assert_close(&what("dbeta"), &dbeta, &tensor(&want["dbeta"]), 1e-5);
                // Running mean 0.99·old + 0.01·μ (both libraries; unchanged in eval): 1e-6,
                // a few roundings of values of order 1.
                let mean = param(&bn, "moving_mean", false);
                assert_close(
                    &what("moving_mean"),
                    &mean,
                    &tensor(&want["moving_mean"]),
                    1e-6,
                );
            }
            // Keras updates the running variance with the biased batch variance, as we do.
            let variance = param(&bn, "moving_variance", false);
            let keras = tensor(&case["keras"][mode]["moving_variance"]);
            let what = format!("batch norm {name} {mode} moving_variance vs keras");
            // 0.99·old + 0.01·σ²: a few roundings of values of order 1 → 1e-6.
            assert_close(&what, &variance, &keras, 1e-6);
            // PyTorch updates it with the unbiased one, σ²·M/(M−1). Take our σ² back out of our
            // update and apply PyTorch's rule to it: it must give PyTorch's number.
            let old = tensor(&inputs["moving_variance"]);
            let torch = tensor(&case["torch"][mode]["moving_variance"]);
            let torch_rule = if mode == "train" {
                let batch_variance = (&variance - &(&old * 0.99)) / 0.01;
                &old * 0.99 + &(batch_variance * (0.01 * m / (m - 1.0)))
            } else {
                old.clone()
            };
            let what = format!("batch norm {name} {mode} moving_variance vs torch (unbiased)");
            // Recovering σ² divides the rounding of our update by 0.01: 1e-5 relative.
            assert_close(&what, &torch_rule, &torch, 1e-5);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dense, MaxPooling2D
// ---------------------------------------------------------------------------------------------

/// Dense 5 → 3: output, dx, dkernel, dbias.
///
/// Produced by Keras 3.15.1 / TensorFlow 2.21.0: `keras.layers.Dense(3)(x)` with
/// `tf.GradientTape`, and by PyTorch 2.15.0: `torch.nn.functional.linear(x, kernel.T, bias)`.
#[test]
fn dense_matches_keras_and_pytorch() {
    let file = golden("dense.json");
    let inputs = &file["inputs"];
    let (x, g) = (tensor(&inputs["x"]), tensor(&inputs["g"]));
    let kernel = tensor(&inputs["kernel"]);
    let (n_in, n_out) = (kernel.shape()[0], kernel.shape()[1]);
    let mut dense = Dense::new("dense", n_in, n_out, &mut rng());
    set_param(&mut dense, "kernel", kernel);
    set_param(&mut dense, "bias", tensor(&inputs["bias"]));
    let y = forward_train(&mut dense, &x);
    let dx = backward(&mut dense, &g);
    for source in SOURCES {
        let want = &file[source];
        let what = |t: &str| format!("dense {t} vs {source}");
        // Sums of 5 (y), 3 (dx), 4 (dW, db) products in another order: 1e-5 relative.
        assert_close(&what("y"), &y, &tensor(&want["y"]), 1e-5);
        assert_close(&what("dx"), &dx, &tensor(&want["dx"]), 1e-5);
        let dk = param(&dense, "kernel", true);
        assert_close(&what("dkernel"), &dk, &tensor(&want["dkernel"]), 1e-5);
        let db = param(&dense, "bias", true);
        assert_close(&what("dbias"), &db, &tensor(&want["dbias"]), 1e-5);
    }
}

/// MaxPooling2D 2×2 / stride 2 / `valid` on `[2, 5, 7, 3]` (the odd last row and column are
/// dropped; the values are distinct, so no window has a tie): output and dx.
///
/// Produced by Keras 3.15.1 / TensorFlow 2.21.0: `keras.layers.MaxPooling2D()(x)` with
/// `tf.GradientTape`, and by PyTorch 2.15.0: `torch.nn.functional.max_pool2d(x_nchw, 2)`.
#[test]
fn max_pool_matches_keras_and_pytorch() {
    let file = golden("max_pool.json");
    let inputs = &file["inputs"];
    let (x, g) = (tensor(&inputs["x"]), tensor(&inputs["g"]));
    let mut pool = MaxPool2d::new("max_pooling2d");
    let y = forward_train(&mut pool, &x);
    let dx = backward(&mut pool, &g);
    for source in SOURCES {
        let want = &file[source];
        // A max and a routed copy involve no arithmetic: exactly equal (rtol 0).
        assert_close(
            &format!("max pool y vs {source}"),
            &y,
            &tensor(&want["y"]),
            0.0,
        );
        assert_close(
            &format!("max pool dx vs {source}"),
            &dx,
            &tensor(&want["dx"]),
            0.0,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy, Adam
// ---------------------------------------------------------------------------------------------

/// Softmax + sparse categorical cross-entropy, mean over the batch: loss and d loss / d logits.
///
/// Produced by Keras 3.15.1 / TensorFlow 2.21.0 with `tf.GradientTape`, three ways:
/// `keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)`;
/// `SparseCategoricalCrossentropy()(labels, keras.activations.softmax(logits))` (the paper's
/// softmax output + loss); and the same loss on an untagged probability tensor
/// `tf.identity(tf.nn.softmax(logits))`. And by PyTorch 2.15.0:
/// `torch.nn.functional.cross_entropy(logits, labels)`.
///
/// Case `moderate` (no probability near the clip): all four agree with us. Case `saturated`
/// (one sample's true class has probability ≈ 4e-18): lumbar-cnn clips that probability to
/// 1e-7 (loss −ln 1e-7 ≈ 16.1, zero gradient) as Keras' loss does on a plain probability tensor.
/// Keras' own softmax output is tagged with its logits and the loss then skips the clip (loss
/// 40, gradient p − onehot), and so does PyTorch: lumbar-cnn follows the clipping rule there,
/// not that shortcut, so this case is compared with `from_probabilities` only.
#[test]
fn softmax_cross_entropy_matches_keras_and_pytorch() {
    let file = golden("softmax_cross_entropy.json");
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let logits = tensor(&case["inputs"]["logits"]);
        let labels: Vec<usize> = case["inputs"]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_u64().unwrap() as usize)
            .collect();
        let mut loss_fn = SoftmaxCrossEntropy::new();
        let loss = loss_fn.forward(&logits, &labels).expect("loss");
        let dlogits = loss_fn.backward().expect("loss backward");
        let wanted: &[(&str, &str)] = match name {
            "saturated" => &[("keras", "from_probabilities")],
            _ => &[
                ("keras", "from_logits"),
                ("keras", "from_softmax"),
                ("keras", "from_probabilities"),
                ("torch", "from_logits"),
            ],
        };
        for &(source, variant) in wanted {
            let want = &case[source][variant];
            let what = |t: &str| format!("softmax cross-entropy {name} {t} vs {source} {variant}");
            // A mean of ≤ 5 logarithms of values of order 1 (the clipped one −ln 1e-7 ≈ 16):
            // a few f32 roundings → 1e-6 relative.
            let golden_loss = scalar(&want["loss"]);
            assert!(
                (loss - golden_loss).abs() <= 1e-6 * golden_loss.abs(),
                "{}: ours {loss}, golden {golden_loss}",
                what("loss")
            );
            // (p − onehot)/N from exponentials of order 1: 1e-5 of the largest entry.
            assert_close(&what("dlogits"), &dlogits, &tensor(&want["dlogits"]), 1e-5);
        }
    }
}

/// Three Adam steps with Keras' defaults (lr 1e-3, β1 0.9, β2 0.999, ε 1e-7): the parameter
/// after each step. Components 4 and 5 have gradients of order 1e-6, where √v is comparable to
/// ε, so they pin down the value of ε and where it is added.
///
/// Produced by Keras 3.15.1 / TensorFlow 2.21.0: `keras.optimizers.Adam().apply_gradients`, and
/// by PyTorch 2.15.0: `torch.optim.Adam([θ], lr=1e-3, betas=(0.9, 0.999), eps=1e-7)` — Keras' ε,
/// not PyTorch's default 1e-8.
#[test]
fn adam_matches_keras_and_pytorch() {
    let file = golden("adam.json");
    let inputs = &file["inputs"];
    let grads: Vec<Tensor> = inputs["grads"]
        .as_array()
        .unwrap()
        .iter()
        .map(tensor)
        .collect();
    let mut theta = Param::new("theta", tensor(&inputs["theta"]));
    let mut adam = Adam::default();
    for (step, g) in grads.iter().enumerate() {
        theta.grad = g.clone();
        adam.step(&mut [&mut theta]).expect("Adam step");
        let keras = tensor(&file["keras"]["theta_after_step"][step]);
        // θ moves by about lr = 1e-3 per step from values of order 1; the step's own f32
        // roundings (and Keras' f32 bias correction against our f64 one) are ~1e-7 of θ:
        // 1e-6 of max|θ| also catches a step 1% off.
        assert_close(
            &format!("Adam step {} vs keras", step + 1),
            &theta.value,
            &keras,
            1e-6,
        );
        // PyTorch adds ε to the bias-corrected √v̂ = √v/√(1 − β2ᵗ), Keras (and we) to √v: the
        // same update where √v ≫ ε. Compare where every gradient so far is ≥ 1e-3 (there
        // ε/√v < 1e-3 changes the step by less than 1e-3 of 1e-3), i.e. components 0–3.
        let torch = tensor(&file["torch"]["theta_after_step"][step]);
        let large: Vec<usize> = (0..theta.len())
            .filter(|&i| grads[..=step].iter().all(|g| g[i].abs() >= 1e-3))
            .collect();
        assert_eq!(large, [0, 1, 2, 3], "the JSON's gradients changed");
        let ours = ndarray::Array1::from_iter(large.iter().map(|&i| theta.value[i])).into_dyn();
        let theirs = ndarray::Array1::from_iter(large.iter().map(|&i| torch[i])).into_dyn();
        // As against Keras, plus ε/√v̂ < 1e-6 of the 1e-3 step: 1e-6 of max|θ|.
        let what = format!("Adam step {} vs torch (components 0-3)", step + 1);
        assert_close(&what, &ours, &theirs, 1e-6);
    }
}

// ---------------------------------------------------------------------------------------------
// The paper's network
// ---------------------------------------------------------------------------------------------

/// `count` numbers in [0, 1) from stream `stream`, as `splitmix_unit` in `make_golden.py`:
/// element `i` is the SplitMix64 finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom
/// number generators", OOPSLA 2014) of `z = i + stream·2³² + 0x9E3779B97F4A7C15` in wrapping
/// u64 arithmetic, top 24 bits divided by 2²⁴. Integer operations and an exact division only:
/// the same numbers as numpy's, bit for bit.
fn splitmix_unit(stream: u64, count: usize) -> impl Iterator<Item = f64> {
    (0..count as u64).map(move |i| {
        let mut z = i
            .wrapping_add(stream.wrapping_mul(1 << 32))
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f64 / (1u64 << 24) as f64
    })
}

/// Weight tensor number `index` (position in `Sequential::named_weights()`, which is Keras'
/// `get_weights()` order) of Keras name `kind` and `shape`, as `paper_weight` in
/// `make_golden.py`: with `s = 2·u − 1` from [`splitmix_unit`]`(index)`, row-major (HWIO for
/// kernels), computed in f64 and rounded to f32 —
/// kernel `s·√(6/fan_in)`, bias `0.05·s`, gamma `1 + 0.2·s`, beta `0.1·s`,
/// moving_mean `0.5 + 0.2·s`, moving_variance `1 + 0.5·s`.
fn paper_weight(kind: &str, index: u64, shape: &[usize]) -> Tensor {
    let count: usize = shape.iter().product();
    let fan_in: usize = shape[..shape.len() - 1].iter().product();
    let values = splitmix_unit(index, count).map(|u| {
        let s = 2.0 * u - 1.0;
        let w = match kind {
            "kernel" => s * (6.0 / fan_in as f64).sqrt(),
            "bias" => 0.05 * s,
            "gamma" => 1.0 + 0.2 * s,
            "beta" => 0.1 * s,
            "moving_mean" => 0.5 + 0.2 * s,
            "moving_variance" => 1.0 + 0.5 * s,
            other => panic!("no formula for {other}"),
        };
        w as f32
    });
    Tensor::from_shape_vec(IxDyn(shape), values.collect()).unwrap()
}

/// The stream of the network's input, `PAPER_INPUT_STREAM` in `make_golden.py`.
const PAPER_INPUT_STREAM: u64 = 1000;

/// Sum in f64, to check a formula's tensor against the sum `make_golden.py` recorded.
fn sum_f64(t: &Tensor) -> f64 {
    t.iter().map(|&v| v as f64).sum()
}

/// Assert two f64 sums of the same f32 values agree (they differ only by summation order).
fn assert_same_sum(what: &str, ours: f64, golden: &Value, magnitude: f64) {
    let golden = golden.as_f64().expect("sum");
    // numpy sums pairwise, we sequentially: f64 roundings of ≤ 2.4M terms ≪ 1e-9 relative.
    assert!(
        (ours - golden).abs() <= 1e-9 * magnitude.max(1.0),
        "{what}: sum {ours} ≠ golden {golden} (the weight formula differs from make_golden.py's)"
    );
}

/// The article's network at 32×32, inference mode, with every weight and running statistic
/// from the formula above (non-default running statistics, so batch norm's eval path counts):
/// the logits and their softmax for a batch of 2.
///
/// Produced by Keras 3.15.1 / TensorFlow 2.21.0: the `keras.Sequential` of
/// `benches/reference_keras_torch.py` with a linear last Dense, `model.set_weights(…)`,
/// `model(x, training=False)`, `keras.activations.softmax`; and by PyTorch 2.15.0: the same
/// network as `torch.nn.Sequential` (BatchNorm with ε = 1e-3) in `model.eval()`.
#[test]
fn paper_network_inference_matches_keras_and_pytorch() {
    let file = golden("paper_cnn.json");
    let size = file["image_size"].as_u64().unwrap() as usize;
    let mut model = paper_cnn(size, 0).expect("paper network");

    let recorded = file["weight_tensors"].as_array().unwrap();
    let names: Vec<(String, Vec<usize>)> = model
        .named_weights()
        .into_iter()
        .map(|(name, value)| (name, value.shape().to_vec()))
        .collect();
    assert_eq!(names.len(), recorded.len(), "number of weight tensors");
    let mut weights = Vec::new();
    for (index, ((name, ours), want)) in names.iter().zip(recorded).enumerate() {
        let kind = name.rsplit('/').next().unwrap();
        assert_eq!(kind, want["kind"].as_str().unwrap(), "tensor {index}: name");
        let shape: Vec<usize> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(ours, &shape, "tensor {index}: shape");
        let value = paper_weight(kind, index as u64, &shape);
        let magnitude = value.iter().map(|&v| v.abs() as f64).sum();
        let what = format!("tensor {index} ({name})");
        assert_same_sum(&what, sum_f64(&value), &want["sum"], magnitude);
        weights.push(value);
    }
    model
        .set_weights(&weights)
        .expect("weights in Keras' order");

    let shape = [2, size, size, 3];
    let x: Vec<f32> = splitmix_unit(PAPER_INPUT_STREAM, shape.iter().product())
        .map(|u| u as f32)
        .collect();
    let x = Tensor::from_shape_vec(IxDyn(&shape), x).unwrap();
    assert_same_sum("input", sum_f64(&x), &file["input_sum"], x.len() as f64);

    let logits = model_forward_eval(&mut model, &x);
    let probabilities = softmax(&logits).expect("softmax").into_dyn();
    for source in SOURCES {
        let want = &file[source];
        // 12 layers of sums of up to 4608 products, each in another order, amplified by the
        // batch norms' 1/√(var + ε) ≤ 1.4: Keras and PyTorch differ from each other by about
        // 1e-6 of max|logit| (and we from either by under 2e-6); 2e-5 leaves room, while a
        // wrong ε or layer order moves the logits by 5e-3 or more.
        let what = format!("paper network logits vs {source}");
        assert_close(&what, &logits, &tensor(&want["logits"]), 2e-5);
        // Softmax of those logits: the same relative error, times at most 1.
        let what = format!("paper network softmax vs {source}");
        assert_close(&what, &probabilities, &tensor(&want["softmax"]), 2e-5);
    }
}
