//! The engine: the speed machinery the layers call by name.
//!
//! A layer file ([`super::relu`], [`super::conv2d`], …) holds the layer's mathematics: its
//! equations, its caches and a `forward`/`backward` that read like them. Whatever exists only to
//! make those equations fast lives here, behind functions with plain names, so a student can
//! read the layers first and this folder later (chapter 13 of the book):
//!
//! - [`parallel`]: a fresh output written once in parallel, in fixed blocks (never zeroed
//!   first), blocks handed out per image, a parallel copy that reuses last step's buffer, and
//!   the in-order sum of partial results;
//! - [`channel_sums`]: batch normalisation's per-channel sums in `f64`, block by block;
//! - [`gemm`]: a safe wrapper around `matrixmultiply`'s matrix product, serial and parallel;
//! - [`im2col`]: the im2col matrix and the [`ConvGeometry`] of a convolution;
//! - [`bands`]: how a convolution's output rows are cut into cache-sized bands;
//! - [`conv`]: the convolution's forward pass, input gradient and kernel gradient
//!   ([`conv_forward`], [`conv_input_gradient`], [`conv_kernel_gradient`]) and which engine a
//!   shape takes ([`conv_engine`]);
//! - [`micro_kernel_avx2`]: the AVX2/FMA micro-kernel, and how the fast path works;
//! - [`micro_kernel_avx512`]: the AVX-512 micro-kernel, the same path in 512-bit registers;
//! - [`implicit_im2col`]: what both micro-kernels share (kernel packing, im2col rows read in
//!   place, blocks, border strips) and which of them a process uses;
//! - [`implicit_kernel_gradient`]: the kernel gradient with im2col rows read in place and a
//!   micro-kernel that keeps a tile of the gradient in registers.
//!
//! Every function here gives the same bits on any number of threads: work is cut into blocks
//! that depend on the shapes only, and sums over blocks are added in block order.
//!
//! The engine never imports a layer; layers import the engine.

pub mod bands;
pub mod channel_maps;
pub mod channel_sums;
pub mod conv;
pub mod fma_peak;
pub mod gemm;
pub mod im2col;
pub mod implicit_im2col;
pub mod implicit_kernel_gradient;
pub mod micro_kernel_avx2;
pub mod micro_kernel_avx512;
pub mod parallel;
pub mod winograd;
pub mod winograd_kernel_gradient;

pub use conv::{
    conv_engine, conv_engine_name, conv_forward, conv_forward_on, conv_forward_prepared,
    conv_forward_then, conv_input_gradient, conv_input_gradient_on, conv_kernel_gradient,
    ConvEngine, PreparedKernel,
};
pub use im2col::ConvGeometry;
