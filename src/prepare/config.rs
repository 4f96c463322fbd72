//! The settings of `lumbar prepare` ([`PrepareConfig`]): the pipeline, the input digest and the
//! command line all read them, so they live on their own.

use super::protocol::Protocol;
use super::split::SplitFractions;
use crate::error::{Error, Result};
use std::path::PathBuf;

/// Everything `lumbar prepare` needs.
#[derive(Debug, Clone)]
pub struct PrepareConfig {
    /// The RSNA-layout folder (`--data`).
    pub data_dir: PathBuf,
    /// The output folder (`--out`).
    pub out_dir: PathBuf,
    /// Side of the square PNGs, pixels (`--image-size`, default 256).
    pub image_size: usize,
    /// Honest (default) or paper.
    pub protocol: Protocol,
    /// The one seed of every random choice (K-Means, split, augmentation).
    pub seed: u64,
    /// Train / val / test fractions (default 70/20/10).
    pub fractions: SplitFractions,
    /// Write augmented copies that bring every class up to the majority count.
    pub balance: bool,
    /// Show progress bars and print warnings as they come (the CLI); tests turn it off.
    pub verbose: bool,
}

impl PrepareConfig {
    /// The defaults of the command line: 256 px, honest, seed 42, 70/20/10, balanced, quiet.
    pub fn new(data_dir: impl Into<PathBuf>, out_dir: impl Into<PathBuf>) -> PrepareConfig {
        PrepareConfig {
            data_dir: data_dir.into(),
            out_dir: out_dir.into(),
            image_size: 256,
            protocol: Protocol::Honest,
            seed: 42,
            fractions: SplitFractions::default(),
            balance: true,
            verbose: false,
        }
    }

    /// Refuse an image size out of range or split fractions that do not add up.
    pub(super) fn validate(&self) -> Result<()> {
        if !(8..=4096).contains(&self.image_size) {
            return Err(Error::invalid(format!(
                "--image-size {} is out of range (8 to 4096)",
                self.image_size
            )));
        }
        self.fractions.validate()
    }
}
