//! Does the map point at the dural sac? The pointing game and the share of the map's mass
//! inside the sac region, each with its chance level.
//!
//! The region is the sac's ellipse (centre and half-axes in image pixels, from
//! `synth_truth.csv` carried through the resize; on the real download the circle between the
//! subarticular points, see `prepare::sac_regions`) grown by a tolerance on each half-axis:
//! a map that peaks a few pixels off the sac's edge still counts as pointing at it.
//!
//! - **Pointing game** (Zhang et al. 2016): a hit when the map's maximum lies inside the region.
//!   A map that peaks at a uniformly random pixel hits with probability `area / image area`.
//! - **Mass share**: `Σ_inside map / Σ map`; a uniform map has exactly `area / image area`.

use ndarray::Array2;

/// An axis-aligned ellipse in pixel coordinates (row and column of its centre, half-axes in
/// pixels along rows and columns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ellipse {
    /// Row of the centre (0 = top row's centre).
    pub centre_row: f64,
    /// Column of the centre (0 = left column's centre).
    pub centre_col: f64,
    /// Half-axis along the rows (vertical), pixels.
    pub half_rows: f64,
    /// Half-axis along the columns (horizontal), pixels.
    pub half_cols: f64,
}

impl Ellipse {
    /// The ellipse with both half-axes longer by `pixels`.
    pub fn grown(&self, pixels: f64) -> Ellipse {
        Ellipse {
            half_rows: self.half_rows + pixels,
            half_cols: self.half_cols + pixels,
            ..*self
        }
    }

    /// Whether the centre of pixel `(row, col)` lies inside (or on) the ellipse.
    pub fn contains(&self, row: usize, col: usize) -> bool {
        if self.half_rows <= 0.0 || self.half_cols <= 0.0 {
            return false;
        }
        let dr = (row as f64 - self.centre_row) / self.half_rows;
        let dc = (col as f64 - self.centre_col) / self.half_cols;
        dr * dr + dc * dc <= 1.0
    }

    /// The same ellipse in an image resized from `from` to `to` pixels (rows, columns), with the
    /// half-pixel-centre convention of the image resize: `x' = (x + 0.5)·to/from − 0.5`.
    pub fn resized(&self, from: (usize, usize), to: (usize, usize)) -> Ellipse {
        let (sr, sc) = (to.0 as f64 / from.0 as f64, to.1 as f64 / from.1 as f64);
        Ellipse {
            centre_row: (self.centre_row + 0.5) * sr - 0.5,
            centre_col: (self.centre_col + 0.5) * sc - 0.5,
            half_rows: self.half_rows * sr,
            half_cols: self.half_cols * sc,
        }
    }
}

/// How one map relates to one region.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Localisation {
    /// Row and column of the map's maximum (the first one in row-major order on a tie).
    pub peak: (usize, usize),
    /// Whether the peak lies in the region (a pointing-game hit).
    pub hit: bool,
    /// Share of the map's mass inside the region (`None` for an all-zero map).
    pub mass_share: Option<f64>,
    /// Share of the image's pixels inside the region: the chance level of both measures.
    pub chance: f64,
}

/// Where `map` (`[rows, cols]`, non-negative) peaks and how much of it lies in `region`.
pub fn localise(map: &Array2<f32>, region: &Ellipse) -> Localisation {
    let mut peak = (0, 0);
    let mut best = f32::NEG_INFINITY;
    let (mut total, mut inside, mut inside_pixels) = (0.0f64, 0.0f64, 0usize);
    for ((r, c), &v) in map.indexed_iter() {
        if v > best {
            best = v;
            peak = (r, c);
        }
        let v = v.max(0.0) as f64;
        total += v;
        if region.contains(r, c) {
            inside += v;
            inside_pixels += 1;
        }
    }
    Localisation {
        peak,
        hit: region.contains(peak.0, peak.1),
        mass_share: (total > 0.0).then(|| inside / total),
        chance: inside_pixels as f64 / map.len().max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sac() -> Ellipse {
        Ellipse {
            centre_row: 10.0,
            centre_col: 12.0,
            half_rows: 3.0,
            half_cols: 4.0,
        }
    }

    #[test]
    fn a_map_peaking_in_the_sac_hits_and_a_uniform_map_has_the_chance_share() {
        let mut map = Array2::<f32>::zeros((32, 32));
        map[(11, 13)] = 5.0;
        let found = localise(&map, &sac());
        assert_eq!(found.peak, (11, 13));
        assert!(found.hit);
        assert_eq!(found.mass_share, Some(1.0));

        let uniform = Array2::<f32>::ones((32, 32));
        let found = localise(&uniform, &sac());
        assert!((found.mass_share.unwrap() - found.chance).abs() < 1e-12);
        // Pixel centres inside an ellipse of half-axes 3 and 4: close to π·3·4 ≈ 37.7.
        let pixels = found.chance * 1024.0;
        assert!((30.0..46.0).contains(&pixels), "{pixels}");
    }

    #[test]
    fn a_peak_outside_misses_until_the_tolerance_reaches_it() {
        let mut map = Array2::<f32>::zeros((32, 32));
        map[(10, 18)] = 1.0; // 6 columns right of the centre, the half-axis is 4
        assert!(!localise(&map, &sac()).hit);
        assert!(!localise(&map, &sac().grown(1.5)).hit);
        assert!(localise(&map, &sac().grown(2.0)).hit);
        assert_eq!(localise(&Array2::zeros((4, 4)), &sac()).mass_share, None);
    }

    #[test]
    fn resizing_follows_the_half_pixel_convention() {
        // Pixel 1 of 4 has its centre at 1.5/4 of the side, which is 6/16: pixel 5.5 of 16.
        let e = Ellipse {
            centre_row: 1.0,
            centre_col: 3.0,
            half_rows: 1.0,
            half_cols: 0.5,
        };
        let big = e.resized((4, 4), (16, 16));
        assert_eq!(big.centre_row, 5.5);
        assert_eq!(big.centre_col, 13.5);
        assert_eq!((big.half_rows, big.half_cols), (4.0, 2.0));
        let back = big.resized((16, 16), (4, 4));
        assert_eq!(back, e);
    }
}
