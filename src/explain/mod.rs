//! What the network looks at: saliency maps, Grad-CAM, first-layer filters and feature maps,
//! and how often the network's attention falls on the dural sac.
//!
//! Everything here reuses the backward passes the layers already have. The class score is the
//! logit `y_c` of the last dense layer (before the softmax, as Selvaraju et al. use it), so
//! `∂y_c/∂(anything)` is one backward pass started from the one-hot vector `e_c`:
//!
//! - [`score_gradient()`]: forward in evaluation mode keeping one layer's output `A`, then
//!   backward from `e_c` down to `A` (or to the input);
//! - [`saliency()`] (Simonyan et al. 2014, "Deep inside convolutional networks"): the largest
//!   `|∂y_c/∂x|` over the three colour channels, per pixel;
//! - [`grad_cam()`] (Selvaraju et al. 2017, "Grad-CAM"): channel weights
//!   `α_k = mean_{i,j} ∂y_c/∂A_k[i,j]`, map `ReLU(Σ_k α_k A_k)`, upsampled to the input with
//!   the bilinear convention of the image resize;
//! - [`localisation`]: the pointing game (Zhang et al. 2016, "Top-down neural attention by
//!   excitation backprop") and the share of the map's mass inside the sac region, against the
//!   share a uniform map would have;
//! - [`figures`]: overlays, filters, feature maps and the gallery of mistakes.

pub mod figures;
pub mod grad_cam;
pub mod localisation;
pub mod run;
pub mod saliency;
pub mod score_gradient;

pub use grad_cam::{default_grad_cam_layer, grad_cam, GradCam, GradCamLayer};
pub use localisation::{Ellipse, Localisation};
pub use saliency::saliency;
pub use score_gradient::{score_gradient, ScoreGradient};
