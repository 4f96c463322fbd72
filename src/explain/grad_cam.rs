//! Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: visual explanations from deep networks via
//! gradient-based localization", eqs. 1–2): where in the image a convolution layer's features
//! raise the class score.
//!
//! For the output `A` (`[h, w, K]`) of a convolution layer and the class score `y_c`:
//!
//! ```text
//! α_k = (1 / hw) Σ_{i,j} ∂y_c/∂A[i, j, k]          (how much channel k matters)
//! L   = ReLU( Σ_k α_k A[·, ·, k] )                  ([h, w]: where those channels fire)
//! ```
//!
//! and `L` is resized to the input with the bilinear convention of the image resize
//! ([`crate::prepare::image_ops::resize_bilinear`], TensorFlow's half-pixel centres), so a map
//! pixel lands where the image pixel it came from is.

use super::score_gradient::score_gradient;
use crate::error::{Error, Result};
use crate::nn::{Sequential, Tensor};
use crate::prepare::image_ops::resize_bilinear;
use ndarray::{Array2, ArrayView3, Axis};

/// The layer whose output Grad-CAM reads.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCamLayer {
    /// Index of the layer in the model.
    pub index: usize,
    /// The name a user gives: the convolution's Keras name (`conv2d_3`) when the map is read
    /// after its ReLU, as Keras' `Conv2D(activation='relu')` output is.
    pub name: String,
    /// Rows and columns of the layer's output.
    pub size: (usize, usize),
}

/// The layer named `name`: a `Conv2D` stands for its activation (the `ReLU` right after it, the
/// output of Keras' `Conv2D(..., activation='relu')` of the authors' notebook); any other layer
/// with a `[h, w, channels]` output stands for itself.
pub fn grad_cam_layer(model: &Sequential, name: &str) -> Result<GradCamLayer> {
    let shapes = layer_output_shapes(model)?;
    let layers = model.layers();
    let index = layers
        .iter()
        .position(|l| l.name() == name)
        .ok_or_else(|| {
            let convs: Vec<&str> = layers
                .iter()
                .filter(|l| l.kind() == "Conv2D")
                .map(|l| l.name())
                .collect();
            Error::invalid(format!(
                "model {} has no layer named {name}; its convolutions are {}",
                model.name(),
                convs.join(", ")
            ))
        })?;
    let index = match layers.get(index + 1) {
        Some(next) if layers[index].kind() == "Conv2D" && next.kind() == "ReLU" => index + 1,
        _ => index,
    };
    match shapes[index][..] {
        [rows, cols, _] => Ok(GradCamLayer {
            index,
            name: name.to_string(),
            size: (rows, cols),
        }),
        _ => Err(Error::invalid(format!(
            "layer {name} gives {:?} per image, not a [rows, columns, channels] feature map: \
             Grad-CAM needs a convolution-side layer",
            shapes[index]
        ))),
    }
}

/// The default Grad-CAM layer: the deepest convolution whose output is at least 8×8, deep
/// enough to see whole structures and still fine enough to point at them (at 32×32 input the
/// last convolution of block 3, at 8×8; at 256×256 the last of block 5, at 16×16).
pub fn default_grad_cam_layer(model: &Sequential) -> Result<GradCamLayer> {
    let shapes = layer_output_shapes(model)?;
    let deepest = model
        .layers()
        .iter()
        .enumerate()
        .rev()
        .find(|(i, l)| {
            l.kind() == "Conv2D" && matches!(shapes[*i][..], [r, c, _] if r >= 8 && c >= 8)
        })
        .map(|(_, l)| l.name().to_string())
        .ok_or_else(|| {
            Error::invalid(format!(
                "model {} has no convolution with an output of at least 8×8",
                model.name()
            ))
        })?;
    grad_cam_layer(model, &deepest)
}

/// The per-image output shape of every layer, in order.
fn layer_output_shapes(model: &Sequential) -> Result<Vec<Vec<usize>>> {
    let mut shape = model.input_shape().to_vec();
    model
        .layers()
        .iter()
        .map(|l| {
            shape = l.output_shape(&shape)?;
            Ok(shape.clone())
        })
        .collect()
}

/// One image's Grad-CAM.
#[derive(Clone, Debug)]
pub struct GradCam {
    /// `ReLU(Σ_k α_k A_k)` at the layer's resolution `[h, w]`.
    pub coarse: Array2<f32>,
    /// The same, resized to the input `[H, W]`.
    pub map: Array2<f32>,
    /// The channel weights `α_k`.
    pub weights: Vec<f32>,
}

// ANCHOR: grad_cam_from
/// The map of equation 2 from one image's activations `[h, w, K]` and score gradient (same
/// shape): `ReLU(Σ_k α_k A_k)` with `α_k` the spatial mean of the gradient of channel `k`.
pub fn grad_cam_from(
    activation: ArrayView3<f32>,
    gradient: ArrayView3<f32>,
) -> (Array2<f32>, Vec<f32>) {
    let (h, w, _) = activation.dim();
    let weights: Vec<f32> = gradient
        .sum_axis(Axis(0))
        .sum_axis(Axis(0))
        .iter()
        .map(|&s| s / (h * w) as f32)
        .collect();
    let coarse = Array2::from_shape_fn((h, w), |(i, j)| {
        let weighted: f32 = activation
            .slice(ndarray::s![i, j, ..])
            .iter()
            .zip(&weights)
            .map(|(a, alpha)| a * alpha)
            .sum();
        weighted.max(0.0)
    });
    (coarse, weights)
}

// ANCHOR_END: grad_cam_from

/// Grad-CAM of each image of `images` (`[N, H, W, C]`) for its class `classes[n]` at `layer`.
pub fn grad_cam(
    model: &mut Sequential,
    images: &Tensor,
    classes: &[usize],
    layer: &GradCamLayer,
) -> Result<Vec<GradCam>> {
    let (rows, cols) = (images.shape()[1], images.shape()[2]);
    let scored = score_gradient(model, images, classes, Some(layer.index))?;
    let activation = scored
        .activation
        .into_dimensionality::<ndarray::Ix4>()
        .map_err(|_| Error::invalid(format!("layer {} is not a feature map", layer.name)))?;
    let gradient = scored
        .gradient
        .into_dimensionality::<ndarray::Ix4>()
        .expect("the gradient has the activation's shape");
    Ok(activation
        .axis_iter(Axis(0))
        .zip(gradient.axis_iter(Axis(0)))
        .map(|(a, g)| {
            let (coarse, weights) = grad_cam_from(a, g);
            let map = resize_bilinear(coarse.view(), rows, cols);
            GradCam {
                coarse,
                map,
                weights,
            }
        })
        .collect())
}
