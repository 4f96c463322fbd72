//! How much memory the paper's network needs at a given image size and batch, computed from the
//! layer shapes alone (nothing is allocated), and the check that refuses a command whose need
//! exceeds what the machine has available, before it allocates anything.
//!
//! Every count is a `u128` built with saturating arithmetic, so even `--image-size
//! 1000000000` gives a (huge) figure instead of an overflow.
//!
//! **What a training step holds** (the pieces of [`MemoryEstimate`]), per the layers in
//! `src/nn/`:
//! - the parameters (4 bytes each), their gradients and Adam's two moments: 16 bytes per
//!   trainable parameter, 4 per non-trainable one (batch norm's moving statistics);
//! - what each layer keeps from the forward pass for the backward pass, per image: a
//!   convolution and a dense layer copy their input, ReLU a 1-byte mask, batch norm `x̂`, max
//!   pooling a 4-byte arg-max per output, dropout its 4-byte mask; plus the input batch;
//! - the transient buffers: each layer's output and input gradient, which the recycling
//!   allocator keeps for the next step up to its [`MAX_CACHED_BYTES`] (never less than the
//!   gradient and output of the largest layer, alive together during backward), the kernel
//!   gradient's im2col matrix (at most [`WHOLE_COL_FLOATS`] floats), and the process itself
//!   ([`PROCESS_BYTES`]).
//!
//! **Against measurement** (`lumbar bench --steps 1`, peak resident set size from
//! `/usr/bin/time -v`, 2 cores):
//!
//! | image, batch | estimate | measured peak | estimate / measured |
//! |---|---|---|---|
//! | 32, 8 | 122 MB | 126 MB | 0.97 |
//! | 32, 32 | 196 MB | 172 MB | 1.14 |
//! | 64, 8 | 208 MB | 188 MB | 1.11 |
//! | 64, 32 | 473 MB | 396 MB | 1.19 |
//! | 128, 16 | 875 MB | 716 MB | 1.22 |
//! | 256, 4 | 1.08 GB | 0.98 GB | 1.09 |
//! | 256, 32 | 3.71 GB | 3.97 GB | 0.93 |
//!
//! So the estimate is at most 22 % above the real peak and at most 7 % below it.

use crate::error::{Error, Result};
use crate::model::paper_cnn::{BLOCK_FILTERS, CHANNELS, CLASSES, DENSE_UNITS};
use crate::nn::engine::conv::WHOLE_COL_FLOATS;
use crate::recycling_allocator::MAX_CACHED_BYTES;

/// Bytes of one `f32`.
const F32: u128 = 4;
/// The process without the network: code, thread stacks, buffers of the standard library
/// (measured: `lumbar summary --image-size 32` peaks at 25 MB, of which 20 MB are weights).
pub const PROCESS_BYTES: u128 = 8 << 20;

/// The memory the paper's network needs for one image size and batch, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Trainable parameters (kernels, biases, batch norm's γ and β).
    pub trainable_params: u128,
    /// Non-trainable parameters (batch norm's moving mean and variance).
    pub non_trainable_params: u128,
    /// The parameter values, 4 bytes each.
    pub weight_bytes: u128,
    /// Gradients and Adam's first and second moments of the trainable parameters.
    pub optimizer_bytes: u128,
    /// The input batch and what every layer keeps from forward for backward.
    pub activation_bytes: u128,
    /// Layer outputs and gradients in flight, the im2col matrix, the process itself.
    pub transient_bytes: u128,
}

impl MemoryEstimate {
    /// The peak of one training step (forward, backward, Adam), what `lumbar bench` runs.
    pub fn training_step_bytes(&self) -> u128 {
        self.weight_bytes
            .saturating_add(self.optimizer_bytes)
            .saturating_add(self.activation_bytes)
            .saturating_add(self.transient_bytes)
    }

    /// The peak of `lumbar run`'s training: a step plus the copy of the best weights that early
    /// stopping keeps (the images are streamed from their PNGs, a few batches at a time, so
    /// the size of the dataset does not enter).
    pub fn training_run_bytes(&self) -> u128 {
        self.training_step_bytes().saturating_add(self.weight_bytes)
    }

