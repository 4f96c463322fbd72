//! The Keras `ImageDataGenerator` augmentation the authors used (their notebook
//! `ImageClassification.ipynb`, section "Augment Data"):
//! `width_shift_range=0.1, height_shift_range=0.1, zoom_range=0.1, horizontal_flip=True,
//! fill_mode='nearest'`.
//!
//! For an output pixel `(r, c)` the warp samples the input at
//! `(zr·(r − cr) + cr + tr,  zc·(c − cc) + cc + tc)`, where `(cr, cc)` is the image centre
//! `((h−1)/2, (w−1)/2)`, `t = U(−0.1, 0.1)·size` per axis and `z = U(0.9, 1.1)` per axis
//! independently (so a factor above 1 shows a larger area: it zooms *out*). Sampling is
//! bilinear; points outside the image take the nearest edge value. The horizontal flip
//! (probability 0.5) comes after the warp.

use ndarray::{Array2, ArrayView2};
use rand::Rng;

// ANCHOR: ranges
/// Keras `width_shift_range` / `height_shift_range`: shift up to this fraction of the size.
pub const SHIFT_RANGE: f32 = 0.1;
/// Keras `zoom_range`: zoom factors drawn from `[1 − 0.1, 1 + 0.1]`.
pub const ZOOM_RANGE: f32 = 0.1;
// ANCHOR_END: ranges

/// The seed stream of the balancing augmentation (the split and the level assignment have
/// theirs, see [`crate::prepare::pipeline`]).
pub const STREAM_AUGMENT: u64 = 2;

/// The seed the balancing copies of a preparation made with `seed` draw their augmentations
/// from.
pub fn augment_seed(seed: u64) -> u64 {
    crate::seed::stream_seed(seed, STREAM_AUGMENT)
}

/// One random draw of the augmentation: what to do to one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AugmentParams {
    /// Shift along rows (down), in pixels.
    pub shift_rows: f32,
    /// Shift along columns (right), in pixels.
    pub shift_cols: f32,
    /// Zoom factor along rows (> 1 zooms out).
    pub zoom_rows: f32,
    /// Zoom factor along columns (> 1 zooms out).
    pub zoom_cols: f32,
    /// Mirror left–right after the warp.
    pub flip: bool,
}

impl Augmentation {
    /// The word `augmented.csv` stores (`fixed` or `per-epoch`; an original has none).
    pub fn csv_word(self) -> &'static str {
        match self {
            Augmentation::None => "none",
            Augmentation::Fixed { .. } => "fixed",
            Augmentation::PerEpoch { .. } => "per-epoch",
        }
    }

    /// The augmentation named `word` (see [`Augmentation::csv_word`]) with draw number `draw`.
    pub fn from_csv_word(word: &str, draw: u64) -> Option<Augmentation> {
        match word {
            "none" => Some(Augmentation::None),
            "fixed" => Some(Augmentation::Fixed { draw }),
            "per-epoch" => Some(Augmentation::PerEpoch { draw }),
            _ => None,
        }
    }
}

impl AugmentParams {
    /// The identity: no shift, no zoom, no flip.
    pub const IDENTITY: AugmentParams = AugmentParams {
        shift_rows: 0.0,
        shift_cols: 0.0,
        zoom_rows: 1.0,
        zoom_cols: 1.0,
        flip: false,
    };

    // ANCHOR: sample
    /// Draw parameters for an image of `rows × cols` pixels, in Keras' order
    /// (row shift, column shift, row zoom, column zoom, flip).
    pub fn sample(rng: &mut impl Rng, rows: usize, cols: usize) -> AugmentParams {
        let shift_rows = rng.random_range(-SHIFT_RANGE..SHIFT_RANGE) * rows as f32;
        let shift_cols = rng.random_range(-SHIFT_RANGE..SHIFT_RANGE) * cols as f32;
        let zoom_rows = rng.random_range(1.0 - ZOOM_RANGE..1.0 + ZOOM_RANGE);
        let zoom_cols = rng.random_range(1.0 - ZOOM_RANGE..1.0 + ZOOM_RANGE);
        let flip = rng.random_bool(0.5);
        AugmentParams {
            shift_rows,
            shift_cols,
            zoom_rows,
            zoom_cols,
            flip,
        }
    }
    // ANCHOR_END: sample
}

/// Which augmentation, if any, turns an image file into a training image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Augmentation {
    /// The image as written.
    #[default]
    None,
    /// One fixed random draw, number `draw` of the dataset's seed: the same image every epoch
    /// (a copy the article's protocol writes once and then splits).
    Fixed {
        /// Index of the draw (the copy's position in `augmented.csv`).
        draw: u64,
    },
    /// A new random draw every epoch, from `(seed, epoch, draw)`: the balancing copies of the
    /// honest protocol's training split.
    PerEpoch {
        /// Index of the copy in the epoch's balancing plan.
        draw: u64,
    },
}

