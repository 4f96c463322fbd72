//! Planning a series, as at the scanner: matrix, field of view and where each slice lies
//! (parallel sagittal slices across the spine, a short axial stack in each disc plane), plus the
//! storage and the quirks of the real files (encoding, missing tags, unordered instances).

use super::dicom_writer::PixelEncoding;
use super::geometry::{add, scale, Plane, Spine};
use super::mr_signal::Acquisition;
use super::series::{SeriesKind, SeriesPlan, SlicePlan};
use super::SynthConfig;
use rand::seq::SliceRandom;
use rand::Rng;

/// Pick a matrix size in `range` (inclusive, steps of 32 when the range allows it), smaller
/// sizes more often (P(smallest) ≈ 0.45 for five sizes) to keep the dataset compact.
fn pick_matrix(range: (usize, usize), rng: &mut impl Rng) -> usize {
    let (lo, hi) = range;
    if hi <= lo {
        return lo;
    }
    let steps = (hi - lo) / 32;
    if steps == 0 {
        rng.random_range(lo..=hi)
    } else {
        let u: f64 = rng.random::<f64>();
        lo + 32 * (((steps + 1) as f64 * u * u) as usize).min(steps)
    }
}

/// Plan a sagittal series: parallel slices across the spine, rows running head to feet.
pub(super) fn plan_sagittal(
    config: &SynthConfig,
    spine: &Spine,
    kind: SeriesKind,
    series_id: u64,
    number: u32,
    rng: &mut impl Rng,
) -> SeriesPlan {
    let mean = |axis: usize| {
        spine
            .discs
            .iter()
            .map(|d| d.canal_centre[axis])
            .sum::<f64>()
            / 5.0
    };
    let count = rng.random_range(config.sagittal_slices.0..=config.sagittal_slices.1);
    let gap = rng.random_range(3.3..4.3);
    let matrix = pick_matrix(config.sagittal_matrix, rng);
    let fov = rng.random_range(280.0..320.0);
    let centre_y = mean(1) - 25.0 + rng.random_range(-8.0..8.0);
    let centre_z = mean(2) + rng.random_range(-10.0..10.0);
    let slices = (0..count)
        .map(|k| {
            let x = mean(0) + (k as f64 - (count as f64 - 1.0) / 2.0) * gap;
            SlicePlan {
                instance_number: k as u32 + 1,
                plane: Plane::centred(
                    [x, centre_y, centre_z],
                    [0.0, 1.0, 0.0],
                    [0.0, 0.0, -1.0],
                    fov / matrix as f64,
                    matrix,
                    matrix,
                ),
                thickness: gap * 0.9,
                level: None,
                offset_mm: 0.0,
                centre_mm: (0.0, 0.0),
            }
        })
        .collect();
    SeriesPlan {
        series_id,
        number,
        kind,
        encoding: pick_encoding(config, rng),
        // A flat field: the simple sagittal images stay piecewise constant and compress well.
        acquisition: Acquisition {
            bias_gradient: (0.0, 0.0),
            bias_bump: ((0.0, 0.0), 100.0, 0.0),
            ..Acquisition::sample(rng)
        },
        slices,
        has_location: rng.random::<f64>() >= config.missing_tag_rate,
        has_thickness: rng.random::<f64>() >= config.missing_tag_rate,
        labelled: true,
    }
}

fn pick_encoding(config: &SynthConfig, rng: &mut impl Rng) -> PixelEncoding {
    if rng.random::<f64>() < config.rle_rate {
        PixelEncoding::RleLossless
    } else {
        PixelEncoding::Native
    }
}

/// Plan an axial T2 series: a short stack of slices in each disc plane, L1/L2 first (unless
/// the series has the "instance numbers not in position order" quirk).
pub(super) fn plan_axial(
    config: &SynthConfig,
    spine: &Spine,
    series_id: u64,
    number: u32,
    labelled: bool,
    rng: &mut impl Rng,
) -> SeriesPlan {
    let base_matrix = pick_matrix(config.axial_matrix, rng);
    let mixed_matrix = rng.random::<f64>() < config.mixed_matrix_rate;
    // Field of view: mostly in the lower part of the range, so the canal is not tiny.
    let (fov_lo, fov_hi) = config.axial_fov_mm;
    let fov = fov_lo + (fov_hi - fov_lo) * rng.random::<f64>().powi(2);
    let thickness = rng.random_range(3.5..4.5);
    let centre_mm = (
        rng.random_range(-12.0..12.0),
        -15.0 + rng.random_range(-12.0..12.0),
    );
    let mut stacks: Vec<Vec<SlicePlan>> = (0..5)
        .map(|level| {
            let disc = &spine.discs[level];
            let matrix = if mixed_matrix {
                pick_matrix(config.axial_matrix, rng)
            } else {
                base_matrix
            };
            let count = rng.random_range(config.slices_per_level.0..=config.slices_per_level.1);
            let gap = thickness * rng.random_range(1.0..1.1);
            let shift = rng.random_range(-1.0..1.0);
            (0..count)
                .map(|k| {
                    // Cranial first: the offset decreases with k.
                    let offset = ((count as f64 - 1.0) / 2.0 - k as f64) * gap + shift;
                    let centre = add(
                        add(disc.canal_centre, scale(disc.normal, offset)),
                        add(
                            scale(disc.left, centre_mm.0),
                            scale(disc.posterior, centre_mm.1),
                        ),
                    );
                    SlicePlan {
                        instance_number: 0,
                        plane: Plane::centred(
                            centre,
                            disc.left,
                            disc.posterior,
                            fov / matrix as f64,
                            matrix,
                            matrix,
                        ),
                        thickness,
                        level: Some(level),
                        offset_mm: offset,
                        centre_mm,
                    }
                })
                .collect()
        })
        .collect();
    if rng.random::<f64>() < config.unordered_instance_rate {
        if rng.random::<bool>() {
            stacks.shuffle(rng);
        } else {
            stacks.reverse();
            stacks.iter_mut().for_each(|s| s.reverse());
        }
    }
    let mut slices: Vec<SlicePlan> = stacks.into_iter().flatten().collect();
    for (i, s) in slices.iter_mut().enumerate() {
        s.instance_number = i as u32 + 1;
    }
    SeriesPlan {
        series_id,
        number,
        kind: SeriesKind::AxialT2,
        encoding: pick_encoding(config, rng),
        acquisition: Acquisition::sample(rng),
        slices,
        has_location: rng.random::<f64>() >= config.missing_tag_rate,
        has_thickness: rng.random::<f64>() >= config.missing_tag_rate,
        labelled,
    }
}
