//! Gradient checking: does a hand-written `backward` agree with the definition of a derivative?
//!
//! For a layer `y = f(x; θ)` we build the scalar `L = Σ_i g_i · y_i` with a random upstream
//! gradient `g` (random, so that a backward that is right only for `g = 1` is still caught).
//! Then `dL/dy = g`, and the layer's `backward(g)` must return `dL/dx` and fill `dL/dθ`.
//! We compare each with **centred differences**
//!
//! ```text
//! dL/dx_i ≈ (L(x + h·e_i) − L(x − h·e_i)) / 2h      (error O(h²))
//! ```
//!
//! measured by the **relative error** of the whole gradient vector,
//! `‖a − n‖ / (‖a‖ + ‖n‖)`: 0 when they agree, 1 when they are unrelated, and insensitive to the
//! overall scale. Sums and differences are formed in `f64`; the layers compute in `f32`, so
//! with `h = 1e-2` a correct backward gives relative errors around 1e-4–1e-3, while a wrong
//! sign, a missing term or a transposed index gives errors of order 0.1–1.
//!
//! Finite differences are wrong at a kink (ReLU at 0, a max-pool tie): keep inputs away from
//! them with [`away_from_zero`] and [`distinct_values`].

use crate::error::{Error, Result};
use crate::nn::{Layer, Pass, Tensor};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// Settings of a gradient check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The finite-difference step `h` (on `f32` values of order 1, 1e-2 balances truncation
    /// error `O(h²)` against rounding error `O(ε_f32 / h)`).
    pub step: f32,
    /// At most this many entries of each tensor are perturbed (chosen at random); the rest are
    /// skipped to keep the check fast on big tensors.
    pub max_entries: usize,
    /// Seed for the upstream gradient and the choice of entries.
    pub seed: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            step: 1e-2,
            max_entries: 64,
            seed: 0,
        }
    }
}

/// The comparison of one analytic gradient with its numeric estimate.
#[derive(Clone, Debug)]
pub struct GradientComparison {
    /// What was differentiated: `"input"` or `"<layer>/<param>"`.
    pub name: String,
    /// `‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖)` over the checked entries.
    pub relative_error: f64,
    /// How many entries were perturbed.
    pub entries_checked: usize,
}

/// All the comparisons of one gradient check.
#[derive(Clone, Debug, Default)]
pub struct GradCheckReport {
    /// One entry for the input gradient, then one per trainable parameter.
    pub comparisons: Vec<GradientComparison>,
}

impl GradCheckReport {
    /// The largest relative error of the report (0 if it is empty).
    pub fn worst(&self) -> f64 {
        self.comparisons
            .iter()
            .map(|c| c.relative_error)
            .fold(0.0, f64::max)
    }
}

impl std::fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.comparisons {
            writeln!(
                f,
                "{:<28} rel. error {:.2e} over {} entries",
                c.name, c.relative_error, c.entries_checked
            )?;
        }
        Ok(())
    }
}

// ANCHOR: relative_error
/// `‖a − n‖₂ / (‖a‖₂ + ‖n‖₂)`, or 0 when both are exactly zero.
pub fn relative_error(analytic: &[f64], numeric: &[f64]) -> f64 {
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let diff = norm(&mut analytic.iter().zip(numeric).map(|(a, n)| a - n));
    let scale = norm(&mut analytic.iter().copied()) + norm(&mut numeric.iter().copied());
    if scale == 0.0 {
        0.0
    } else {
        diff / scale
    }
}
// ANCHOR_END: relative_error

// ANCHOR: numeric_gradient
/// Centred-difference estimate of `∂f/∂point[i]` for each `i` in `indices`.
///
/// The difference quotient divides by the step actually taken in `f32`
/// (`(x+h) − (x−h)` computed in `f64`), not by the nominal `2h`.
pub fn numeric_gradient(
    f: &mut dyn FnMut(&[f32]) -> Result<f64>,
    point: &[f32],
    indices: &[usize],
    step: f32,
) -> Result<Vec<f64>> {
    let mut x = point.to_vec();
    let mut out = Vec::with_capacity(indices.len());
    for &i in indices {
        let original = x[i];
        x[i] = original + step;
        let (up_x, up) = (x[i] as f64, f(&x)?);
        x[i] = original - step;
        let (down_x, down) = (x[i] as f64, f(&x)?);
        x[i] = original;
        out.push((up - down) / (up_x - down_x));
    }
    Ok(out)
}
// ANCHOR_END: numeric_gradient

/// Entries to perturb in a tensor of `len` values: all of them, or `max` chosen at random.
fn chosen_entries(len: usize, max: usize, rng: &mut StdRng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    if len > max {
        all.shuffle(rng);
        all.truncate(max);
        all.sort_unstable();
    }
    all
}