    /// Building the network without training it (`lumbar summary`): the values and their
    /// (zero) gradients, plus the process.
    pub fn network_bytes(&self) -> u128 {
        self.weight_bytes
            .saturating_add(self.trainable_params.saturating_mul(F32))
            .saturating_add(PROCESS_BYTES)
    }
}

/// Running sums over the layers, in `f32` values per image unless named bytes.
#[derive(Default)]
struct Tally {
    trainable: u128,
    non_trainable: u128,
    /// Bytes kept for backward, per image.
    kept_bytes: u128,
    /// Values of every layer output, per image.
    outputs: u128,
    /// Values of the largest layer output, per image.
    largest: u128,
    /// Largest `patch_len · pixels` of a convolution, per image (its im2col matrix).
    largest_im2col: u128,
}

impl Tally {
    /// A layer's output of `values` per image that it keeps `kept_bytes` about.
    fn output(&mut self, values: u128, kept_bytes: u128) {
        self.outputs = self.outputs.saturating_add(values);
        self.largest = self.largest.max(values);
        self.kept_bytes = self.kept_bytes.saturating_add(kept_bytes);
    }

    /// Batch norm over `channels`, output `values`: γ, β trainable, two moving statistics.
    fn batch_norm(&mut self, channels: u128, values: u128) {
        self.trainable = self.trainable.saturating_add(2 * channels);
        self.non_trainable = self.non_trainable.saturating_add(2 * channels);
        self.output(values, values.saturating_mul(F32)); // x̂
    }

    /// ReLU then batch norm on `values` of `channels` channels, as after every conv and dense.
    fn relu_batch_norm(&mut self, channels: u128, values: u128) {
        self.output(values, values); // ReLU's 1-byte mask
        self.batch_norm(channels, values);
    }
}

/// Estimate the memory of the paper's network for `image_size × image_size × 3` inputs in
/// batches of `batch` (layer shapes as `src/model/paper_cnn.rs` builds them; a side below 32
/// pools down to nothing and is refused elsewhere).
pub fn estimate(image_size: usize, batch: usize) -> MemoryEstimate {
    let mut t = Tally::default();
    let mut side = image_size as u128;
    let mut channels = CHANNELS as u128;
    for filters in BLOCK_FILTERS.map(|f| f as u128) {
        for _ in 0..2 {
            let pixels = side.saturating_mul(side);
            let input = pixels.saturating_mul(channels);
            let output = pixels.saturating_mul(filters);
            let patch = 9 * channels;
            t.trainable = t.trainable.saturating_add(patch * filters + filters);
            t.largest_im2col = t.largest_im2col.max(pixels.saturating_mul(patch));
            t.output(output, input.saturating_mul(F32)); // Conv2D keeps its input
            t.relu_batch_norm(filters, output);
            channels = filters;
        }
        side /= 2;
        let pooled = side.saturating_mul(side).saturating_mul(filters);
        t.output(pooled, pooled.saturating_mul(F32)); // MaxPool's arg-max
        t.output(pooled, pooled.saturating_mul(F32)); // Dropout's mask
    }
    let mut features = side.saturating_mul(side).saturating_mul(channels);
    for units in DENSE_UNITS.map(|u| u as u128) {
        t.trainable = t
            .trainable
            .saturating_add(features.saturating_mul(units).saturating_add(units));
        t.output(units, features.saturating_mul(F32)); // Dense keeps its input
        t.relu_batch_norm(units, units);
        t.output(units, units * F32); // Dropout's mask
        features = units;
    }
    let classes = CLASSES as u128;
    t.trainable = t
        .trainable
        .saturating_add(features.saturating_mul(classes) + classes);

    let batch = batch as u128;
    let input_bytes = (image_size as u128)
        .saturating_pow(2)
        .saturating_mul(CHANNELS as u128 * F32);
    let in_flight = t
        .outputs
        .saturating_mul(batch)
        .saturating_mul(F32)
        .min(MAX_CACHED_BYTES as u128)
        .max(t.largest.saturating_mul(batch).saturating_mul(2 * F32));
    let im2col = t
        .largest_im2col
        .saturating_mul(batch)
        .min(WHOLE_COL_FLOATS as u128)
        .saturating_mul(F32);
    MemoryEstimate {
        trainable_params: t.trainable,
        non_trainable_params: t.non_trainable,
        weight_bytes: t
            .trainable
            .saturating_add(t.non_trainable)
            .saturating_mul(F32),
        optimizer_bytes: t.trainable.saturating_mul(3 * F32),
        activation_bytes: t
            .kept_bytes
            .saturating_add(input_bytes)
            .saturating_mul(batch),
        transient_bytes: in_flight
            .saturating_add(im2col)
            .saturating_add(PROCESS_BYTES),
    }
}

