//! # lumbar-cnn
//!
//! A from-scratch, educational deep-learning framework that reproduces, end to end, the study
//! *Deep Learning-Based Lumbar Spinal Canal Stenosis Classification Using MRI Scans*
//! (García de Celis & Bukaita, Medical Research Archives 13(7), 2025): DICOM files → disc
//! levels → PNG images → augmentation → the article's CNN → confusion matrix.
//!
//! Tensors are `ndarray` arrays of `f32` in NHWC layout (batch, height, width, channels), as in
//! Keras, whose defaults we match wherever the article is silent. The book in `book/` walks
//! through the same modules, one chapter each, in this order.
//!
//! ## The modules in pipeline order
//!
//! **The data** (book, part I):
//! 1. [`dicom`]: reading one MRI slice — its header ([`dicom::SliceHeader`]), its pixels
//!    ([`dicom::read_slice`]), and the checks that refuse a damaged file ([`dicom::validate`]).
//! 2. [`rsna`]: the Kaggle download's CSV files and folders, and the one class type
//!    [`rsna::Severity`] in the article's Table 1 order; [`synth`] writes a synthetic dataset
//!    in the same layout, graded by the dural-sac area (the default data of every command).
//! 3. [`levels`]: which disc level each axial slice shows (a hand-written K-Means).
//! 4. [`prepare`]: slices → labelled 8-bit PNGs, the split by study, the Keras-style
//!    augmentation, the manifest.
//!
//! **The framework** (part II):
//! 5. [`nn`]: the layers — start with [`nn::layer`] (the contract every layer follows), then
//!    each layer file next to its plain version in [`nn::reference`]; [`nn::engine`] holds the
//!    speed machinery the layers call by name.
//! 6. [`gradcheck`]: finite differences, the test every backward pass passes.
//! 7. [`optim`] (Adam, SGD) and [`train`] (the Keras-style `fit` loop, early stopping, resume).
//!
//! **The study** (part III):
//! 8. [`model`]: the article's network ([`model::paper_cnn()`]), checkpoints, inference.
//! 9. [`metrics`]: confusion matrix, precision / recall / F1, the RSNA 2024 score.
//! 10. [`experiment`]: the whole study as one job (`lumbar run`), its report, `predict`.
//! 11. [`plot`]: every figure as a PNG; [`cli`]: the `lumbar` subcommands.
//!
//! Small shared pieces: [`seed`] (one seed drives every random choice), [`atomic_write`]
//! (nothing half-written), [`csv_lines`] (line numbers in CSV errors), [`error`],
//! [`recycling_allocator`] (a training step's memory reused), [`book_examples`] (what the
//! chapter examples share).
//!
//! **Where to start reading:** [`nn::layer`], then [`nn::reference::relu`] beside
//! [`nn::relu`], and [`nn::sequential`]; or run `cargo run --release` and follow
//! [`experiment::run()`].

pub mod atomic_write;
pub mod book_examples;
pub mod cli;
pub mod cpu;
pub mod csv_lines;
pub mod dicom;
pub mod error;
pub mod experiment;
pub mod explain;
pub mod gradcheck;
pub mod levels;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod optim;
pub mod plot;
pub mod prepare;
pub mod recycling_allocator;
pub mod rsna;
pub mod seed;
pub mod synth;
pub mod test_notice;
pub mod train;

pub use error::{Error, Result};
pub use recycling_allocator::RecyclingAllocator;