/// `Σ g_i y_i` in f64.
fn weighted_sum(y: &Tensor, g: &Tensor) -> f64 {
    y.iter()
        .zip(g.iter())
        .map(|(&a, &b)| a as f64 * b as f64)
        .sum()
}

/// A tensor of standard-normal values (seeded), e.g. a random upstream gradient.
pub fn random_normal(shape: &[usize], rng: &mut StdRng) -> Tensor {
    let values = (0..shape.iter().product())
        .map(|_| StandardNormal.sample(rng))
        .collect();
    Tensor::from_shape_vec(IxDyn(shape), values).expect("shape and count agree")
}

/// Check `layer.backward` against finite differences at input `x` in `pass`: the input
/// gradient and the gradient of every parameter.
///
/// The layer's forward pass must be deterministic for a fixed input (dropout is: its mask
/// depends only on its seed and the step of the pass, which stays the same for every forward
/// pass of the check).
pub fn check_layer(
    layer: &mut dyn Layer,
    x: &Tensor,
    pass: Pass,
    options: &CheckOptions,
) -> Result<GradCheckReport> {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let x = x.as_standard_layout().into_owned();
    let y = layer.forward(&x, pass)?;
    let upstream = random_normal(y.shape(), &mut rng);
    let dx = layer.backward(&upstream)?;
    let param_grads: Vec<(String, Tensor)> = layer
        .params()
        .iter()
        .map(|p| (format!("{}/{}", layer.name(), p.name), p.grad.clone()))
        .collect();

    let mut report = GradCheckReport::default();

    // Input gradient.
    let entries = chosen_entries(x.len(), options.max_entries, &mut rng);
    let shape = x.shape().to_vec();
    let numeric = numeric_gradient(
        &mut |values: &[f32]| {
            let xp = Tensor::from_shape_vec(IxDyn(&shape), values.to_vec()).expect("same shape");
            Ok(weighted_sum(&layer.forward(&xp, pass)?, &upstream))
        },
        x.as_slice().expect("standard layout"),
        &entries,
        options.step,
    )?;
    let analytic: Vec<f64> = entries
        .iter()
        .map(|&i| dx.as_slice().expect("layer output")[i] as f64)
        .collect();
    report.comparisons.push(GradientComparison {
        name: "input".to_string(),
        relative_error: relative_error(&analytic, &numeric),
        entries_checked: entries.len(),
    });

    // Parameter gradients: perturb the parameter in place, run forward, restore.
    for (param_index, (name, grad)) in param_grads.into_iter().enumerate() {
        let original = layer.params()[param_index]
            .value
            .as_standard_layout()
            .into_owned();
        let entries = chosen_entries(original.len(), options.max_entries, &mut rng);
        let numeric = numeric_gradient(
            &mut |values: &[f32]| {
                let p = &mut layer.params_mut()[param_index].value;
                p.as_slice_mut()
                    .ok_or_else(|| Error::invalid("parameter is not contiguous"))?
                    .copy_from_slice(values);
                Ok(weighted_sum(&layer.forward(&x, pass)?, &upstream))
            },
            original.as_slice().expect("standard layout"),
            &entries,
            options.step,
        )?;
        layer.params_mut()[param_index].value.assign(&original);
        let grad = grad.as_standard_layout().into_owned();
        let analytic: Vec<f64> = entries
            .iter()
            .map(|&i| grad.as_slice().expect("contiguous")[i] as f64)
            .collect();
        report.comparisons.push(GradientComparison {
            name,
            relative_error: relative_error(&analytic, &numeric),
            entries_checked: entries.len(),
        });
    }
    Ok(report)
}

/// Move every value closer to 0 than `margin` out to `±margin`, so that a ReLU's kink at 0 is
/// never inside a finite-difference step.
pub fn away_from_zero(x: &mut Tensor, margin: f32) {
    x.mapv_inplace(|v| {
        if v.abs() >= margin {
            v
        } else if v >= 0.0 {
            margin
        } else {
            -margin
        }
    });
}

/// A tensor of `shape` whose values are all distinct, at least `spacing` apart, in random order
/// and centred on 0: no max-pool window has a tie, nor a runner-up within `spacing`.
pub fn distinct_values(shape: &[usize], spacing: f32, rng: &mut StdRng) -> Tensor {
    let len: usize = shape.iter().product();
    let mut values: Vec<f32> = (0..len)
        .map(|i| (i as f32 - len as f32 / 2.0) * spacing)
        .collect();
    values.shuffle(rng);
    Tensor::from_shape_vec(IxDyn(shape), values).expect("shape and count agree")
}
