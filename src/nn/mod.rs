//! The layer library: every building block of the paper's network, written by hand.
//!
//! Each file holds one layer with its `forward` and `backward` and the equations in its doc
//! comment. Read them in this order: [`dense`], [`relu`], [`softmax_cross_entropy`],
//! [`reference::conv2d`] then [`im2col`], [`gemm`] and [`conv2d`], [`batch_norm`], [`max_pool`],
//! [`dropout`], [`flatten`], and finally [`sequential`], which chains them. [`conv2d_avx2`] is
//! the convolution's fast path (chapter 13 of the book), and [`parallel_output`] the helper with
//! which layers write their outputs in parallel.

pub mod batch_norm;
pub mod conv2d;
pub mod conv2d_avx2;
pub mod dense;
pub mod dropout;
pub mod flatten;
pub mod gemm;
pub mod im2col;
pub mod init;
pub mod layer;
pub mod max_pool;
pub mod parallel_output;
pub mod reference;
pub mod relu;
pub mod sequential;
pub mod softmax_cross_entropy;

pub use batch_norm::BatchNorm;
pub use conv2d::{Conv2d, Padding};
pub use dense::Dense;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use layer::{Layer, Mode, Param, Tensor};
pub use max_pool::MaxPool2d;
pub use relu::Relu;
pub use sequential::Sequential;
pub use softmax_cross_entropy::{softmax, SoftmaxCrossEntropy};
