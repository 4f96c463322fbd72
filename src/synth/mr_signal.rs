//! From tissue intensities to stored MR pixel values: a smooth coil bias field, Rician noise
//! (the magnitude of a complex signal with Gaussian noise in both channels), a per-series
//! intensity scale, and rounding to 12-bit unsigned integers.

use rand::Rng;
use rand_distr::{Distribution, Normal};

/// The largest value a 12-bit stored pixel can hold.
pub const MAX_STORED: u16 = 4095;

/// How one series was acquired: its intensity scale, noise and bias field.
#[derive(Clone, Debug)]
pub struct Acquisition {
    /// Stored value of CSF (tissue intensity 1) at the image centre.
    pub scale: f64,
    /// Noise standard deviation per channel, relative to CSF (≈0.03–0.06).
    pub noise_sd: f64,
    /// Bias field gradient per 100 mm along x and y (fraction).
    pub bias_gradient: (f64, f64),
    /// Bias bump: centre (mm from the image centre), width (mm) and strength (fraction).
    pub bias_bump: ((f64, f64), f64, f64),
}

impl Acquisition {
    /// Draw the acquisition settings of one series.
    pub fn sample(rng: &mut impl Rng) -> Acquisition {
        Acquisition {
            scale: rng.random_range(600.0..1600.0),
            noise_sd: rng.random_range(0.03..0.055),
            bias_gradient: (rng.random_range(-0.15..0.15), rng.random_range(-0.2..0.1)),
            bias_bump: (
                (rng.random_range(-40.0..40.0), rng.random_range(20.0..80.0)),
                rng.random_range(60.0..120.0),
                rng.random_range(0.0..0.25),
            ),
        }
    }

    /// The multiplicative bias at `(x, y)` mm from the image centre (≈0.7–1.3).
    pub fn bias(&self, x: f64, y: f64) -> f64 {
        let ((bx, by), width, strength) = self.bias_bump;
        let bump = (-((x - bx).powi(2) + (y - by).powi(2)) / (2.0 * width * width)).exp();
        (1.0 + self.bias_gradient.0 * x / 100.0
            + self.bias_gradient.1 * y / 100.0
            + strength * bump)
            .max(0.3)
    }

    /// Turn a `rows × cols` tissue image (pixel size `spacing` mm) into stored 12-bit values:
    /// `round(scale · |bias·s + n₁ + i·n₂|)`, clamped to 0–4095.
    pub fn to_stored(
        &self,
        tissue: &[f32],
        rows: usize,
        cols: usize,
        spacing: f64,
        noise: bool,
        rng: &mut impl Rng,
    ) -> Vec<u16> {
        let normal = Normal::new(0.0, self.noise_sd).expect("noise_sd is finite and positive");
        let mut out = Vec::with_capacity(rows * cols);
        for row in 0..rows {
            let y = (row as f64 - (rows as f64 - 1.0) / 2.0) * spacing;
            for col in 0..cols {
                let x = (col as f64 - (cols as f64 - 1.0) / 2.0) * spacing;
                let signal = tissue[row * cols + col] as f64 * self.bias(x, y);
                let magnitude = if noise {
                    let re = signal + normal.sample(rng);
                    let im: f64 = normal.sample(rng);
                    (re * re + im * im).sqrt()
                } else {
                    signal
                };
                out.push(
                    (magnitude * self.scale)
                        .round()
                        .clamp(0.0, MAX_STORED as f64) as u16,
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn background_noise_is_rician_and_values_fit_12_bits() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let acq = Acquisition {
            scale: 2000.0,
            noise_sd: 0.05,
            bias_gradient: (0.0, 0.0),
            bias_bump: ((0.0, 0.0), 50.0, 0.0),
        };
        let tissue = vec![0.0f32; 100 * 100];
        let stored = acq.to_stored(&tissue, 100, 100, 1.0, true, &mut rng);
        // The magnitude of pure noise is Rayleigh: mean σ·√(π/2) ≈ 0.0627 · 2000 ≈ 125.
        let mean = stored.iter().map(|&v| v as f64).sum::<f64>() / stored.len() as f64;
        assert!((mean - 125.3).abs() < 4.0, "mean {mean}");
        let bright = vec![3.0f32; 10];
        let stored = acq.to_stored(&bright, 1, 10, 1.0, false, &mut rng);
        assert!(stored.iter().all(|&v| v == MAX_STORED));
    }
}
