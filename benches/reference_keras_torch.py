#!/usr/bin/env python3
"""Time the article's network in TensorFlow/Keras and in PyTorch on this machine, with the same
thread count as lumbar-cnn, so the README's comparison can be reproduced.

Not run by CI. Needs `pip install tensorflow torch` (CPU builds). Usage:

    python3 benches/reference_keras_torch.py --threads 2
    cargo bench --bench network          # lumbar-cnn's numbers, same rows

Rows: training images/s at 256x256 (batch 16) and 64x64 (batch 32), inference images/s at
256x256, and peak resident memory of a 256x256 batch-16 training step.

With `--image-size N --batch B` it times that one configuration in a process of its own and
prints the line `lumbar bench --image-size N --batch B` prints last (train_img_per_s=...
infer_img_per_s=... peak_rss_mb=...), so the two can be run in interleaved rounds:

    for round in 1 2 3; do
      lumbar bench --image-size 256 --batch 16 | tail -1
      python3 benches/reference_keras_torch.py --framework keras --image-size 256 --batch 16
    done
"""
import argparse
import os
import resource
import time


# Untimed steps before the timed ones, as `lumbar bench` does (WARM_UP_STEPS in src/cli/bench.rs).
WARM_UP_STEPS = 2


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def keras_model(size):
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential([keras.Input((size, size, 3))])
    for filters in (32, 64, 128, 256, 512):
        for _ in range(2):
            model.add(layers.Conv2D(filters, 3, padding="same", activation="relu"))
            model.add(layers.BatchNormalization())
        model.add(layers.MaxPooling2D())
        model.add(layers.Dropout(0.25))
    model.add(layers.Flatten())
    for units in (512, 256):
        model.add(layers.Dense(units, activation="relu"))
        model.add(layers.BatchNormalization())
        model.add(layers.Dropout(0.5))
    model.add(layers.Dense(3, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def time_keras(size, batch, steps, threads):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = keras_model(size)
    x = np.random.rand(batch, size, size, 3).astype("float32")
    y = np.random.randint(0, 3, size=(batch,))
    for _ in range(WARM_UP_STEPS):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    train = steps * batch / (time.perf_counter() - start)
    for _ in range(WARM_UP_STEPS):
        model.predict_on_batch(x)
    start = time.perf_counter()
    for _ in range(steps):
        model.predict_on_batch(x)
    infer = steps * batch / (time.perf_counter() - start)
    return train, infer


def torch_model(size):
    import torch.nn as nn

    layers, cin = [], 3
    for filters in (32, 64, 128, 256, 512):
        for _ in range(2):
            layers += [nn.Conv2d(cin, filters, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01)]
            cin = filters
        layers += [nn.MaxPool2d(2), nn.Dropout(0.25)]
    flat = (size // 32) ** 2 * 512
    layers += [nn.Flatten(), nn.Linear(flat, 512), nn.ReLU(), nn.BatchNorm1d(512, eps=1e-3, momentum=0.01), nn.Dropout(0.5),
               nn.Linear(512, 256), nn.ReLU(), nn.BatchNorm1d(256, eps=1e-3, momentum=0.01), nn.Dropout(0.5), nn.Linear(256, 3)]
    return nn.Sequential(*layers)


def time_torch(size, batch, steps, threads):
    import torch

    torch.set_num_threads(threads)
    model = torch_model(size).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(batch, 3, size, size).to(memory_format=torch.channels_last)
    y = torch.randint(0, 3, (batch,))

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(WARM_UP_STEPS):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    train = steps * batch / (time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        for _ in range(WARM_UP_STEPS):
            model(x)
        start = time.perf_counter()
        for _ in range(steps):
            model(x)
    infer = steps * batch / (time.perf_counter() - start)
    return train, infer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--framework", choices=["keras", "torch", "both"], default="both")
    parser.add_argument("--image-size", type=int, help="time only this size (with --batch)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="timed steps, as lumbar bench --steps")
    args = parser.parse_args()
    if args.image_size is not None and args.framework == "both":
        parser.error("--image-size needs --framework keras or --framework torch")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if args.framework == "both":
        # TensorFlow and PyTorch each bundle LLVM and cannot be loaded into one process; each
        # also gets its own peak-memory figure this way.
        import subprocess
        import sys
        for name in ("keras", "torch"):
            subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--framework", name], check=True)
        return
    timer = time_keras if args.framework == "keras" else time_torch
    if args.image_size is not None:
        train, infer = timer(args.image_size, args.batch, args.steps, args.threads)
        print(f"framework={args.framework} image_size={args.image_size} batch={args.batch} "
              f"train_img_per_s={train:.2f} infer_img_per_s={infer:.2f} peak_rss_mb={peak_rss_mb():.0f}")
        return
    train64, _ = timer(64, 32, 5, args.threads)
    train256, infer256 = timer(256, 16, 3, args.threads)
    print(f"{args.framework:6} threads={args.threads} train256_b16={train256:.2f} infer256={infer256:.2f} "
          f"train64_b32={train64:.2f} img/s  peak_rss_mb={peak_rss_mb():.0f}")

if __name__ == "__main__":
    main()
