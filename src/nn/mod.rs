//! The layer library: every building block of the paper's network, written by hand.
//!
//! Each layer file holds one layer: its equations in the module doc, its caches named after the
//! math, and a `forward` and `backward` to read against those equations. Read them in this
//! order: [`layer`] (the contract), [`dense`], [`relu`], [`softmax_cross_entropy`], [`conv2d`],
//! [`batch_norm`], [`max_pool`], [`dropout`], [`flatten`], and finally [`sequential`], which
//! chains them.
//!
//! Beside them, [`reference`](mod@reference) holds the same layers as plain loops (the definitions, slow and
//! obvious), which the tests hold the layers equal to; [`engine`] holds the speed machinery the
//! layers call by name (parallel blocks, GEMM, im2col bands, the AVX2 micro-kernel; chapter 13
//! of the book).

pub mod batch_norm;
pub mod conv2d;
pub mod dense;
pub mod dropout;
pub mod engine;
pub mod flatten;
pub mod init;
pub mod layer;
pub mod max_pool;
pub mod reference;
pub mod relu;
pub mod sequential;
pub mod softmax_cross_entropy;

pub use batch_norm::BatchNorm;
pub use conv2d::{Conv2d, Padding};
pub use dense::Dense;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use layer::{Layer, Param, Pass, State, Tensor};
pub use max_pool::MaxPool2d;
pub use relu::Relu;
pub use sequential::Sequential;
pub use softmax_cross_entropy::{softmax, SoftmaxCrossEntropy};
