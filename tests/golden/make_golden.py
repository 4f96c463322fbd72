#!/usr/bin/env python3
"""Golden values from Keras 3 (TensorFlow backend) and PyTorch for `tests/golden_values.rs`.

For each building block of lumbar-cnn (Conv2D, BatchNormalization, Dense, MaxPooling2D, softmax
cross-entropy, Adam, and the article's whole network in inference mode) this script feeds fixed
inputs and fixed weights to the real libraries and writes what they compute into
`tests/golden/<case>.json`, with a `"provenance"` field naming the library versions, the
functions called, the command and the date. Not run by CI: the JSON files are committed, and
`cargo test --release --test golden_values` compares lumbar-cnn against them.

Produced with Python 3.11, tensorflow-cpu 2.21.0, keras 3.15.1, torch 2.15.0 and numpy:

    python3 -m venv golden-venv && . golden-venv/bin/activate
    pip install tensorflow-cpu==2.21.0 keras==3.15.1 torch==2.15.0
    python3 tests/golden/make_golden.py          # from the repository root

Conventions, the same in every file:

* A tensor is `{"shape": [...], "data": [...]}`, row-major, in lumbar-cnn's layouts: images
  NHWC, convolution kernels HWIO `[kh, kw, cin, cout]`, dense kernels `[in, out]`. PyTorch's
  NCHW / OIHW / `[out, in]` tensors are transposed explicitly before and after each call.
* Each value is written as the decimal expansion of an exact f32 (parsed as f64 and cast, it
  gives back the same f32 bit for bit).
* Inputs come from `numpy.random.default_rng(seed)` and are written into the JSON, so the Rust
  side needs no random-number parity. Only the paper network's ~4.7 million weights and its
  input are not stored: both sides compute them from the integer formula of `splitmix_unit`
  and `paper_weight` below (the JSON keeps each tensor's sum as a check).
* Gradients are those of `L = Σ y ⊙ G` for a fixed upstream gradient `G` (stored), so
  `dL/dy = G` and every gradient is well defined.
* Where PyTorch's defaults differ from Keras' (BatchNorm ε = 1e-5 and momentum 0.1, Adam
  ε = 1e-8), PyTorch is called with Keras' settings (ε = 1e-3, momentum 0.01, Adam ε = 1e-7).

TensorFlow and PyTorch each bundle their own LLVM and are not loaded into one process: the
script runs itself once per framework (`--framework keras|torch`, which prints JSON) and merges.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
COMMAND = "python3 tests/golden/make_golden.py"

# Keras' defaults, which lumbar-cnn follows (and PyTorch is configured to follow here).
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99  # Keras: weight of the *old* running value; PyTorch's momentum = 1 − this.
ADAM = dict(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)

# The paper network's golden input side and batch.
PAPER_SIZE = 32
PAPER_BATCH = 2


# ---------------------------------------------------------------------------------------------
# Fixed inputs (shared by both frameworks: each subprocess regenerates them from the same seeds)
# ---------------------------------------------------------------------------------------------

def f32(a):
    return np.asarray(a, dtype=np.float32)


def normal(seed, shape, scale=1.0, offset=0.0):
    return f32(offset + scale * np.random.default_rng(seed).standard_normal(shape))


def conv_inputs():
    """Four Conv2D cases on x[2, 5, 6, 3]: 3×3 `same` and `valid` to 4 channels, a 2×4 `same`
    kernel whose even sizes show how TensorFlow splits the padding (0 above / 1 below, 1 left /
    2 right), and 3×3 `same` to 16 channels (the width lumbar-cnn's AVX2 micro-kernel takes)."""
    cases = []
    for index, (name, (kh, kw), padding, cout) in enumerate([
        ("same_3x3", (3, 3), "same", 4),
        ("valid_3x3", (3, 3), "valid", 4),
        ("same_2x4", (2, 4), "same", 4),
        ("same_3x3_cout16", (3, 3), "same", 16),
    ]):
        x = normal(100 + index, (2, 5, 6, 3))
        kernel = normal(200 + index, (kh, kw, 3, cout), scale=0.3)
        bias = normal(300 + index, (cout,), scale=0.5)
        ho, wo = (5, 6) if padding == "same" else (5 - kh + 1, 6 - kw + 1)
        g = normal(400 + index, (2, ho, wo, cout))
        cases.append(dict(name=name, padding=padding, x=x, kernel=kernel, bias=bias, g=g))
    return cases


def batch_norm_inputs():
    """BatchNormalization on NHWC feature maps x[2, 4, 5, 3] and on dense features x[6, 4], with
    non-default γ, β and running statistics (so every one of them shows in the result) and an
    input whose mean is far from 0."""
    cases = []
    for index, (name, shape) in enumerate([("nhwc", (2, 4, 5, 3)), ("nc", (6, 4))]):
        c = shape[-1]
        rng = np.random.default_rng(500 + index)
        cases.append(dict(
            name=name,
            x=f32(2.0 + 1.5 * rng.standard_normal(shape)),
            gamma=f32(1.0 + 0.3 * rng.standard_normal(c)),
            beta=f32(0.5 * rng.standard_normal(c)),
            moving_mean=f32(1.0 + 0.5 * rng.standard_normal(c)),
            moving_variance=f32(rng.uniform(0.5, 3.0, c)),
            g=f32(rng.standard_normal(shape)),
        ))
    return cases


def dense_inputs():
    """Dense 5 → 3 on a batch of 4."""
    return dict(
        x=normal(600, (4, 5)),
        kernel=normal(601, (5, 3), scale=0.5),
        bias=normal(602, (3,), scale=0.5),
        g=normal(603, (4, 3)),
    )


def max_pool_inputs():
    """MaxPooling2D 2×2 on x[2, 5, 7, 3]: odd height and width, so `valid` drops the last row
    and column; the values are a permutation of distinct numbers, so no window has a tie."""
    n = 2 * 5 * 7 * 3
    values = np.random.default_rng(700).permutation(n).astype(np.float64)
    x = f32((values - n / 2) / 16.0).reshape(2, 5, 7, 3)
    return dict(x=x, g=normal(701, (2, 2, 3, 3)))


def softmax_cross_entropy_inputs():
    """Two cases of logits over 3 classes with sparse integer labels: `moderate`, 5 samples with
    no probability near Keras' 1e-7 clip, and `saturated`, whose first sample is confidently
    wrong (its true class has probability ≈ 4e-18, far below the clip)."""
    return [
        dict(name="moderate", logits=normal(800, (5, 3), scale=2.0), labels=[0, 2, 1, 1, 0]),
        dict(name="saturated", logits=f32([[20.0, 0.0, -20.0], [1.0, 2.0, 0.5], [0.3, -0.2, 0.1]]),
             labels=[2, 1, 0]),
    ]


def adam_inputs():
    """A parameter vector of 6 and three gradients. Components 4 and 5 have gradients of order
    1e-6, where √v is comparable to ε = 1e-7, so the result depends on ε and on where ε is
    added; components 0–3 have gradients of order 1, where it does not."""
    rng = np.random.default_rng(900)
    theta = f32(rng.standard_normal(6))
    grads = []
    for _ in range(3):
        g = rng.standard_normal(6)
        g[4:] *= 1e-6
        grads.append(f32(g))
    return dict(theta=theta, grads=grads)


# ---------------------------------------------------------------------------------------------
# The paper network's weights and input: a formula, computed identically in Rust
# ---------------------------------------------------------------------------------------------

def splitmix_unit(stream, count):
    """`count` numbers in [0, 1) from stream `stream`: element `i` is the SplitMix64 finaliser
    (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; the
    mixer of Java's SplittableRandom) applied to `z = i + stream·2³² + 0x9E3779B97F4A7C15`
    (wrapping u64 arithmetic), whose top 24 bits are divided by 2²⁴. Only integer operations
    and an exact division, so Rust and numpy get the same numbers bit for bit."""
    with np.errstate(over="ignore"):
        z = np.arange(count, dtype=np.uint64) + np.uint64(stream) * np.uint64(1 << 32)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def paper_weight(kind, tensor_index, shape):
    """Weight tensor number `tensor_index` (its position in Keras' `model.get_weights()`, which
    is also lumbar-cnn's `Sequential::params()` order), of Keras name `kind`. With
    `s = 2·splitmix_unit(tensor_index)[i] − 1` (uniform in [−1, 1)) for element `i` in row-major
    order (HWIO for kernels, [in, out] for dense kernels), computed in f64 and rounded to f32:

        kernel           s · √(6 / fan_in)   (He-uniform scale; fan_in = product of all axes but the last)
        bias             0.05 · s
        gamma            1 + 0.2 · s
        beta             0.1 · s
        moving_mean      0.5 + 0.2 · s
        moving_variance  1 + 0.5 · s

    The running statistics are near those of the ReLU outputs they normalise, so the signal
    neither dies out nor explodes over the 12 batch norms and the logits stay of order 1.
    """
    count = int(np.prod(shape))
    s = 2.0 * splitmix_unit(tensor_index, count) - 1.0
    if kind == "kernel":
        fan_in = int(np.prod(shape[:-1]))
        w = s * math.sqrt(6.0 / fan_in)
    elif kind == "bias":
        w = 0.05 * s
    elif kind == "gamma":
        w = 1.0 + 0.2 * s
    elif kind == "beta":
        w = 0.1 * s
    elif kind == "moving_mean":
        w = 0.5 + 0.2 * s
    elif kind == "moving_variance":
        w = 1.0 + 0.5 * s
    else:
        raise ValueError(kind)
    return f32(w).reshape(shape)


# The stream of the paper network's input (far from the weight tensors' 0…77).
PAPER_INPUT_STREAM = 1000


def paper_input():
    """The network's input `[2, 32, 32, 3]`: `splitmix_unit(PAPER_INPUT_STREAM)` in row-major
    (NHWC) order, uniform in [0, 1) like a scaled image, rounded to f32."""
    count = PAPER_BATCH * PAPER_SIZE * PAPER_SIZE * 3
    return f32(splitmix_unit(PAPER_INPUT_STREAM, count)).reshape(PAPER_BATCH, PAPER_SIZE, PAPER_SIZE, 3)


def paper_layers():
    """The article's network as a list of (kind, arguments): Conv2D+ReLU, BatchNorm, … as in
    `src/model/paper_cnn.rs` and `benches/reference_keras_torch.py`; the last Dense is linear
    (the logits), the softmax is applied after it."""
    layers, cin = [], 3
    for filters in (32, 64, 128, 256, 512):
        for _ in range(2):
            layers += [("conv_relu", cin, filters), ("bn", filters)]
            cin = filters
        layers += [("pool",), ("dropout", 0.25)]
    layers += [("flatten",)]
    features = (PAPER_SIZE // 32) ** 2 * 512
    for units in (512, 256):
        layers += [("dense_relu", features, units), ("bn", units), ("dropout", 0.5)]
        features = units
    layers += [("dense", features, 3)]
    return layers


def paper_weight_list(keras_shapes):
    """All weights, in `get_weights()` order, for the given (kind, shape) list."""
    return [paper_weight(kind, t, shape) for t, (kind, shape) in enumerate(keras_shapes)]


# ---------------------------------------------------------------------------------------------
# Keras 3 (TensorFlow backend)
# ---------------------------------------------------------------------------------------------

def keras_cases():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf

    def grad_of(fn, watched, g):
        # A Keras variable's `.value` is the tf.Variable the layer reads.
        watched = [w.value if isinstance(w, keras.Variable) else w for w in watched]
        with tf.GradientTape() as tape:
            for w in watched:
                tape.watch(w)
            y = fn()
            loss = tf.reduce_sum(y * g)
        return y, tape.gradient(loss, watched)

    out = {}

    conv = []
    for case in conv_inputs():
        kh, kw = case["kernel"].shape[:2]
        layer = keras.layers.Conv2D(case["kernel"].shape[3], (kh, kw), padding=case["padding"])
        layer.build((None, 5, 6, 3))
        layer.kernel.assign(case["kernel"])
        layer.bias.assign(case["bias"])
        x = tf.constant(case["x"])
        y, (dx, dk, db) = grad_of(lambda: layer(x), [x, layer.kernel, layer.bias], case["g"])
        conv.append(dict(name=case["name"], y=y, dx=dx, dkernel=dk, dbias=db))
    out["conv2d"] = conv

    bn = []
    for case in batch_norm_inputs():
        result = dict(name=case["name"])
        for mode in ("train", "eval"):
            layer = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON)
            layer.build(case["x"].shape)
            for attr in ("gamma", "beta", "moving_mean", "moving_variance"):
                getattr(layer, attr).assign(case[attr])
            x = tf.constant(case["x"])
            training = mode == "train"
            y, (dx, dgamma, dbeta) = grad_of(
                lambda: layer(x, training=training), [x, layer.gamma, layer.beta], case["g"])
            result[mode] = dict(y=y, dx=dx, dgamma=dgamma, dbeta=dbeta,
                                moving_mean=layer.moving_mean, moving_variance=layer.moving_variance)
        bn.append(result)
    out["batch_norm"] = bn

    case = dense_inputs()
    layer = keras.layers.Dense(3)
    layer.build((None, 5))
    layer.kernel.assign(case["kernel"])
    layer.bias.assign(case["bias"])
    x = tf.constant(case["x"])
    y, (dx, dk, db) = grad_of(lambda: layer(x), [x, layer.kernel, layer.bias], case["g"])
    out["dense"] = dict(y=y, dx=dx, dkernel=dk, dbias=db)

    case = max_pool_inputs()
    layer = keras.layers.MaxPooling2D()
    x = tf.constant(case["x"])
    y, (dx,) = grad_of(lambda: layer(x), [x], case["g"])
    out["max_pool"] = dict(y=y, dx=dx)

    sce = []
    for case in softmax_cross_entropy_inputs():
        logits = tf.constant(case["logits"])
        labels = tf.constant(case["labels"])
        result = dict(name=case["name"])
        for key, loss_fn, prepare in [
            ("from_logits", keras.losses.SparseCategoricalCrossentropy(from_logits=True), lambda z: z),
            # keras.activations.softmax tags its output with the logits, and the loss then
            # works from those logits: no clipping (what model.fit does with a softmax output).
            ("from_softmax", keras.losses.SparseCategoricalCrossentropy(), keras.activations.softmax),
            # A plain probability tensor (tf.nn.softmax, untagged): the loss clips it to
            # [1e-7, 1 − 1e-7] before the logarithm.
            ("from_probabilities", keras.losses.SparseCategoricalCrossentropy(),
             lambda z: tf.identity(tf.nn.softmax(z))),
        ]:
            with tf.GradientTape() as tape:
                tape.watch(logits)
                loss = loss_fn(labels, prepare(logits))
            result[key] = dict(loss=loss, dlogits=tape.gradient(loss, logits))
        sce.append(result)
    out["softmax_cross_entropy"] = sce

    case = adam_inputs()
    var = keras.Variable(case["theta"])
    opt = keras.optimizers.Adam(**ADAM)
    steps = []
    for g in case["grads"]:
        opt.apply_gradients([(tf.constant(g), var)])
        steps.append(np.array(var.numpy()))
    out["adam"] = dict(theta_after_step=steps)

    model = keras.Sequential([keras.Input((PAPER_SIZE, PAPER_SIZE, 3))])
    for spec in paper_layers():
        kind = spec[0]
        if kind == "conv_relu":
            model.add(keras.layers.Conv2D(spec[2], 3, padding="same", activation="relu"))
        elif kind == "bn":
            model.add(keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON))
        elif kind == "pool":
            model.add(keras.layers.MaxPooling2D())
        elif kind == "dropout":
            model.add(keras.layers.Dropout(spec[1]))
        elif kind == "flatten":
            model.add(keras.layers.Flatten())
        elif kind == "dense_relu":
            model.add(keras.layers.Dense(spec[2], activation="relu"))
        elif kind == "dense":
            model.add(keras.layers.Dense(spec[2]))
    shapes = [(w.path.split("/")[-1], tuple(w.shape)) for w in model.weights]
    model.set_weights(paper_weight_list(shapes))
    logits = model(tf.constant(paper_input()), training=False)
    out["paper_cnn"] = dict(
        weight_tensors=[dict(kind=k, shape=list(s)) for k, s in shapes],
        logits=logits,
        softmax=keras.activations.softmax(logits),
    )

    versions = dict(keras=keras.__version__, tensorflow=tf.__version__)
    return out, versions


