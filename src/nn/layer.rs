//! The contract every layer follows: [`Layer`], plus the [`Param`]s it learns, the [`State`]
//! it keeps, and the [`Pass`] it runs in.
//!
//! A layer is a function `y = f(x; θ)` that also knows how to push a gradient backwards:
//! given `dL/dy` it returns `dL/dx` and stores `dL/dθ` next to each parameter `θ`. It keeps
//! whatever the backward pass needs from the forward pass (the input `x`, a `mask`, the
//! `arg_max` …) in its own fields, named after the math. There is no autograd: every backward
//! is written by hand and checked against finite differences in `tests/`.
//!
//! **Shapes.** A batch tensor (what `forward` takes and returns, what `backward` takes and
//! returns) always has the batch as its first axis: `[N, H, W, C]` or `[N, features]`. A
//! *sample* shape (what [`Layer::output_shape`] takes and returns, and what
//! [`super::Sequential::input_shape`] holds) is the same without that first axis.

use super::engine::channel_maps::{apply_channel_maps, ChannelMap};
use crate::error::Result;
use ndarray::ArrayD;

/// The tensor type used throughout: an n-dimensional `f32` array. Images are NHWC
/// `[batch, height, width, channels]`, features are `[batch, features]`.
pub type Tensor = ArrayD<f32>;

// ANCHOR: pass
/// Which kind of forward pass this is, with what it needs to know. It changes what batch
/// normalisation (batch vs. running statistics) and dropout (random mask vs. identity) do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Training step number `step` (0, 1, 2, … over the whole run): batch statistics, running
    /// averages updated, dropout active with a mask that is a pure function of (seed, step).
    Train {
        /// The training step, counted from 0 over the whole run (not per epoch).
        step: u64,
    },
    /// Evaluation / inference: running statistics, dropout is the identity.
    Eval,
}
// ANCHOR_END: pass

impl Pass {
    /// Whether this is a training pass.
    pub fn is_train(self) -> bool {
        matches!(self, Pass::Train { .. })
    }
}

/// One learned parameter tensor θ of a layer with the gradient of the loss with respect to it.
///
/// Names follow Keras (`kernel`, `bias`, `gamma`, `beta`), so a checkpoint tensor is called
/// `<layer name>/<param name>`, e.g. `conv2d_1/kernel`. Keras counts these as *trainable*.
#[derive(Clone, Debug)]
pub struct Param {
    /// Keras' name for this tensor within its layer.
    pub name: &'static str,
    /// The current value θ.
    pub value: Tensor,
    /// dL/dθ from the last backward pass (same shape as `value`; zeros if never computed).
    pub grad: Tensor,
}

impl Param {
    /// A parameter with a zero gradient of the same shape.
    pub fn new(name: &'static str, value: Tensor) -> Self {
        let grad = Tensor::zeros(value.raw_dim());
        Param { name, value, grad }
    }

    /// Number of scalars in the tensor.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Whether the tensor holds no scalar at all.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

/// A tensor a layer keeps and updates itself, not by gradient descent: batch normalisation's
/// `moving_mean` and `moving_variance`. It has no gradient; optimisers never see it; Keras
/// counts it as *non-trainable*. Checkpoints save it as `<layer name>/<state name>`.
#[derive(Clone, Debug)]
pub struct State {
    /// Keras' name for this tensor within its layer.
    pub name: &'static str,
    /// The current value.
    pub value: Tensor,
}

impl State {
    /// A state tensor with its initial value.
    pub fn new(name: &'static str, value: Tensor) -> Self {
        State { name, value }
    }

    /// Number of scalars in the tensor.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Whether the tensor holds no scalar at all.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

// ANCHOR: layer
/// A differentiable building block of a network.
///
/// `forward` and `backward` take and return batch tensors (batch first); `output_shape` works
/// on sample shapes (no batch axis), see the module docs. A layer must reject an input of the
/// wrong rank or size with [`crate::Error::Shape`] naming itself, never panic inside a kernel.
pub trait Layer: Send {
    /// The layer's unique name inside its model, e.g. `conv2d_1` (Keras' naming scheme).
    fn name(&self) -> &str;

    /// The layer's type as Keras prints it in a summary, e.g. `Conv2D`.
    fn kind(&self) -> &'static str;

    /// The output shape for one sample of shape `input` (both without the batch axis), or a
    /// shape error.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>>;

    /// Compute `y = f(x)` for a batch `x`, remembering what `backward` needs.
    fn forward(&mut self, x: &Tensor, pass: Pass) -> Result<Tensor>;

