//! Stochastic gradient descent with momentum, in Keras' form:
//!
//! ```text
//! velocity ← momentum · velocity − lr · g
//! θ ← θ + velocity
//! ```
//!
//! With `momentum = 0` this is plain gradient descent, `θ ← θ − lr·g`.

use super::{check_state_matches, Optimizer};
use crate::error::Result;
use crate::nn::{Param, Tensor};

/// SGD with (heavy-ball) momentum.
#[derive(Clone, Debug)]
pub struct Sgd {
    /// Step size.
    pub learning_rate: f32,
    /// Fraction of the previous velocity kept (0 = no momentum).
    pub momentum: f32,
    /// One velocity per parameter.
    velocity: Vec<Tensor>,
}

impl Sgd {
    /// SGD with the given learning rate and momentum.
    pub fn new(learning_rate: f32, momentum: f32) -> Self {
        Sgd {
            learning_rate,
            momentum,
            velocity: Vec::new(),
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [&mut Param]) -> Result<()> {
        if self.velocity.is_empty() {
            for p in params.iter() {
                self.velocity.push(Tensor::zeros(p.value.raw_dim()));
            }
        }
        check_state_matches("Sgd", &self.velocity, params)?;
        let (lr, momentum) = (self.learning_rate, self.momentum);
        for (p, velocity) in params.iter_mut().zip(self.velocity.iter_mut()) {
            ndarray::Zip::from(&mut p.value)
                .and(&p.grad)
                .and(velocity)
                .for_each(|theta, &g, vel| {
                    *vel = momentum * *vel - lr * g;
                    *theta += *vel;
                });
        }
        Ok(())
    }
}
