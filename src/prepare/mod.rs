//! `lumbar prepare`: from an RSNA-layout folder (CSV + DICOM) to a labelled PNG dataset with a
//! manifest, train/val/test splits and a class-balanced training set.
//!
//! The stages (each with a progress bar) are in [`pipeline`]; the pieces they use are here:
//! image operations, the Keras-style augmentation, splits, the manifest and its loaders.

pub mod augment;
pub mod figure;
pub mod image_ops;
pub mod manifest;
pub mod pipeline;
pub mod split;
pub mod summary;

pub use augment::{augment, AugmentParams};
pub use manifest::{load_images, load_prepared, LabelledImage, ManifestRow, PreparedDataset};
pub use pipeline::{run, PrepareConfig, Protocol};
pub use split::{Split, SplitFractions};
pub use summary::PrepareSummary;

/// A sub-seed for stream `stream` of the run seeded with `seed` (SplitMix64 finaliser of
/// `seed ^ golden·stream`): different streams get unrelated seeds, the same inputs always the
/// same one, whatever the number of threads.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
