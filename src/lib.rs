//! # lumbar-cnn
//!
//! A from-scratch, educational deep-learning framework that reproduces, end to end, the study
//! *Deep Learning-Based Lumbar Spinal Canal Stenosis Classification Using MRI Scans*
//! (García de Celis & Bukaita, Medical Research Archives 13(7), 2025).
//!
//! The crate has two halves:
//! - the **framework**: hand-written layers (`nn`) with explicit `forward` and `backward`,
//!   optimisers (`optim`) and a finite-difference gradient checker (`gradcheck`);
//! - the **study**: DICOM data, the paper's network, training, evaluation and figures.
//!
//! Tensors are `ndarray` arrays of `f32` in NHWC layout (batch, height, width, channels), as in
//! Keras, whose defaults we match wherever the paper is silent.

pub mod atomic_write;
pub mod book_examples;
pub mod cli;
pub mod csv_lines;
pub mod dicom;
pub mod error;
pub mod experiment;
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
pub mod train;

pub use error::{Error, Result};
pub use recycling_allocator::RecyclingAllocator;
