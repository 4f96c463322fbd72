//! `Dropout`: inverted dropout (Keras `Dropout(rate)`).
//!
//! **Train.** Each value is kept with probability `p = 1 − rate` and scaled by `1/p`, else
//! zeroed: `y = x ⊙ mask`, `mask_i ∈ {0, 1/p}`. The expectation is unchanged, `E[y] = x`, so
//! at inference dropout is simply the identity. **Backward.** `dx = dy ⊙ mask`.
//!
//! **Randomness.** The mask is drawn from an RNG seeded with `(seed, step)`, where `seed` is
//! given at construction (derived from the model's seed) and `step` is set by the training loop
//! through [`Layer::set_step`]. So the mask is a pure function of the seed and the training
//! step: runs are reproducible, a resumed run draws the same masks, and a gradient check that
//! repeats a forward pass sees the same mask every time. The mask is drawn in blocks of
//! [`ELEMENTS_PER_TASK`] values in parallel, block `i` from the seed `(seed, step, i)`, so it is
//! also the same on any number of threads.

use super::layer::{no_forward_error, shape_error, Layer, Mode, Tensor};
use super::parallel_output::{parallel_output, parallel_output_with, ELEMENTS_PER_TASK};
use crate::error::{Error, Result};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Inverted dropout with a (seed, step)-determined mask.
pub struct Dropout {
    name: String,
    rate: f32,
    seed: u64,
    step: u64,
    /// The mask of the last forward pass: `0` or `1/(1−rate)` per element (empty in eval).
    mask: Option<Vec<f32>>,
    /// Shape of the last input.
    input_shape: Option<Vec<usize>>,
}

pub use crate::seed::mix_seed;

impl Dropout {
    /// Dropout that zeroes a fraction `rate ∈ [0, 1)` of its inputs in training.
    pub fn new(name: impl Into<String>, rate: f32, seed: u64) -> Result<Self> {
        let name = name.into();
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::invalid(format!(
                "layer {name} (Dropout): rate must be in [0, 1), got {rate}"
            )));
        }
        Ok(Dropout {
            name,
            rate,
            seed,
            step: 0,
            mask: None,
            input_shape: None,
        })
    }

    /// The fraction of values dropped in training.
    pub fn rate(&self) -> f32 {
        self.rate
    }
}

impl Layer for Dropout {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "Dropout"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        if x.ndim() < 2 || x.shape()[0] == 0 {
            return Err(shape_error(self, "[N ≥ 1, …]", x.shape()));
        }
        self.input_shape = Some(x.shape().to_vec());
        if mode == Mode::Eval || self.rate == 0.0 {
            self.mask = None;
            return Ok(x.clone());
        }
        let keep = 1.0 - self.rate;
        let scale = 1.0 / keep;
        let step_seed = mix_seed(self.seed, self.step);
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout");
        // Reuse the previous mask's buffer: no fresh allocation in a training step.
        let mut mask = self.mask.take().unwrap_or_default();
        mask.resize(xs.len(), 0.0);
        let y = parallel_output_with(
            xs.len(),
            ELEMENTS_PER_TASK,
            &mut mask,
            |block, out, mask| {
                let mut rng = SmallRng::seed_from_u64(mix_seed(step_seed, block as u64));
                for m in mask.iter_mut() {
                    *m = if rng.random::<f32>() < keep {
                        scale
                    } else {
                        0.0
                    };
                }
                let values = &xs[out.range()];
                out.push_iter(values.iter().zip(mask.iter()).map(|(v, m)| v * m));
            },
        );
        let y = Tensor::from_shape_vec(x.raw_dim(), y).expect("same size");
        self.mask = Some(mask);
        Ok(y)
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let shape = self
            .input_shape
            .as_ref()
            .ok_or_else(|| no_forward_error(self))?;
        if dy.shape() != shape.as_slice() {
            return Err(shape_error(self, shape, dy.shape()));
        }
        match &self.mask {
            None => Ok(dy.clone()),
            Some(mask) => {
                let dy = dy.as_standard_layout();
                let dys = dy.as_slice().expect("standard layout");
                let dx = parallel_output(dys.len(), ELEMENTS_PER_TASK, |_, out| {
                    let range = out.range();
                    let (grads, mask) = (&dys[range.clone()], &mask[range]);
                    out.push_iter(grads.iter().zip(mask).map(|(g, m)| g * m));
                });
                let dx = Tensor::from_shape_vec(dy.raw_dim(), dx).expect("same size");
                Ok(dx)
            }
        }
    }
    // ANCHOR_END: backward

    fn set_step(&mut self, step: u64) {
        self.step = step;
    }
}
