//! `Conv2d`: a 2-D convolution (Keras `Conv2D`, stride 1).
//!
//! **Shapes.** Input `x[N, H, W, Cin]`, kernel `K[kh, kw, Cin, Cout]`, bias `b[Cout]`, output
//! `y[N, Ho, Wo, Cout]` with `Ho = H, Wo = W` for `same` padding and `Ho = H−kh+1,
//! Wo = W−kw+1` for `valid`.
//!
//! **Forward.** `y[n,oy,ox,o] = b[o] + Σ_{ky,kx,c} x[n, oy+ky−pt, ox+kx−pl, c] · K[ky,kx,c,o]`
//! (zero outside the image). Per image this is one matrix product `Y = col(x) · K̂ + b`, where
//! `col(x)` is the `[Ho·Wo, kh·kw·Cin]` im2col matrix and `K̂` the kernel viewed as
//! `[kh·kw·Cin, Cout]`.
//!
//! **Backward.** With `dY = dL/dy` of one image as a `[Ho·Wo, Cout]` matrix:
//! - `db[o] = Σ_{n,oy,ox} dy[n,oy,ox,o]` (the bias gradient),
//! - `dK̂ = Σ_n col(x_n)ᵀ · dY_n` (the kernel gradient),
//! - `dx[n,y,x,c] = Σ_{ky,kx,o} dy[n, y−ky+pt, x−kx+pl, o] · K[ky,kx,c,o]` (the input
//!   gradient): `dy` convolved with the kernel rotated by 180° and with input and output
//!   channels swapped, padded by `(kh−1−pt, kw−1−pl)`. So the input gradient is itself a
//!   convolution, computed by the same engine as the forward pass (no `col2im` is needed).
//!
//! The three products are computed by the engine ([`conv_forward`], [`conv_kernel_gradient`],
//! [`conv_input_gradient`] in [`super::engine::conv`]), band by band in parallel, on the same
//! bits on any number of threads. The definition as plain nested loops is the reference
//! convolution; tests hold the layer equal to it.

use super::engine::channel_maps::ChannelMap;
use super::engine::parallel::copy_reusing;
use super::engine::{
    conv_forward, conv_forward_prepared, conv_input_gradient, conv_kernel_gradient, ConvGeometry,
    PreparedKernel,
};
use super::init::glorot_uniform;
use super::layer::{check_maps, no_forward_error, shape_error, Layer, Param, Pass, Tensor};
use crate::error::Result;
use ndarray::{Array1, IxDyn};
use rand::Rng;

/// Keras' `padding` argument for a stride-1 convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Zero-pad so the output has the input's height and width (`(k−1)/2` before, the rest
    /// after, as TensorFlow does).
    Same,
    /// No padding: the output shrinks by `k−1` in each spatial axis.
    Valid,
}

/// A stride-1 2-D convolution layer with a bias, NHWC, Keras semantics.
pub struct Conv2d {
    name: String,
    padding: Padding,
    /// `[kh, kw, cin, cout]`.
    kernel: Param,
    /// `[cout]`.
    bias: Param,
    /// The input `x` of the last forward pass, kept for the kernel gradient `col(x)ᵀ · dY`.
    x: Option<Tensor>,
    /// The kernel as the inference path last prepared it for its engine.
    inference_kernel: Option<InferenceKernel>,
}

/// A kernel prepared for the engine ([`PreparedKernel`]), with what it was prepared from: the
/// inference path reuses it while the kernel holds the same bits and the input the same
/// geometry. Comparing the kernel (a few megabytes, and it stops at the first difference when
/// training has changed it) costs much less than transforming and packing it again.
struct InferenceKernel {
    geometry: ConvGeometry,
    kernel: Vec<f32>,
    prepared: PreparedKernel,
}

