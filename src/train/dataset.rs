//! Where training batches come from.
//!
//! [`Dataset`] hands out batches of images by index, so the training loop can shuffle
//! indices without touching pixels. [`InMemoryDataset`] holds every image in one tensor; an
//! augmenting dataset can instead build each image on the fly from `(seed, epoch, index)`.

use crate::error::{Error, Result};
use crate::nn::Tensor;
use ndarray::Axis;

/// A labelled set of images the training loop can draw batches from.
pub trait Dataset: Sync {
    /// Number of images.
    fn len(&self) -> usize;

    /// Whether there is no image at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class label of every image, in index order.
    fn labels(&self) -> &[usize];

    /// The images at `indices`, as one `[indices.len(), H, W, C]` tensor. `epoch` lets an
    /// augmenting dataset draw different (but reproducible) transformations each epoch.
    fn batch(&self, indices: &[usize], epoch: usize) -> Result<Tensor>;
}

/// Every image in memory: `images[N, H, W, C]` with one label each.
pub struct InMemoryDataset {
    images: Tensor,
    labels: Vec<usize>,
}

impl InMemoryDataset {
    /// Wrap `images` (`[N, H, W, C]`) and their `labels` (`N` of them).
    pub fn new(images: Tensor, labels: Vec<usize>) -> Result<Self> {
        if images.ndim() != 4 || images.shape()[0] != labels.len() {
            return Err(Error::shape(
                "InMemoryDataset",
                format!("[{}, H, W, C] for {} labels", labels.len(), labels.len()),
                images.shape(),
            ));
        }
        Ok(InMemoryDataset { images, labels })
    }

    /// All images `[N, H, W, C]`.
    pub fn images(&self) -> &Tensor {
        &self.images
    }
}

impl Dataset for InMemoryDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn labels(&self) -> &[usize] {
        &self.labels
    }

    fn batch(&self, indices: &[usize], _epoch: usize) -> Result<Tensor> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.labels.len()) {
            return Err(Error::invalid(format!(
                "image index {bad} out of range for a dataset of {} images",
                self.labels.len()
            )));
        }
        Ok(self.images.select(Axis(0), indices))
    }
}
