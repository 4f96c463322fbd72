//! `Dense`: a fully connected layer (Keras `Dense`), `y = x·W + b`.
//!
//! **Shapes.** `x[N, in]`, kernel `W[in, out]`, bias `b[out]`, `y[N, out]`.
//! **Backward.** With `g = dL/dy`: `dW = xᵀ·g`, `db = Σ_n g[n,:]`, `dx = g·Wᵀ`.
//! Kernel initialised Glorot-uniform (fans `in`, `out`), bias zero.
//!
//! The matrix products are the engine's [`gemm`] (`matrixmultiply`, on one thread: the
//! network's dense layers are small). The plain loops are [`super::reference::dense`].

use super::engine::gemm::{gemm, Op};
use super::init::glorot_uniform;
use super::layer::{no_forward_error, shape_error, Layer, Param, Pass, Tensor};
use crate::error::Result;
use ndarray::{Axis, IxDyn};
use rand::Rng;

/// A fully connected layer from `in` to `out` features.
pub struct Dense {
    name: String,
    kernel: Param,
    bias: Param,
    /// The input `x` of the last forward pass, `[N, in]`, kept for `dW = xᵀ·g`.
    x: Option<Tensor>,
}

impl Dense {
    /// A dense layer `inputs → outputs`, Glorot-uniform kernel, zero bias.
    pub fn new(name: impl Into<String>, inputs: usize, outputs: usize, rng: &mut impl Rng) -> Self {
        Dense {
            name: name.into(),
            kernel: Param::new(
                "kernel",
                glorot_uniform(&[inputs, outputs], inputs, outputs, rng),
            ),
            bias: Param::new("bias", Tensor::zeros(IxDyn(&[outputs]))),
            x: None,
        }
    }

    /// `(inputs, outputs)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.kernel.value.shape()[0], self.kernel.value.shape()[1])
    }
}

impl Layer for Dense {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "Dense"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let (inputs, outputs) = self.dims();
        if input != [inputs] {
            return Err(shape_error(self, [inputs], input));
        }
        Ok(vec![outputs])
    }

    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor, _pass: Pass) -> Result<Tensor> {
        let (inputs, outputs) = self.dims();
        if x.ndim() != 2 || x.shape()[1] != inputs || x.shape()[0] == 0 {
            return Err(shape_error(self, format!("[N ≥ 1, {inputs}]"), x.shape()));
        }
        let n = x.shape()[0];
        let x = x.as_standard_layout().into_owned();
        // y = b in every row, then y += x·W.
        let mut y = Tensor::zeros(IxDyn(&[n, outputs]));
        y.axis_iter_mut(Axis(0))
            .for_each(|mut row| row.assign(&self.bias.value));
        gemm(
            n,
            inputs,
            outputs,
            x.as_slice().expect("standard layout"),
            Op::N,
            self.kernel.value.as_slice().expect("contiguous"),
            Op::N,
            1.0,
            y.as_slice_mut().expect("fresh array"),
        );
        self.x = Some(x);
        Ok(y)
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let x = self.x.as_ref().ok_or_else(|| no_forward_error(self))?;
        let (inputs, outputs) = self.dims();
        let n = x.shape()[0];
        if dy.shape() != [n, outputs] {
            return Err(shape_error(self, [n, outputs], dy.shape()));
        }
        let g = dy.as_standard_layout();
        let g_slice = g.as_slice().expect("standard layout");
        let x_slice = x.as_slice().expect("stored contiguous");
        // dW = xᵀ·g   [in, N]·[N, out]
        let mut dkernel = Tensor::zeros(IxDyn(&[inputs, outputs]));
        gemm(
            inputs,
            n,
            outputs,
            x_slice,
            Op::T,
            g_slice,
            Op::N,
            0.0,
            dkernel.as_slice_mut().expect("fresh"),
        );
        // dx = g·Wᵀ   [N, out]·[out, in]
        let mut dx = Tensor::zeros(IxDyn(&[n, inputs]));
        let kernel = self.kernel.value.as_slice().expect("contiguous");
        gemm(
            n,
            outputs,
            inputs,
            g_slice,
            Op::N,
            kernel,
            Op::T,
            0.0,
            dx.as_slice_mut().expect("fresh"),
        );
        self.kernel.grad = dkernel;
        // db = Σ_n g[n, :]
        self.bias.grad = g.sum_axis(Axis(0));
        Ok(dx)
    }
    // ANCHOR_END: backward

    fn params(&self) -> Vec<&Param> {
        vec![&self.kernel, &self.bias]
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![&mut self.kernel, &mut self.bias]
    }
}
