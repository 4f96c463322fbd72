//! `lumbar prepare`: from an RSNA-layout folder (CSV + DICOM) to a labelled PNG dataset with a
//! manifest, train/val/test splits and a class-balanced training set.
//!
//! The stages (each with a progress bar) are in [`pipeline`]; the pieces they use are here:
//! image operations, the Keras-style augmentation, splits, the manifest and its loaders, the
//! fingerprint of the inputs ([`input_digest`](mod@input_digest)) and the build-beside-and-swap of the output
//! folder ([`staging`]).

pub mod augment;
pub mod config;
pub mod figure;
pub mod image_ops;
pub mod input_digest;
pub mod manifest;
pub mod pipeline;
pub mod protocol;
pub mod sac_regions;
pub mod split;
pub mod staging;
pub mod summary;

pub use augment::{augment, AugmentParams, Augmentation};
pub use config::PrepareConfig;
pub use input_digest::{input_digest, InputDigest};
pub use manifest::{load_images, load_prepared, LabelledImage, ManifestRow, PreparedDataset};
pub use pipeline::run;
pub use protocol::Protocol;
pub use split::{Split, SplitFractions};
pub use summary::PrepareSummary;