impl InferenceKernel {
    /// Whether this was prepared for geometry `g` from exactly these kernel values.
    fn fits(&self, g: &ConvGeometry, kernel: &[f32]) -> bool {
        self.geometry == *g
            && self.kernel.len() == kernel.len()
            && (self.kernel.iter().zip(kernel)).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Conv2d {
    /// A `kh × kw` convolution from `cin` to `cout` channels, Glorot-uniform kernel, zero bias.
    pub fn new(
        name: impl Into<String>,
        (kh, kw): (usize, usize),
        cin: usize,
        cout: usize,
        padding: Padding,
        rng: &mut impl Rng,
    ) -> Self {
        let kernel = glorot_uniform(&[kh, kw, cin, cout], kh * kw * cin, kh * kw * cout, rng);
        Conv2d {
            name: name.into(),
            padding,
            kernel: Param::new("kernel", kernel),
            bias: Param::new("bias", Tensor::zeros(IxDyn(&[cout]))),
            x: None,
            inference_kernel: None,
        }
    }

    /// The padding mode.
    pub fn padding(&self) -> Padding {
        self.padding
    }

    /// The kernel `[kh, kw, cin, cout]`.
    pub fn kernel(&self) -> &Tensor {
        &self.kernel.value
    }

    /// The bias `[cout]`.
    pub fn bias(&self) -> &Tensor {
        &self.bias.value
    }

    fn dims(&self) -> (usize, usize, usize, usize) {
        let s = self.kernel.value.shape();
        (s[0], s[1], s[2], s[3])
    }

    /// The geometry for one input image `[h, w, c]`, or a shape error.
    fn geometry(&self, image: &[usize]) -> Result<ConvGeometry> {
        let (kh, kw, cin, _) = self.dims();
        let expected = format!("[H, W, {cin}] with H ≥ {kh}, W ≥ {kw} for valid padding");
        if image.len() != 3 || image[2] != cin {
            return Err(shape_error(self, format!("[H, W, {cin}]"), image));
        }
        let (h, w) = (image[0], image[1]);
        // ANCHOR: same_padding
        let (pad_top, pad_left, ho, wo) = match self.padding {
            Padding::Same => ((kh - 1) / 2, (kw - 1) / 2, h, w),
            Padding::Valid => {
                if h < kh || w < kw {
                    return Err(shape_error(self, expected, image));
                }
                (0, 0, h - kh + 1, w - kw + 1)
            }
        };
        // ANCHOR_END: same_padding
        if h == 0 || w == 0 {
            return Err(shape_error(self, format!("[H ≥ 1, W ≥ 1, {cin}]"), image));
        }
        Ok(ConvGeometry {
            h,
            w,
            c: cin,
            kh,
            kw,
            pad_top,
            pad_left,
            ho,
            wo,
        })
    }

    // ANCHOR: parameter_gradients
    /// Check the upstream gradient `dy` `[N, Ho, Wo, Cout]` and store `dK` and `db` for it.
    fn parameter_gradients(&mut self, dy: &Tensor) -> Result<()> {
        let x = self.x.as_ref().ok_or_else(|| no_forward_error(self))?;
        let g = self.batch_geometry(x)?;
        let cout = self.dims().3;
        let n = x.shape()[0];
        let expected = [n, g.ho, g.wo, cout];
        if dy.shape() != expected {
            return Err(shape_error(self, expected, dy.shape()));
        }
        let dy = dy.as_standard_layout();
        let dy = dy.as_slice().expect("standard layout");

        // db[o] = Σ over batch and pixels of dy[…, o].
        let mut db = Array1::<f32>::zeros(cout);
        for row in dy.chunks(cout) {
            db.iter_mut().zip(row).for_each(|(d, v)| *d += v);
        }
        // dK̂ = col(x)ᵀ · dY, summed over the batch.
        let x = x.as_slice().expect("stored contiguous");
        let dkernel = conv_kernel_gradient(x, &g, n, dy, cout);
        self.kernel.grad =
            Tensor::from_shape_vec(self.kernel.value.raw_dim(), dkernel).expect("kernel size");
        self.bias.grad = db.into_dyn();
        Ok(())
    }
    // ANCHOR_END: parameter_gradients

    /// Check a batch `[N, H, W, Cin]` and return its geometry.
    fn batch_geometry(&self, x: &Tensor) -> Result<ConvGeometry> {
        let (_, _, cin, _) = self.dims();
        if x.ndim() != 4 || x.shape()[0] == 0 {
            return Err(shape_error(
                self,
                format!("[N ≥ 1, H, W, {cin}]"),
                x.shape(),
            ));
        }
        self.geometry(&x.shape()[1..])
    }
}

impl Layer for Conv2d {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "Conv2D"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let g = self.geometry(input)?;
        Ok(vec![g.ho, g.wo, self.dims().3])
    }

    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor, _pass: Pass) -> Result<Tensor> {
        let g = self.batch_geometry(x)?;
        let (_, _, _, cout) = self.dims();
        let n = x.shape()[0];
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout");
        let kernel = self.kernel.value.as_slice().expect("contiguous");
        let bias = self.bias.value.as_slice().expect("contiguous");
        // y = col(x) · K̂ + b, image by image.
        let y = conv_forward(xs, &g, n, kernel, cout, Some(bias));
        // Keep x for the kernel gradient (into last step's copy when the shape is unchanged).
        self.x = Some(copy_reusing(self.x.take(), xs, x.shape()));
        Ok(Tensor::from_shape_vec(IxDyn(&[n, g.ho, g.wo, cout]), y).expect("output size"))
    }
    // ANCHOR_END: forward

