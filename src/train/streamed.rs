//! Training images read from their PNG files batch by batch, with the balancing augmentation
//! drawn on the fly, so a run holds only the batches in flight, not the dataset.
//!
//! `prepare` writes every kept slice once, as an 8-bit grayscale PNG of the network's input
//! size (64 KiB of pixels at 256×256). A [`StreamedDataset`] lists those files with their
//! labels and, for each balancing copy, which augmentation to draw. Its [`Dataset::batch`]
//! decodes the batch's PNGs in parallel, applies the augmentation of each copy (the Keras
//! `ImageDataGenerator` maths of [`crate::prepare::augment()`]), rounds to 8 bits as a written
//! copy would be, replicates the gray value to the network's three channels and scales by
//! 1/255: the same numbers as the PNG of a written copy loaded by Keras'
//! `image_dataset_from_directory` with `Rescaling(1/255)`.
//!
//! **Why PNG and not a packed raw file.** Decoding a 256×256 gray PNG takes well under a
//! millisecond, while a training step of the paper's network takes about a quarter of a second
//! per image on two cores, so decoding is a fraction of a percent of a step (`cargo bench
//! --bench data_loader` measures both); the PNGs are also the files a student opens to look at
//! the data. The loader runs ahead of the step on a background thread ([`super::prefetch`]).
//!
//! **Reproducibility.** A copy's augmentation comes from `(seed, draw)` — or
//! `(seed, epoch, draw)` for copies drawn afresh every epoch — through [`crate::seed`], never
//! from the order or the thread that decodes it, so the same seed gives the same batches on
//! any number of threads.

