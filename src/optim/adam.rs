//! Adam (Kingma & Ba 2015) in the form Keras implements it.
//!
//! For each parameter θ with gradient g, at step t = 1, 2, …:
//!
//! ```text
//! m ← β1·m + (1 − β1)·g              first moment (running mean of g)
//! v ← β2·v + (1 − β2)·g²             second moment (running mean of g²)
//! α_t = lr · √(1 − β2^t) / (1 − β1^t)  bias correction folded into the step size
//! θ ← θ − α_t · m / (√v + ε)
//! ```
//!
//! Keras defaults: lr = 1e-3, β1 = 0.9, β2 = 0.999, ε = 1e-7. (PyTorch uses ε = 1e-8 and adds
//! it to the bias-corrected √v̂, which differs slightly in the first steps.)

use super::{check_state_matches, Optimizer};
use crate::error::Result;
use crate::nn::{Param, Tensor};

/// The Adam optimiser with Keras' update rule.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Learning rate (Keras default 1e-3).
    pub learning_rate: f32,
    /// Decay of the first moment (0.9).
    pub beta1: f32,
    /// Decay of the second moment (0.999).
    pub beta2: f32,
    /// Added to √v to avoid division by zero (1e-7).
    pub epsilon: f32,
    /// Number of steps taken so far (t).
    iterations: u64,
    /// First moments, one per parameter.
    m: Vec<Tensor>,
    /// Second moments, one per parameter.
    v: Vec<Tensor>,
}

impl Default for Adam {
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

impl Adam {
    // ANCHOR: keras_defaults
    /// Adam with learning rate `lr` and Keras' other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            iterations: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
    // ANCHOR_END: keras_defaults

    /// How many updates have been applied (t).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// The moment estimates `(m, v)`, one pair per parameter (for checkpoints).
    pub fn moments(&self) -> (&[Tensor], &[Tensor]) {
        (&self.m, &self.v)
    }

    /// Restore a saved state: step count and moments (for resuming training).
    pub fn restore(&mut self, iterations: u64, m: Vec<Tensor>, v: Vec<Tensor>) {
        self.iterations = iterations;
        self.m = m;
        self.v = v;
    }
}

impl Optimizer for Adam {
    // ANCHOR: step
    fn step(&mut self, params: &mut [&mut Param]) -> Result<()> {
        if self.iterations == 0 && self.m.is_empty() {
            for p in params.iter() {
                self.m.push(Tensor::zeros(p.value.raw_dim()));
                self.v.push(Tensor::zeros(p.value.raw_dim()));
            }
        }
        check_state_matches("Adam", &self.m, params)?;
        self.iterations += 1;
        let t = self.iterations as i32;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.epsilon);
        let alpha = (self.learning_rate as f64 * (1.0 - (b2 as f64).powi(t)).sqrt()
            / (1.0 - (b1 as f64).powi(t))) as f32;
        for ((p, m), v) in params
            .iter_mut()
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            ndarray::Zip::from(&mut p.value)
                .and(&p.grad)
                .and(m)
                .and(v)
                .for_each(|theta, &g, m, v| {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *theta -= alpha * *m / (v.sqrt() + eps);
                });
        }
        Ok(())
    }
    // ANCHOR_END: step
}