    /// Keeps no copy of `x`, and applies the following layers' per-channel maps to each band
    /// of the output as it is computed ([`crate::nn::engine::conv_forward_then`]).
    fn infer(&mut self, x: Tensor) -> Result<Tensor> {
        self.infer_then(x, &[])
    }

    /// The kernel is prepared for its engine once and kept (a [`PreparedKernel`]) until the
    /// weights or the input size change.
    fn infer_then(&mut self, x: Tensor, then: &[ChannelMap]) -> Result<Tensor> {
        let g = self.batch_geometry(&x)?;
        let (_, _, _, cout) = self.dims();
        check_maps((self.name(), self.kind()), cout, then)?;
        self.x = None;
        let n = x.shape()[0];
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout");
        let kernel = self.kernel.value.as_slice().expect("contiguous");
        let bias = self.bias.value.as_slice().expect("contiguous");
        let current = (self.inference_kernel.take()).filter(|kept| kept.fits(&g, kernel));
        let kept = current.unwrap_or_else(|| InferenceKernel {
            geometry: g,
            kernel: kernel.to_vec(),
            prepared: PreparedKernel::new(&g, kernel, cout),
        });
        let y = conv_forward_prepared(xs, &g, n, &kept.prepared, Some(bias), then);
        self.inference_kernel = Some(kept);
        Ok(Tensor::from_shape_vec(IxDyn(&[n, g.ho, g.wo, cout]), y).expect("output size"))
    }

    // ANCHOR: backward
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        self.parameter_gradients(dy)?;
        let x = self.x.as_ref().ok_or_else(|| no_forward_error(self))?;
        let g = self.batch_geometry(x)?;
        let (_, _, cin, cout) = self.dims();
        let n = x.shape()[0];
        let dy = dy.as_standard_layout();
        let dy = dy.as_slice().expect("standard layout");
        let kernel = self.kernel.value.as_slice().expect("contiguous");
        // dx = dy convolved with the flipped kernel, padded by (kh−1−pt, kw−1−pl).
        let dx = conv_input_gradient(dy, &g, n, kernel, (cin, cout));
        Ok(Tensor::from_shape_vec(IxDyn(&[n, g.h, g.w, g.c]), dx).expect("input size"))
    }
    // ANCHOR_END: backward

    fn backward_params_only(&mut self, dy: &Tensor) -> Result<()> {
        self.parameter_gradients(dy)
    }

    fn params(&self) -> Vec<&Param> {
        vec![&self.kernel, &self.bias]
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![&mut self.kernel, &mut self.bias]
    }
}
