//! Saliency maps (Simonyan, Vedaldi & Zisserman 2014, "Deep inside convolutional networks"):
//! how much each input pixel moves the class score, `max_channel |∂y_c/∂x|`.

use super::score_gradient::score_gradient;
use crate::error::Result;
use crate::nn::{Sequential, Tensor};
use ndarray::{Array2, Axis};

/// The saliency map of each image of `images` (`[N, H, W, C]`) for its class `classes[n]`:
/// `[H, W]` maps of `max_c |∂y/∂x[h, w, c]|`, in score units per unit of input (the input is
/// in `[0, 1]`, so a value of 2 means a pixel going from black to white would move the score by
/// about 2 if the network were linear there).
pub fn saliency(
    model: &mut Sequential,
    images: &Tensor,
    classes: &[usize],
) -> Result<Vec<Array2<f32>>> {
    let gradient = score_gradient(model, images, classes, None)?.gradient;
    Ok(gradient
        .axis_iter(Axis(0))
        .map(|image| {
            image
                .map(|g| g.abs())
                .fold_axis(Axis(2), 0.0f32, |&m, &v| m.max(v))
                .into_dimensionality()
                .expect("[H, W] after folding the channels")
        })
        .collect())
}
