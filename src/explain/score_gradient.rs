//! The gradient of one class score with respect to a layer's output or to the input image.

use crate::error::{Error, Result};
use crate::nn::{Pass, Sequential, Tensor};
use ndarray::{Array2, IxDyn};

/// What one backward pass from the class scores gives.
pub struct ScoreGradient {
    /// The class scores (logits) `[N, classes]`.
    pub logits: Array2<f32>,
    /// The output of the chosen layer `[N, …]` (the input itself when no layer was chosen).
    pub activation: Tensor,
    /// `∂y_{c_n}/∂activation` for each image `n` and its class `c_n`, the same shape.
    pub gradient: Tensor,
}

/// Run `images` (`[N, H, W, C]`) through `model` in evaluation mode, keep the output of layer
/// number `layer` (`None`: keep the input), and back-propagate the score of `classes[n]` for each
/// image `n` down to it.
///
/// In evaluation mode every layer treats the images of a batch independently (batch norm uses
/// its running statistics, dropout is the identity), so one backward pass from `Σ_n y_{n,c_n}`
/// gives each image its own gradient. The backward also overwrites the parameters' `grad`, which
/// training recomputes before every use.
pub fn score_gradient(
    model: &mut Sequential,
    images: &Tensor,
    classes: &[usize],
    layer: Option<usize>,
) -> Result<ScoreGradient> {
    if images.ndim() < 1 || images.shape()[0] != classes.len() {
        return Err(Error::invalid(format!(
            "score_gradient: {} class(es) for a batch of shape {:?} (one class per image)",
            classes.len(),
            images.shape()
        )));
    }
    // ANCHOR: score_gradient
    let (logits, activation) = match layer {
        Some(index) => model.forward_keeping(images, Pass::Eval, index)?,
        None => (model.forward(images, Pass::Eval)?, images.clone()),
    };
    let logits: Array2<f32> = logits.into_dimensionality().map_err(|_| {
        Error::invalid(format!(
            "model {} does not end in class scores [N, classes]",
            model.name()
        ))
    })?;
    let (n, k) = logits.dim();
    if let Some(&bad) = classes.iter().find(|&&c| c >= k) {
        return Err(Error::invalid(format!(
            "class {bad} does not exist: the model scores {k} classes"
        )));
    }
    // ∂(Σ_n y_{n,c_n})/∂logits: one-hot rows.
    let mut d_logits = Tensor::zeros(IxDyn(&[n, k]));
    for (row, &c) in classes.iter().enumerate() {
        d_logits[[row, c]] = 1.0;
    }
    let gradient = match layer {
        Some(index) => model.backward_to(&d_logits, index)?,
        None => model.backward(&d_logits)?,
    };
    // ANCHOR_END: score_gradient
    Ok(ScoreGradient {
        logits,
        activation,
        gradient,
    })
}
