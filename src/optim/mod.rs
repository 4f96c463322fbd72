//! Optimisers: how parameters move once their gradients are known.
//!
//! - [`Adam`], the paper's optimiser, in exactly Keras' form and defaults;
//! - [`Sgd`] with momentum, the simplest optimiser, for teaching and comparison.
//!
//! Both update the model's parameters ([`Param`]: batch-norm running statistics are
//! [`crate::nn::State`], which optimisers never see) and keep one state slot per parameter, in
//! the order the model lists them.

pub mod adam;
pub mod sgd;

pub use adam::Adam;
pub use sgd::Sgd;

use crate::error::{Error, Result};
use crate::nn::Param;

/// Something that updates parameters from their gradients, one training step at a time.
pub trait Optimizer {
    /// Apply one update to every parameter in `params` using its `grad`.
    fn step(&mut self, params: &mut [&mut Param]) -> Result<()>;
}

/// Check that the optimiser's state (one tensor per parameter) still matches the
/// parameters it is asked to update: same count and same shapes.
fn check_state_matches(
    optimizer: &str,
    state: &[crate::nn::Tensor],
    params: &[&mut Param],
) -> Result<()> {
    if params.len() != state.len() {
        return Err(Error::invalid(format!(
            "{optimizer}: state holds {} tensors but {} parameters were given",
            state.len(),
            params.len()
        )));
    }
    for (s, p) in state.iter().zip(params) {
        if s.shape() != p.value.shape() {
            return Err(Error::shape(
                format!("{optimizer} state for {}", p.name),
                s.shape(),
                p.value.shape(),
            ));
        }
    }
    Ok(())
}