// ANCHOR: warp
/// Bilinear sample of `image` at `(y, x)` with `nearest` fill (coordinates clamped to the
/// image, which extends the edge pixels outwards exactly as scipy's `mode='nearest'`).
fn sample_nearest_fill(image: ArrayView2<f32>, y: f32, x: f32) -> f32 {
    let (rows, cols) = image.dim();
    let y = y.clamp(0.0, (rows - 1) as f32);
    let x = x.clamp(0.0, (cols - 1) as f32);
    let (y0, x0) = (y.floor() as usize, x.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(rows - 1), (x0 + 1).min(cols - 1));
    let (fy, fx) = (y - y0 as f32, x - x0 as f32);
    let top = image[(y0, x0)] * (1.0 - fx) + image[(y0, x1)] * fx;
    let bottom = image[(y1, x0)] * (1.0 - fx) + image[(y1, x1)] * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Apply the warp and flip of `params` to a single-channel image (see the module doc).
pub fn apply(image: ArrayView2<f32>, params: &AugmentParams) -> Array2<f32> {
    let (rows, cols) = image.dim();
    if rows == 0 || cols == 0 {
        return image.to_owned();
    }
    let (cr, cc) = ((rows as f32 - 1.0) / 2.0, (cols as f32 - 1.0) / 2.0);
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        // The flip comes after the warp: output column c shows warped column cols-1-c.
        let c = if params.flip { cols - 1 - c } else { c };
        let y = params.zoom_rows * (r as f32 - cr) + cr + params.shift_rows;
        let x = params.zoom_cols * (c as f32 - cc) + cc + params.shift_cols;
        sample_nearest_fill(image, y, x)
    })
}
// ANCHOR_END: warp

/// One random augmentation of `image` (`[rows, cols]`, any value range), drawn from `rng`.
/// Pure apart from the draw, so training code can use it on the fly.
pub fn augment(image: ArrayView2<f32>, rng: &mut impl Rng) -> Array2<f32> {
    let (rows, cols) = image.dim();
    let params = AugmentParams::sample(rng, rows, cols);
    apply(image, &params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn test_image() -> Array2<f32> {
        Array2::from_shape_fn((9, 12), |(r, c)| (r * 12 + c) as f32)
    }

    #[test]
    fn identity_keeps_the_image() {
        let img = test_image();
        assert_eq!(apply(img.view(), &AugmentParams::IDENTITY), img);
    }

    #[test]
    fn flip_mirrors_columns() {
        let img = test_image();
        let params = AugmentParams {
            flip: true,
            ..AugmentParams::IDENTITY
        };
        let out = apply(img.view(), &params);
        assert_eq!(out[(2, 0)], img[(2, 11)]);
        assert_eq!(out[(5, 7)], img[(5, 4)]);
    }

    #[test]
    fn integer_shift_moves_content_and_fills_with_edge() {
        let img = test_image();
        let params = AugmentParams {
            shift_cols: 2.0,
            ..AugmentParams::IDENTITY
        };
        let out = apply(img.view(), &params);
        // Output column c shows input column c + 2; past the edge, the last column repeats.
        assert_eq!(out[(3, 0)], img[(3, 2)]);
        assert_eq!(out[(3, 10)], img[(3, 11)]);
        assert_eq!(out[(3, 11)], img[(3, 11)]);
    }

    #[test]
    fn zoom_above_one_shows_a_larger_area() {
        let img = test_image();
        let params = AugmentParams {
            zoom_cols: 1.1,
            zoom_rows: 1.1,
            ..AugmentParams::IDENTITY
        };
        let out = apply(img.view(), &params);
        // Corners move outwards in the source, so they clamp to the source corners.
        assert_eq!(out[(0, 0)], img[(0, 0)]);
        // A pixel left of centre samples further left than itself.
        assert!(out[(4, 2)] < img[(4, 2)]);
    }

    #[test]
    fn random_draws_stay_in_range_and_are_seeded() {
        let img = test_image();
        let a = augment(img.view(), &mut StdRng::seed_from_u64(5));
        let b = augment(img.view(), &mut StdRng::seed_from_u64(5));
        assert_eq!(a, b);
        let max = img.iter().cloned().fold(f32::MIN, f32::max);
        assert!(a.iter().all(|&v| (0.0..=max).contains(&v)));
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..200 {
            let p = AugmentParams::sample(&mut rng, 100, 50);
            assert!(p.shift_rows.abs() <= 10.0 && p.shift_cols.abs() <= 5.0);
            assert!((0.9..=1.1).contains(&p.zoom_rows) && (0.9..=1.1).contains(&p.zoom_cols));
        }
    }
}