    /// Given `dy = dL/dy` for the last forward's output, store `dL/dθ` in each parameter's
    /// `grad` and return `dx = dL/dx`.
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor>;

    /// Like [`Layer::backward`], but only the parameter gradients: for the first layer of a
    /// network, whose input is the data and needs no gradient. A convolution skips its most
    /// expensive part (the input gradient of a 3-channel image is a GEMM only 3 columns wide).
    fn backward_params_only(&mut self, dy: &Tensor) -> Result<()> {
        self.backward(dy).map(|_| ())
    }

    /// The layer's learned parameters, in a fixed order (Keras' order).
    fn params(&self) -> Vec<&Param> {
        Vec::new()
    }

    /// Mutable access to the parameters, in the same order as [`Layer::params`].
    fn params_mut(&mut self) -> Vec<&mut Param> {
        Vec::new()
    }

    /// The layer's state tensors (not learned by gradient descent), in a fixed order; Keras
    /// lists them after the parameters.
    fn state(&self) -> Vec<&State> {
        Vec::new()
    }

    /// Mutable access to the state, in the same order as [`Layer::state`].
    fn state_mut(&mut self) -> Vec<&mut State> {
        Vec::new()
    }

    /// Inference only: the [`Pass::Eval`] output for `x`, keeping nothing for a backward pass
    /// (so `backward` after it is an error), and free to reuse `x`'s buffer for the output.
    /// Default: [`Layer::forward`] in an eval pass.
    fn infer(&mut self, x: Tensor) -> Result<Tensor> {
        self.forward(&x, Pass::Eval)
    }

    /// [`Layer::infer`] followed by `then`, the per-channel maps of the layers after this one
    /// ([`Layer::inference_maps`]). A convolution applies them to its output while it is still
    /// in the cache; the default applies them afterwards, over the output's last axis.
    fn infer_then(&mut self, x: Tensor, then: &[ChannelMap]) -> Result<Tensor> {
        let y = self.infer(x)?;
        apply_maps_on_last_axis((self.name(), self.kind()), y, then)
    }

    /// In inference, whether this layer is a per-channel element-wise map, and which: ReLU
    /// `[Relu]`, batch norm `[Affine]`, dropout `[]` (the identity); `None` for every other
    /// layer. [`crate::nn::Sequential::infer`] hands these to the layer before them.
    fn inference_maps(&self) -> Option<Vec<ChannelMap>> {
        None
    }
}
// ANCHOR_END: layer

/// Apply `maps` to `y` over its last axis (the channels), checking that every affine map has
/// as many values as that axis: the default of [`Layer::infer_then`].
pub(crate) fn apply_maps_on_last_axis(
    layer: (&str, &str),
    mut y: Tensor,
    maps: &[ChannelMap],
) -> Result<Tensor> {
    if maps.is_empty() {
        return Ok(y);
    }
    let channels = y.shape().last().copied().unwrap_or(0);
    check_maps(layer, channels, maps)?;
    if y.as_slice_mut().is_none() {
        y = y.as_standard_layout().into_owned();
    }
    apply_channel_maps(y.as_slice_mut().expect("standard layout"), channels, maps);
    Ok(y)
}

/// An error naming `layer` (name, kind) unless every affine map in `maps` has `channels` values
/// (and there is at least one channel).
pub(crate) fn check_maps(
    (name, kind): (&str, &str),
    channels: usize,
    maps: &[ChannelMap],
) -> Result<()> {
    let fits = |map: &ChannelMap| match map {
        ChannelMap::Relu => true,
        ChannelMap::Affine { scale, shift } => scale.len() == channels && shift.len() == channels,
    };
    if channels == 0 || !maps.iter().all(fits) {
        return Err(crate::Error::shape(
            format!("layer {name} ({kind})"),
            "per-channel maps as wide as the output's last axis",
            [channels],
        ));
    }
    Ok(())
}

/// Shape error helper used by the layers: "`name` (`kind`): expected …, found …".
pub(crate) fn shape_error(
    layer: &dyn Layer,
    expected: impl std::fmt::Debug,
    found: impl std::fmt::Debug,
) -> crate::Error {
    crate::Error::shape(
        format!("layer {} ({})", layer.name(), layer.kind()),
        expected,
        found,
    )
}

/// Error for a backward pass that has no forward pass to go back through.
pub(crate) fn no_forward_error(layer: &dyn Layer) -> crate::Error {
    crate::Error::invalid(format!(
        "layer {} ({}): backward called before forward",
        layer.name(),
        layer.kind()
    ))
}