# ---------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------

def torch_cases():
    import torch
    import torch.nn.functional as F

    torch.use_deterministic_algorithms(True)

    def t(a, grad=False):
        return torch.tensor(np.ascontiguousarray(a), requires_grad=grad)

    nhwc_to_nchw, nchw_to_nhwc = (0, 3, 1, 2), (0, 2, 3, 1)
    hwio_to_oihw, oihw_to_hwio = (3, 2, 0, 1), (2, 3, 1, 0)

    out = {}

    conv = []
    for case in conv_inputs():
        x = t(case["x"].transpose(nhwc_to_nchw), grad=True)
        w = t(case["kernel"].transpose(hwio_to_oihw), grad=True)
        b = t(case["bias"], grad=True)
        y = F.conv2d(x, w, b, padding="same" if case["padding"] == "same" else 0)
        y_nhwc = y.permute(nchw_to_nhwc)
        (y_nhwc * t(case["g"])).sum().backward()
        conv.append(dict(name=case["name"], y=y_nhwc, dx=x.grad.permute(nchw_to_nhwc),
                         dkernel=w.grad.permute(oihw_to_hwio), dbias=b.grad))
    out["conv2d"] = conv

    bn = []
    for case in batch_norm_inputs():
        result = dict(name=case["name"])
        image = case["x"].ndim == 4
        for mode in ("train", "eval"):
            x_np = case["x"].transpose(nhwc_to_nchw) if image else case["x"]
            x = t(x_np, grad=True)
            gamma, beta = t(case["gamma"], grad=True), t(case["beta"], grad=True)
            running_mean, running_var = t(case["moving_mean"]), t(case["moving_variance"])
            # Keras' settings, not PyTorch's defaults: ε = 1e-3, momentum 0.01 (PyTorch weights
            # the *new* value by its momentum). PyTorch's running variance stays the unbiased one.
            y = F.batch_norm(x, running_mean, running_var, gamma, beta, training=mode == "train",
                             momentum=1.0 - BN_MOMENTUM, eps=BN_EPSILON)
            y_back = y.permute(nchw_to_nhwc) if image else y
            (y_back * t(case["g"])).sum().backward()
            dx = x.grad.permute(nchw_to_nhwc) if image else x.grad
            result[mode] = dict(y=y_back, dx=dx, dgamma=gamma.grad, dbeta=beta.grad,
                                moving_mean=running_mean, moving_variance=running_var)
        bn.append(result)
    out["batch_norm"] = bn

    case = dense_inputs()
    x = t(case["x"], grad=True)
    w = t(case["kernel"].T, grad=True)  # PyTorch's Linear weight is [out, in]
    b = t(case["bias"], grad=True)
    y = F.linear(x, w, b)
    (y * t(case["g"])).sum().backward()
    out["dense"] = dict(y=y, dx=x.grad, dkernel=w.grad.T, dbias=b.grad)

    case = max_pool_inputs()
    x = t(case["x"].transpose(nhwc_to_nchw), grad=True)
    y = F.max_pool2d(x, 2).permute(nchw_to_nhwc)
    (y * t(case["g"])).sum().backward()
    out["max_pool"] = dict(y=y, dx=x.grad.permute(nchw_to_nhwc))

    sce = []
    for case in softmax_cross_entropy_inputs():
        logits = t(case["logits"], grad=True)
        loss = F.cross_entropy(logits, torch.tensor(case["labels"]))
        loss.backward()
        sce.append(dict(name=case["name"], from_logits=dict(loss=loss, dlogits=logits.grad)))
    out["softmax_cross_entropy"] = sce

    case = adam_inputs()
    theta = torch.nn.Parameter(t(case["theta"]))
    opt = torch.optim.Adam([theta], lr=ADAM["learning_rate"], betas=(ADAM["beta_1"], ADAM["beta_2"]),
                           eps=ADAM["epsilon"])
    steps = []
    for g in case["grads"]:
        theta.grad = t(g)
        opt.step()
        steps.append(theta.detach().numpy().copy())
    out["adam"] = dict(theta_after_step=steps)

    import torch.nn as nn
    modules, shapes = [], []
    for spec in paper_layers():
        kind = spec[0]
        if kind in ("conv_relu",):
            modules += [nn.Conv2d(spec[1], spec[2], 3, padding=1), nn.ReLU()]
            shapes += [("kernel", (3, 3, spec[1], spec[2])), ("bias", (spec[2],))]
        elif kind == "bn":
            modules.append(nn.BatchNorm1d(spec[1], eps=BN_EPSILON, momentum=1.0 - BN_MOMENTUM)
                           if len(modules) and isinstance(modules[-2], nn.Linear)
                           else nn.BatchNorm2d(spec[1], eps=BN_EPSILON, momentum=1.0 - BN_MOMENTUM))
            shapes += [(k, (spec[1],)) for k in ("gamma", "beta", "moving_mean", "moving_variance")]
        elif kind == "pool":
            modules.append(nn.MaxPool2d(2))
        elif kind == "dropout":
            modules.append(nn.Dropout(spec[1]))
        elif kind == "flatten":
            # Flatten in NHWC order, as Keras does (the same here: the last maps are 1×1).
            modules += [Permute(nchw_to_nhwc), nn.Flatten()]
        elif kind in ("dense_relu", "dense"):
            modules.append(nn.Linear(spec[1], spec[2]))
            shapes += [("kernel", (spec[1], spec[2])), ("bias", (spec[2],))]
            if kind == "dense_relu":
                modules.append(nn.ReLU())
    model = nn.Sequential(*modules)
    weights = iter(paper_weight_list(shapes))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(t(next(weights).transpose(hwio_to_oihw)))
                m.bias.copy_(t(next(weights)))
            elif isinstance(m, nn.Linear):
                m.weight.copy_(t(next(weights).T))
                m.bias.copy_(t(next(weights)))
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                for target in (m.weight, m.bias, m.running_mean, m.running_var):
                    target.copy_(t(next(weights)))
        model.eval()
        x = t(paper_input().transpose(nhwc_to_nchw))
        logits = model(x)
        out["paper_cnn"] = dict(logits=logits, softmax=torch.softmax(logits, dim=1))

    return out, dict(torch=torch.__version__)


