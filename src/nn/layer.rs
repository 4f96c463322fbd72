//! The contract every layer follows: [`Layer`], plus the [`Param`] it owns and the [`Mode`] it
//! runs in.
//!
//! A layer is a function `y = f(x; θ)` that also knows how to push a gradient backwards:
//! given `dL/dy` it returns `dL/dx` and stores `dL/dθ` next to each parameter `θ`. It keeps
//! whatever the backward pass needs from the forward pass (the input, a mask, the arg-max …)
//! in its own fields, named after the math. There is no autograd: every backward is written
//! by hand and checked against finite differences in `tests/`.

use crate::error::Result;
use ndarray::ArrayD;

/// The tensor type used throughout: an n-dimensional `f32` array. Images are NHWC
/// `[batch, height, width, channels]`, features are `[batch, features]`.
pub type Tensor = ArrayD<f32>;

/// Whether a forward pass is part of training or of evaluation. It changes what batch
/// normalisation (batch vs. running statistics) and dropout (random mask vs. identity) do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Training: batch statistics, running averages updated, dropout active.
    Train,
    /// Evaluation / inference: running statistics, dropout is the identity.
    Eval,
}

/// One named parameter tensor of a layer with the gradient of the loss with respect to it.
///
/// Names follow Keras (`kernel`, `bias`, `gamma`, `beta`, `moving_mean`, `moving_variance`),
/// so a checkpoint tensor is called `<layer name>/<param name>`, e.g. `conv2d_1/kernel`.
#[derive(Clone, Debug)]
pub struct Param {
    /// Keras' name for this tensor within its layer.
    pub name: &'static str,
    /// The current value θ.
    pub value: Tensor,
    /// dL/dθ from the last backward pass (same shape as `value`; zeros if never computed).
    pub grad: Tensor,
    /// `false` for statistics that are not learned by gradient descent (BN running mean and
    /// variance); optimisers skip them and Keras counts them as non-trainable.
    pub trainable: bool,
}

impl Param {
    /// A trainable parameter with a zero gradient of the same shape.
    pub fn trainable(name: &'static str, value: Tensor) -> Self {
        let grad = Tensor::zeros(value.raw_dim());
        Param {
            name,
            value,
            grad,
            trainable: true,
        }
    }

    /// A non-trainable state tensor (e.g. a running mean); its `grad` stays zero.
    pub fn non_trainable(name: &'static str, value: Tensor) -> Self {
        let grad = Tensor::zeros(value.raw_dim());
        Param {
            name,
            value,
            grad,
            trainable: false,
        }
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

/// A differentiable building block of a network.
///
/// Shapes always include the batch as the first axis. A layer must reject an input of the
/// wrong rank or size with [`crate::Error::Shape`] naming itself, never panic inside a kernel.
pub trait Layer: Send {
    /// The layer's unique name inside its model, e.g. `conv2d_1` (Keras' naming scheme).
    fn name(&self) -> &str;

    /// The layer's type as Keras prints it in a summary, e.g. `Conv2D`.
    fn kind(&self) -> &'static str;

    /// The output shape for one sample of shape `input` (no batch axis), or a shape error.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>>;

    /// Compute `y = f(x)` for a batch, remembering what `backward` needs.
    fn forward(&mut self, x: &Tensor, mode: Mode) -> Result<Tensor>;

    /// Given `dy = dL/dy` for the last forward's output, store `dL/dθ` in each parameter's
    /// `grad` and return `dx = dL/dx`.
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor>;

    /// Like [`Layer::backward`], but only the parameter gradients: for the first layer of a
    /// network, whose input is the data and needs no gradient. A convolution skips its most
    /// expensive part (the input gradient of a 3-channel image is a GEMM only 3 columns wide).
    fn backward_params_only(&mut self, dy: &Tensor) -> Result<()> {
        self.backward(dy).map(|_| ())
    }

    /// The layer's parameters (trainable and not), in a fixed order.
    fn params(&self) -> Vec<&Param> {
        Vec::new()
    }

    /// Mutable access to the parameters, in the same order as [`Layer::params`].
    fn params_mut(&mut self) -> Vec<&mut Param> {
        Vec::new()
    }

    /// Tell a stochastic layer (dropout) which training step this is, so that its random
    /// mask is a pure function of (seed, step): reproducible, and resumable from a checkpoint.
    fn set_step(&mut self, _step: u64) {}
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
