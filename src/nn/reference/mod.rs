//! Reference implementations: every layer's forward and backward pass as its definition, in
//! plain loops over plain arrays — no threads, no blocks, no `unsafe`.
//!
//! They are slow on purpose and exist to be read first and to be tested against: each file's
//! tests hold the layer of the same name (the fast version) equal to its reference, on shapes
//! that reach every branch of the fast code (several parallel blocks, odd sizes, a remainder).

pub mod batch_norm;
pub mod conv2d;
pub mod dense;
pub mod dropout;
pub mod max_pool;
pub mod relu;
pub mod softmax_cross_entropy;
