//! The network of the article, layer for layer (the article, and the authors' notebook
//! `ImageClassification.ipynb`, cell 23, which shows exactly which layers ran).
//!
//! ```text
//! input [S, S, 3]
//! 5 × block b = 1…5 with f = 32, 64, 128, 256, 512 filters:
//!     Conv2D f 3×3 same → ReLU → BatchNorm → Conv2D f 3×3 same → ReLU → BatchNorm
//!     → MaxPool 2×2 → Dropout 0.25
//! Flatten [S/32 · S/32 · 512]
//! Dense 512 → ReLU → BatchNorm → Dropout 0.5
//! Dense 256 → ReLU → BatchNorm → Dropout 0.5
//! Dense 3   (softmax is applied by the loss and by `predict`)
//! ```
//!
//! The ReLU is each convolution's own activation in Keras, so it comes *before* batch norm.
//! Layer names follow Keras' automatic naming (`conv2d`, `conv2d_1`, …), which is also the
//! naming of the tensors in a checkpoint. At 256×256 the totals match Keras: 21,627,555
//! trainable and 5,504 non-trainable parameters.

use crate::error::{Error, Result};
use crate::nn::{BatchNorm, Conv2d, Dense, Dropout, Flatten, MaxPool2d, Padding, Relu, Sequential};
use crate::seed::mix_seed;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Filters of the five convolution blocks.
pub const BLOCK_FILTERS: [usize; 5] = [32, 64, 128, 256, 512];
/// Units of the two hidden dense layers.
pub const DENSE_UNITS: [usize; 2] = [512, 256];
/// Dropout after each convolution block.
pub const CONV_DROPOUT: f32 = 0.25;
/// Dropout after each hidden dense layer.
pub const DENSE_DROPOUT: f32 = 0.5;
/// Output classes: 0 Moderate, 1 Normal/Mild, 2 Severe (the article's Table 1).
pub const CLASSES: usize = 3;
/// Input channels: the grayscale slice replicated to RGB, as the notebook loaded it.
pub const CHANNELS: usize = 3;
/// Smallest input side: five 2×2 poolings need at least 32 pixels.
pub const MIN_IMAGE_SIZE: usize = 32;

/// What is needed to rebuild the network: saved as JSON beside every checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    /// Always `"paper_cnn"`.
    pub name: String,
    /// Input height = width, in pixels.
    pub image_size: usize,
    /// Input channels (3).
    pub channels: usize,
    /// Output classes (3).
    pub classes: usize,
}

impl Architecture {
    /// The paper's network for `image_size × image_size × 3` inputs.
    pub fn paper(image_size: usize) -> Self {
        Architecture {
            name: "paper_cnn".to_string(),
            image_size,
            channels: CHANNELS,
            classes: CLASSES,
        }
    }

    /// Build the network this describes, initialised from `seed`.
    pub fn build(&self, seed: u64) -> Result<Sequential> {
        if self.name != "paper_cnn" || self.channels != CHANNELS || self.classes != CLASSES {
            return Err(Error::invalid(format!(
                "unknown architecture {:?} (this crate builds paper_cnn with {CHANNELS} channels and {CLASSES} classes)",
                self
            )));
        }
        paper_cnn(self.image_size, seed)
    }
}

/// Keras' automatic layer names: the first `conv2d`, then `conv2d_1`, `conv2d_2`, …
struct Namer {
    counts: std::collections::HashMap<&'static str, usize>,
}

impl Namer {
    fn next(&mut self, base: &'static str) -> String {
        let count = self.counts.entry(base).or_insert(0);
        let name = if *count == 0 {
            base.to_string()
        } else {
            format!("{base}_{count}")
        };
        *count += 1;
        name
    }
}

/// The article's CNN for `image_size × image_size × 3` images, weights drawn from `seed`
/// (Glorot-uniform kernels, zero biases; dropout masks seeded from it too).
pub fn paper_cnn(image_size: usize, seed: u64) -> Result<Sequential> {
    if image_size < MIN_IMAGE_SIZE {
        return Err(Error::invalid(format!(
            "image size {image_size} is too small for the paper's network: five 2×2 poolings need at least {MIN_IMAGE_SIZE} pixels"
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut names = Namer {
        counts: Default::default(),
    };
    let mut model = Sequential::new("paper_cnn", &[image_size, image_size, CHANNELS]);
    let mut dropout_index = 0u64;
    let mut dropout = |names: &mut Namer, rate: f32| {
        dropout_index += 1;
        Dropout::new(names.next("dropout"), rate, mix_seed(seed, dropout_index))
    };

    // ANCHOR: blocks
    let mut channels = CHANNELS;
    for filters in BLOCK_FILTERS {
        for _ in 0..2 {
            let conv = Conv2d::new(
                names.next("conv2d"),
                (3, 3),
                channels,
                filters,
                Padding::Same,
                &mut rng,
            );
            model.push(conv)?;
            model.push(Relu::new(names.next("re_lu")))?;
            model.push(BatchNorm::new(names.next("batch_normalization"), filters))?;
            channels = filters;
        }
        model.push(MaxPool2d::new(names.next("max_pooling2d")))?;
        model.push(dropout(&mut names, CONV_DROPOUT)?)?;
    }
    model.push(Flatten::new(names.next("flatten")))?;
    let mut features = model.output_shape()?[0];
    for units in DENSE_UNITS {
        model.push(Dense::new(names.next("dense"), features, units, &mut rng))?;
        model.push(Relu::new(names.next("re_lu")))?;
        model.push(BatchNorm::new(names.next("batch_normalization"), units))?;
        model.push(dropout(&mut names, DENSE_DROPOUT)?)?;
        features = units;
    }
    model.push(Dense::new(names.next("dense"), features, CLASSES, &mut rng))?;
    // ANCHOR_END: blocks
    Ok(model)
}
