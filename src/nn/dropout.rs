//! `Dropout`: inverted dropout (Keras `Dropout(rate)`).
//!
//! **Train.** Each value is kept with probability `p = 1 − rate` and scaled by `1/p`, else
//! zeroed: `y = x ⊙ mask`, `mask_i ∈ {0, 1/p}`. The expectation is unchanged, `E[y] = x`, so
//! at inference dropout is simply the identity. **Backward.** `dx = dy ⊙ mask`.
//!
//! **Randomness.** The mask is drawn from an RNG seeded with `(seed, step)`, where `seed` is
//! given at construction (derived from the model's seed) and `step` comes with the training
//! pass, [`Pass::Train`]. So the mask is a pure function of the seed and the training step:
//! runs are reproducible, a resumed run draws the same masks, and a gradient check that repeats
//! a forward pass sees the same mask every time. The mask is drawn in fixed blocks of
//! [`ELEMENTS_PER_TASK`](super::engine::parallel::ELEMENTS_PER_TASK) values in parallel, block `i` from the seed `(seed, step, i)`, so it
//! is also the same on any number of threads. The plain loops are
//! [`super::reference::dropout`].

use super::engine::channel_maps::ChannelMap;
use super::engine::parallel::fill_in_blocks;
use super::layer::{no_forward_error, shape_error, Layer, Pass, Tensor};
use crate::error::{Error, Result};
use ndarray::Zip;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Inverted dropout with a (seed, step)-determined mask.
pub struct Dropout {
    name: String,
    rate: f32,
    seed: u64,
    /// The mask of the last training pass: `0` or `1/(1−rate)` per value (`None` after an
    /// evaluation pass, or with rate 0: the identity).
    mask: Option<Tensor>,
    /// Shape of the last input.
    x_shape: Option<Vec<usize>>,
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
            mask: None,
            x_shape: None,
        })
    }

    /// The fraction of values dropped in training.
    pub fn rate(&self) -> f32 {
        self.rate
    }

    /// The mask of training step `step` for an input of `shape`: each value `1/p` with
    /// probability `p = 1 − rate`, else 0, block `i` drawn from the seed `(seed, step, i)`.
    /// Written into `previous` when it has that shape (no allocation from step to step).
    fn draw_mask(&self, step: u64, shape: &[usize], previous: Option<Tensor>) -> Tensor {
        let keep = 1.0 - self.rate;
        let scale = 1.0 / keep;
        let step_seed = mix_seed(self.seed, step);
        let mut mask = match previous {
            Some(mask) if mask.shape() == shape => mask,
            _ => Tensor::zeros(shape),
        };
        let values = mask.as_slice_mut().expect("a fresh mask is contiguous");
        fill_in_blocks(values, |block, mask| {
            let mut rng = SmallRng::seed_from_u64(mix_seed(step_seed, block as u64));
            for m in mask {
                *m = if rng.random::<f32>() < keep {
                    scale
                } else {
                    0.0
                };
            }
        });
        mask
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
    /// The identity: `x` itself is the output (no copy).
    fn infer(&mut self, x: Tensor) -> Result<Tensor> {
        if x.ndim() < 2 || x.shape()[0] == 0 {
            return Err(shape_error(self, "[N ≥ 1, …]", x.shape()));
        }
        self.mask = None;
        self.x_shape = None;
        Ok(x)
    }

    fn inference_maps(&self) -> Option<Vec<ChannelMap>> {
        Some(Vec::new())
    }

    fn forward(&mut self, x: &Tensor, pass: Pass) -> Result<Tensor> {
        if x.ndim() < 2 || x.shape()[0] == 0 {
            return Err(shape_error(self, "[N ≥ 1, …]", x.shape()));
        }
        self.x_shape = Some(x.shape().to_vec());
        let step = match pass {
            Pass::Train { step } if self.rate > 0.0 => step,
            _ => {
                // Evaluation (or rate 0): the identity.
                self.mask = None;
                return Ok(x.clone());
            }
        };
        let previous = self.mask.take();
        let mask = self.draw_mask(step, x.shape(), previous);
        // y = x ⊙ mask
        let y = Zip::from(x).and(&mask).par_map_collect(|&x, &m| x * m);
        self.mask = Some(mask);
        Ok(y)
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let shape = self
            .x_shape
            .as_ref()
            .ok_or_else(|| no_forward_error(self))?;
        if dy.shape() != shape.as_slice() {
            return Err(shape_error(self, shape, dy.shape()));
        }
        match &self.mask {
            None => Ok(dy.clone()),
            // dx = dy ⊙ mask
            Some(mask) => Ok(Zip::from(dy).and(mask).par_map_collect(|&g, &m| g * m)),
        }
    }
    // ANCHOR_END: backward
}