def Permute(dims):
    """`torch.nn.Module` that permutes axes (defined lazily so the Keras run needs no torch)."""
    import torch.nn as nn

    class _Permute(nn.Module):
        def forward(self, x):
            return x.permute(*dims)

    return _Permute()


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------

def to_plain(value):
    """Tensors (numpy, TensorFlow, PyTorch, Keras variables) → {"shape", "data"} with exact f32
    decimals; everything else unchanged."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list) and value and not isinstance(value[0], (int, float)):
        return [to_plain(v) for v in value]
    if isinstance(value, (list, str, int, float)) or value is None:
        return value
    if hasattr(value, "detach"):
        value = value.detach().numpy()
    elif hasattr(value, "numpy"):
        value = value.numpy()
    array = np.asarray(value, dtype=np.float32)
    return dict(shape=list(array.shape), data=[float(v) for v in array.reshape(-1)])


def dump(path, doc):
    text = json.dumps(doc, indent=1)
    # One line per list of numbers, so a file stays readable and diffs stay small.
    text = re.sub(r"\[\s+([-0-9.eE+,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")


def run_framework(name):
    cases, versions = keras_cases() if name == "keras" else torch_cases()
    json.dump(dict(cases=to_plain(cases), versions=versions), sys.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=["keras", "torch"],
                        help="internal: compute one framework's values and print them as JSON")
    parser.add_argument("--out", default=HERE,
                        help="folder for the JSON files (default: tests/golden, beside this script)")
    args = parser.parse_args()
    if args.framework:
        run_framework(args.framework)
        return

    results = {}
    for name in ("keras", "torch"):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
        done = subprocess.run([sys.executable, __file__, "--framework", name],
                              check=True, capture_output=True, text=True, env=env)
        results[name] = json.loads(done.stdout)
    keras_out, torch_out = results["keras"]["cases"], results["torch"]["cases"]
    v = {**results["keras"]["versions"], **results["torch"]["versions"]}
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")

    def provenance(keras_functions, torch_functions, note=None):
        p = {
            "command": COMMAND,
            "date": date,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "keras": {"library": f"Keras {v['keras']} (TensorFlow {v['tensorflow']} backend)",
                      "functions": keras_functions},
        }
        if torch_functions:
            p["torch"] = {"library": f"PyTorch {v['torch']}", "functions": torch_functions}
        if note:
            p["note"] = note
        return p

    gradient_note = "Gradients of L = sum(y * g) for the stored upstream gradient g."

    conv_docs = []
    for case, k, t in zip(conv_inputs(), keras_out["conv2d"], torch_out["conv2d"]):
        conv_docs.append(dict(name=case["name"], padding=case["padding"],
                              inputs=to_plain({key: case[key] for key in ("x", "kernel", "bias", "g")}),
                              keras={key: k[key] for key in ("y", "dx", "dkernel", "dbias")},
                              torch={key: t[key] for key in ("y", "dx", "dkernel", "dbias")}))
    dump(os.path.join(args.out, "conv2d.json"), dict(
        provenance=provenance(
            ["keras.layers.Conv2D(cout, (kh, kw), padding=padding)(x)", "tf.GradientTape().gradient"],
            ["torch.nn.functional.conv2d(x_nchw, kernel_oihw, bias, padding='same' or 0)", "Tensor.backward"],
            gradient_note + " Layouts: NHWC input, HWIO kernel; PyTorch's NCHW/OIHW transposed."),
        cases=conv_docs))

    bn_docs = []
    for case, k, t in zip(batch_norm_inputs(), keras_out["batch_norm"], torch_out["batch_norm"]):
        bn_docs.append(dict(name=case["name"],
                            inputs=to_plain({key: case[key] for key in
                                             ("x", "gamma", "beta", "moving_mean", "moving_variance", "g")}),
                            keras=k, torch=t))
    dump(os.path.join(args.out, "batch_norm.json"), dict(
        provenance=provenance(
            ["keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3)(x, training=True|False)",
             "tf.GradientTape().gradient"],
            ["torch.nn.functional.batch_norm(x, running_mean, running_var, gamma, beta, "
             "training=True|False, momentum=0.01, eps=1e-3)", "Tensor.backward"],
            gradient_note + " Each mode starts from the stored running statistics. PyTorch is "
            "called with Keras' epsilon and momentum (its defaults are 1e-5 and 0.1, weighting the "
            "new value); its running variance is updated with the unbiased batch variance, Keras' "
            "with the biased one."),
        cases=bn_docs))

    dump(os.path.join(args.out, "dense.json"), dict(
        provenance=provenance(
            ["keras.layers.Dense(3)(x)", "tf.GradientTape().gradient"],
            ["torch.nn.functional.linear(x, kernel.T, bias)", "Tensor.backward"],
            gradient_note + " Kernel [in, out]; PyTorch's [out, in] transposed."),
        inputs=to_plain(dense_inputs()), keras=keras_out["dense"], torch=torch_out["dense"]))

    dump(os.path.join(args.out, "max_pool.json"), dict(
        provenance=provenance(
            ["keras.layers.MaxPooling2D()(x)", "tf.GradientTape().gradient"],
            ["torch.nn.functional.max_pool2d(x_nchw, 2)", "Tensor.backward"],
            gradient_note + " Pool 2x2, stride 2, valid; distinct input values (no ties)."),
        inputs=to_plain(max_pool_inputs()), keras=keras_out["max_pool"], torch=torch_out["max_pool"]))

    dump(os.path.join(args.out, "softmax_cross_entropy.json"), dict(
        provenance=provenance(
            ["from_logits: keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)",
             "from_softmax: keras.losses.SparseCategoricalCrossentropy()(labels, keras.activations.softmax(logits))",
             "from_probabilities: keras.losses.SparseCategoricalCrossentropy()(labels, tf.identity(tf.nn.softmax(logits)))",
             "tf.GradientTape().gradient (d loss / d logits)"],
            ["from_logits: torch.nn.functional.cross_entropy(logits, labels)", "Tensor.backward"],
            "Loss is the mean over the batch (Keras' sum_over_batch_size, PyTorch's 'mean'). "
            "keras.activations.softmax tags its output with its logits and the Keras loss then "
            "uses them (no clipping); only an untagged probability tensor is clipped to "
            "[1e-7, 1 - 1e-7]. The two differ on the 'saturated' case's first sample."),
        cases=[dict(name=case["name"], inputs=to_plain(dict(logits=case["logits"], labels=case["labels"])),
                    keras={k: v for k, v in kc.items() if k != "name"},
                    torch={k: v for k, v in tc.items() if k != "name"})
               for case, kc, tc in zip(softmax_cross_entropy_inputs(), keras_out["softmax_cross_entropy"],
                                       torch_out["softmax_cross_entropy"])]))

    dump(os.path.join(args.out, "adam.json"), dict(
        provenance=provenance(
            ["keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)"
             ".apply_gradients([(g, theta)]), three times"],
            ["torch.optim.Adam([theta], lr=1e-3, betas=(0.9, 0.999), eps=1e-7).step(), three times"],
            "PyTorch is given Keras' epsilon 1e-7 (its default is 1e-8) but adds it to the "
            "bias-corrected sqrt(v_hat), Keras to sqrt(v): the two differ where sqrt(v) is "
            "comparable to epsilon (components 4 and 5)."),
        inputs=to_plain(adam_inputs()), keras=keras_out["adam"], torch=torch_out["adam"]))

    weights = [paper_weight(w["kind"], i, tuple(w["shape"]))
               for i, w in enumerate(keras_out["paper_cnn"]["weight_tensors"])]
    dump(os.path.join(args.out, "paper_cnn.json"), dict(
        provenance=provenance(
            ["keras.Sequential([...]) as in benches/reference_keras_torch.py, the last Dense "
             "linear; model.set_weights(formula); model(x, training=False); "
             "keras.activations.softmax(logits)"],
            ["torch.nn.Sequential(Conv2d, ReLU, BatchNorm2d(eps=1e-3, momentum=0.01), ...) as "
             "in benches/reference_keras_torch.py; model.eval(); torch.softmax(logits, dim=1)"],
            "Inference mode: batch norm uses the (non-default) running statistics, dropout is "
            "the identity. Weights from paper_weight() and input from paper_input() in "
            "make_golden.py (the same formulas are in tests/golden_values.rs); weight_tensors "
            "lists each tensor's Keras name, shape and float64 sum as a check of that formula."),
        image_size=PAPER_SIZE,
        input_sum=float(paper_input().astype(np.float64).sum()),
        weight_tensors=[dict(kind=w["kind"], shape=w["shape"], sum=float(a.astype(np.float64).sum()))
                        for w, a in zip(keras_out["paper_cnn"]["weight_tensors"], weights)],
        keras={k: keras_out["paper_cnn"][k] for k in ("logits", "softmax")},
        torch=torch_out["paper_cnn"]))
    print(f"wrote {args.out}/*.json with Keras {v['keras']}, TensorFlow {v['tensorflow']}, PyTorch {v['torch']}")


if __name__ == "__main__":
    main()