/// The memory available to a new allocation, in bytes: `MemAvailable` of `/proc/meminfo`
/// (Linux), or `None` when it cannot be read.
pub fn available_bytes() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuse when `needed` bytes exceed `available` (when known): "`request` needs about X for
/// `purpose`; this machine has Y available". Without a figure for the available memory the
/// check is skipped with a note on stderr.
pub fn ensure_fits(
    needed: u128,
    available: Option<u128>,
    request: &str,
    purpose: &str,
) -> Result<()> {
    let Some(available) = available else {
        eprintln!(
            "note: the available memory is unknown (no MemAvailable in /proc/meminfo), so {request} is not checked against it"
        );
        return Ok(());
    };
    if needed <= available {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "{request} needs about {} for {purpose}; this machine has {} available",
        format_bytes(needed),
        format_bytes(available)
    )))
}

/// `bytes` in decimal units with one decimal: `23.4 GB`, `1.2 TB`; beyond exabytes in
/// scientific notation (`2.5e20 bytes`).
pub fn format_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    if bytes == u128::MAX {
        return format!("more than {:.1e} bytes", bytes as f64);
    }
    let mut value = bytes as f64;
    for unit in UNITS {
        if value < 1000.0 {
            return if unit == "bytes" {
                format!("{bytes} bytes")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1000.0;
    }
    format!("{:.1e} bytes", bytes as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::paper_cnn;

    #[test]
    fn parameter_counts_match_keras_at_256_and_the_built_network_elsewhere() {
        let at_256 = estimate(256, 32);
        assert_eq!(at_256.trainable_params, 21_627_555);
        assert_eq!(at_256.non_trainable_params, 5_504);
        for size in [32, 48, 64, 100] {
            let model = paper_cnn(size, 0).unwrap();
            let built: usize = model.params().iter().map(|(_, p)| p.value.len()).sum();
            let estimated = estimate(size, 1);
            assert_eq!(estimated.trainable_params, built as u128, "{size} px");
            assert_eq!(estimated.weight_bytes, 4 * (built as u128 + 5_504));
        }
    }

    #[test]
    fn activations_grow_with_the_batch_and_the_square_of_the_side() {
        let one = estimate(64, 1).activation_bytes;
        assert_eq!(estimate(64, 8).activation_bytes, 8 * one);
        let ratio = estimate(128, 1).activation_bytes as f64 / one as f64;
        assert!((ratio - 4.0).abs() < 0.05, "{ratio}");
    }

    #[test]
    fn huge_sizes_give_a_figure_not_an_overflow() {
        let huge = estimate(usize::MAX, usize::MAX);
        assert_eq!(huge.training_step_bytes(), u128::MAX);
        assert!(estimate(1_000_000_000, 1).network_bytes() > 1 << 70);
    }

    #[test]
    fn a_need_beyond_the_available_memory_is_refused_with_both_figures() {
        let error = ensure_fits(
            1_200_000_000_000,
            Some(23_400_000_000),
            "--image-size 100000",
            "the training step",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "--image-size 100000 needs about 1.2 TB for the training step; this machine has 23.4 GB available"
        );
        assert!(ensure_fits(10, Some(10), "x", "y").is_ok());
        assert!(ensure_fits(u128::MAX, None, "x", "y").is_ok());
    }

    #[test]
    fn bytes_are_written_in_decimal_units() {
        assert_eq!(format_bytes(999), "999 bytes");
        assert_eq!(format_bytes(183_000_000), "183.0 MB");
        assert_eq!(format_bytes(u128::MAX), "more than 3.4e38 bytes");
    }
}