use super::dataset::Dataset;
use crate::error::{Error, Result};
use crate::nn::Tensor;
use crate::prepare::augment::{augment, AugmentParams, Augmentation};
use crate::prepare::image_ops::{read_gray_png, to_u8};
use crate::prepare::LabelledImage;
use crate::seed::{mix_seed, stream_seed};
use ndarray::{Array2, Array4, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;

/// Images streamed from PNG files (see the module doc): memory use is one batch, whatever the
/// number of images.
pub struct StreamedDataset {
    images: Vec<LabelledImage>,
    labels: Vec<usize>,
    size: usize,
    seed: u64,
}

impl StreamedDataset {
    /// A dataset of `images`, each a `size × size` PNG (for a copy: the PNG it is drawn from),
    /// with augmentations drawn from `seed` (a prepared folder's
    /// [`PreparedDataset::augment_seed`](crate::prepare::PreparedDataset)).
    pub fn new(images: Vec<LabelledImage>, size: usize, seed: u64) -> Result<Self> {
        if size == 0 {
            return Err(Error::invalid(
                "a streamed dataset needs an image size of at least 1",
            ));
        }
        let labels = images.iter().map(|image| image.label.index()).collect();
        Ok(StreamedDataset {
            images,
            labels,
            size,
            seed,
        })
    }

    /// The images, in index order.
    pub fn images(&self) -> &[LabelledImage] {
        &self.images
    }

    /// Side of the images, pixels.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The seed a copy's augmentation is drawn from in `epoch`.
    fn draw_seed(&self, augmentation: Augmentation, epoch: usize) -> Option<u64> {
        match augmentation {
            Augmentation::None => None,
            Augmentation::Fixed { draw } => Some(stream_seed(self.seed, draw)),
            Augmentation::PerEpoch { draw } => {
                Some(stream_seed(mix_seed(self.seed, epoch as u64), draw))
            }
        }
    }

    /// Image `index` as the network's 8-bit gray input in `epoch`: its PNG, augmented if it is
    /// a copy. Errors name the file; a PNG of another size than the dataset's is refused (it
    /// belongs to a folder prepared for another `--image-size`).
    pub fn gray_image(&self, index: usize, epoch: usize) -> Result<Array2<u8>> {
        let image = self.images.get(index).ok_or_else(|| {
            Error::invalid(format!(
                "image index {index} out of range for a dataset of {} images",
                self.images.len()
            ))
        })?;
        let gray = read_gray_png(&image.path)?;
        if gray.dim() != (self.size, self.size) {
            return Err(Error::format(
                image.path.display(),
                format!(
                    "the image is {}×{} pixels, not {}×{}: it was prepared for another --image-size",
                    gray.ncols(),
                    gray.nrows(),
                    self.size,
                    self.size
                ),
            ));
        }
        Ok(match self.draw_seed(image.augmentation, epoch) {
            None => gray,
            Some(seed) => {
                let pixels = gray.mapv(f32::from);
                let mut rng = StdRng::seed_from_u64(seed);
                to_u8(augment(pixels.view(), &mut rng).view())
            }
        })
    }

    /// The augmentation parameters copy `index` gets in `epoch` (`None` for an original), for
    /// figures and tests; the same draw [`StreamedDataset::gray_image`] makes.
    pub fn augment_params(&self, index: usize, epoch: usize) -> Option<AugmentParams> {
        let image = self.images.get(index)?;
        let seed = self.draw_seed(image.augmentation, epoch)?;
        Some(AugmentParams::sample(
            &mut StdRng::seed_from_u64(seed),
            self.size,
            self.size,
        ))
    }
}

impl Dataset for StreamedDataset {
    fn len(&self) -> usize {
        self.images.len()
    }

    fn labels(&self) -> &[usize] {
        &self.labels
    }

    fn batch(&self, indices: &[usize], epoch: usize) -> Result<Tensor> {
        let grays: Vec<Array2<u8>> = indices
            .par_iter()
            .map(|&index| self.gray_image(index, epoch))
            .collect::<Result<_>>()?;
        let mut batch = Array4::<f32>::zeros((indices.len(), self.size, self.size, 3));
        for (mut out, gray) in batch.axis_iter_mut(Axis(0)).zip(&grays) {
            for channel in 0..3 {
                out.index_axis_mut(Axis(2), channel)
                    .zip_mut_with(gray, |o, &g| *o = f32::from(g) / 255.0);
            }
        }
        Ok(batch.into_dyn())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::image_ops::write_gray_png;
    use std::path::PathBuf;

    /// An empty scratch folder of this test process.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lumbar-streamed-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_images(dir: &std::path::Path, count: usize, size: usize) -> Vec<PathBuf> {
        (0..count)
            .map(|i| {
                let path = dir.join(format!("{i}.png"));
                let image = Array2::from_shape_fn((size, size), |(r, c)| {
                    ((r * 7 + c * 3 + i * 11) % 256) as u8
                });
                write_gray_png(&path, image.view()).unwrap();
                path
            })
            .collect()
    }

    fn dataset(paths: &[PathBuf], size: usize) -> StreamedDataset {
        let images = paths
            .iter()
            .enumerate()
            .map(|(i, path)| LabelledImage {
                path: path.clone(),
                label: crate::rsna::Severity::ALL[i % 3],
                augmentation: match i % 3 {
                    0 => Augmentation::None,
                    1 => Augmentation::Fixed { draw: i as u64 },
                    _ => Augmentation::PerEpoch { draw: i as u64 },
                },
            })
            .collect();
        StreamedDataset::new(images, size, 9).unwrap()
    }

    #[test]
    fn originals_are_the_png_scaled_and_replicated() {
        let dir = scratch("originals");
        let paths = write_images(&dir, 3, 8);
        let data = dataset(&paths, 8);
        let batch = data.batch(&[0], 1).unwrap();
        let png = read_gray_png(&paths[0]).unwrap();
        assert_eq!(batch.shape(), &[1, 8, 8, 3]);
        for ((r, c), &v) in png.indexed_iter() {
            for channel in 0..3 {
                assert_eq!(batch[[0, r, c, channel]], f32::from(v) / 255.0);
            }
        }
    }

    #[test]
    fn fixed_copies_repeat_and_per_epoch_copies_change() {
        let dir = scratch("fixed");
        let paths = write_images(&dir, 3, 16);
        let data = dataset(&paths, 16);
        assert_eq!(
            data.gray_image(1, 1).unwrap(),
            data.gray_image(1, 2).unwrap()
        );
        assert_ne!(
            data.gray_image(2, 1).unwrap(),
            data.gray_image(2, 2).unwrap()
        );
        assert_eq!(
            data.gray_image(2, 3).unwrap(),
            data.gray_image(2, 3).unwrap()
        );
        assert_ne!(
            data.gray_image(1, 1).unwrap(),
            read_gray_png(&paths[1]).unwrap()
        );
        assert!(data.augment_params(0, 1).is_none());
        assert!(data.augment_params(2, 1).is_some());
    }

    #[test]
    fn a_fixed_copy_is_the_image_prepare_wrote_before_streaming() {
        // Until streaming, `prepare` wrote copy k as to_u8(augment(png, StdRng(stream_seed(s, k)))).
        let dir = scratch("written");
        let paths = write_images(&dir, 2, 12);
        let data = dataset(&paths, 12);
        let png = read_gray_png(&paths[1]).unwrap().mapv(f32::from);
        let mut rng = StdRng::seed_from_u64(stream_seed(9, 1));
        let written = to_u8(augment(png.view(), &mut rng).view());
        assert_eq!(data.gray_image(1, 5).unwrap(), written);
    }

    #[test]
    fn a_png_of_another_size_and_a_missing_file_are_refused_by_name() {
        let dir = scratch("refused");
        let paths = write_images(&dir, 2, 10);
        let data = dataset(&paths, 12);
        let error = data.batch(&[0], 1).unwrap_err().to_string();
        assert!(
            error.contains("0.png") && error.contains("10×10"),
            "{error}"
        );
        std::fs::remove_file(&paths[1]).unwrap();
        let error = dataset(&paths, 10).batch(&[1], 1).unwrap_err().to_string();
        assert!(error.contains("1.png"), "{error}");
        let error = dataset(&paths, 10).batch(&[7], 1).unwrap_err().to_string();
        assert!(error.contains("out of range"), "{error}");
    }
}
