//! Planning a series, as at the scanner: matrix, field of view and where each slice lies
//! (parallel sagittal slices across the spine; axially, a short stack in each disc plane or one
//! continuous stack over the lumbar spine), plus the storage and the quirks of the real files
//! (encoding, missing tags, unordered instances).

use super::dicom_writer::PixelEncoding;
use super::geometry::{add, cross, dot, normalize, scale, sub, Plane, Spine, Vec3};
use super::mr_signal::Acquisition;
use super::series::{SeriesKind, SeriesPlan, SlicePlan};
use super::SynthConfig;
use crate::levels::continuous::DISC_REACH_MM;
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
                nearest_disc: None,
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
        continuous: false,
    }
}

fn pick_encoding(config: &SynthConfig, rng: &mut impl Rng) -> PixelEncoding {
    if rng.random::<f64>() < config.rle_rate {
        PixelEncoding::RleLossless
    } else {
        PixelEncoding::Native
    }
}

/// Slices of a continuous axial stack (inclusive range).
pub const CONTINUOUS_SLICES: (usize, usize) = (30, 60);

/// What an axial series' slices share, drawn once per series.
struct AxialSetup {
    /// Square matrix size.
    matrix: usize,
    /// Field of view (mm).
    fov: f64,
    /// Nominal slice thickness (mm).
    thickness: f64,
    /// Anatomy coordinates (mm) of the image centre relative to the canal.
    centre_mm: (f64, f64),
}

/// Plan an axial T2 series: with probability `config.continuous_share` one continuous stack
/// ([`plan_continuous_stack`]), otherwise a short stack of slices in each disc plane, L1/L2
/// first (unless the series has the "instance numbers not in position order" quirk).
pub(super) fn plan_axial(
    config: &SynthConfig,
    spine: &Spine,
    series_id: u64,
    number: u32,
    labelled: bool,
    rng: &mut impl Rng,
) -> SeriesPlan {
    // No draw at a share of 0, so that `--continuous-share 0` writes exactly the dataset of
    // short stacks only; the draws below keep their order for the same reason.
    let continuous = config.continuous_share > 0.0 && rng.random::<f64>() < config.continuous_share;
    let matrix = pick_matrix(config.axial_matrix, rng);
    let mixed_matrix = rng.random::<f64>() < config.mixed_matrix_rate;
    // Field of view: mostly in the lower part of the range, so the canal is not tiny.
    let (fov_lo, fov_hi) = config.axial_fov_mm;
    let setup = AxialSetup {
        matrix,
        fov: fov_lo + (fov_hi - fov_lo) * rng.random::<f64>().powi(2),
        thickness: rng.random_range(3.5..4.5),
        centre_mm: (
            rng.random_range(-12.0..12.0),
            -15.0 + rng.random_range(-12.0..12.0),
        ),
    };
    let mut slices = if continuous {
        plan_continuous_stack(spine, &setup, rng)
    } else {
        plan_short_stacks(config, spine, &setup, mixed_matrix, rng)
    };
    if rng.random::<f64>() < config.unordered_instance_rate {
        if !continuous && rng.random::<bool>() {
            // The disc stacks in a scrambled order.
            let mut stacks: Vec<Vec<SlicePlan>> = Vec::new();
            for slice in slices {
                match stacks.last_mut() {
                    Some(stack) if stack[0].level == slice.level => stack.push(slice),
                    _ => stacks.push(vec![slice]),
                }
            }
            stacks.shuffle(rng);
            slices = stacks.into_iter().flatten().collect();
        } else {
            // Feet first.
            slices.reverse();
        }
    }
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
        continuous,
    }
}

/// One short stack per disc, each tilted to lie in its disc plane, cranial first; every slice
/// is at its disc (`level` set).
fn plan_short_stacks(
    config: &SynthConfig,
    spine: &Spine,
    setup: &AxialSetup,
    mixed_matrix: bool,
    rng: &mut impl Rng,
) -> Vec<SlicePlan> {
    let mut slices = Vec::new();
    for (level, disc) in spine.discs.iter().enumerate() {
        let matrix = if mixed_matrix {
            pick_matrix(config.axial_matrix, rng)
        } else {
            setup.matrix
        };
        let count = rng.random_range(config.slices_per_level.0..=config.slices_per_level.1);
        let gap = setup.thickness * rng.random_range(1.0..1.1);
        let shift = rng.random_range(-1.0..1.0);
        for k in 0..count {
            // Cranial first: the offset decreases with k.
            let offset = ((count as f64 - 1.0) / 2.0 - k as f64) * gap + shift;
            let (x, y) = setup.centre_mm;
            let centre = add(
                add(disc.canal_centre, scale(disc.normal, offset)),
                add(scale(disc.left, x), scale(disc.posterior, y)),
            );
            slices.push(SlicePlan {
                instance_number: 0,
                plane: Plane::centred(
                    centre,
                    disc.left,
                    disc.posterior,
                    setup.fov / matrix as f64,
                    matrix,
                    matrix,
                ),
                thickness: setup.thickness,
                level: Some(level),
                nearest_disc: Some(level),
                offset_mm: offset,
                centre_mm: setup.centre_mm,
            });
        }
    }
    slices
}

/// One continuous stack, cranial first: 30–60 parallel slices ≈ 4 mm apart, from 6–16 mm above
/// the L1/L2 disc to 6–16 mm below L5/S1, perpendicular to the spine's mean axis (L5/S1 canal
/// to L1/L2 canal) tilted by up to ±5° about the left–right axis. A slice's `offset_mm` is the
/// distance, along the stack normal, from the nearest disc's canal centre to the slice plane;
/// the slice is at that disc (`level` set) within
/// [`DISC_REACH_MM`], otherwise it passes through a vertebral body (`level` `None`).
/// The image centres lie on one line, as a scanner places them, while the canal follows the
/// lordosis: the canal moves in the image from slice to slice (`centre_mm` changes).
fn plan_continuous_stack(spine: &Spine, setup: &AxialSetup, rng: &mut impl Rng) -> Vec<SlicePlan> {
    let discs = &spine.discs;
    let spine_axis = normalize(sub(discs[0].canal_centre, discs[4].canal_centre));
    let left = normalize(sub([1.0, 0.0, 0.0], scale(spine_axis, spine_axis[0])));
    let tilt = rng.random_range(-5.0f64..5.0).to_radians();
    let normal = add(
        scale(spine_axis, tilt.cos()),
        scale(cross(spine_axis, left), tilt.sin()),
    );
    let posterior = cross(normal, left);
    let disc_at: Vec<f64> = discs.iter().map(|d| dot(d.canal_centre, normal)).collect();
    let top = disc_at[0] + rng.random_range(6.0..16.0);
    let bottom = disc_at[4] - rng.random_range(6.0..16.0);
    let gap = setup.thickness * rng.random_range(1.0..1.1);
    let count = (((top - bottom) / gap).round() as usize + 1)
        .clamp(CONTINUOUS_SLICES.0, CONTINUOUS_SLICES.1);
    // Centred on the planned range, in case the count was clamped.
    let first = (top + bottom) / 2.0 + (count as f64 - 1.0) / 2.0 * gap;
    // The image centres lie on one straight line along the normal, through the mean canal
    // centre shifted by the series' `centre_mm`.
    let (x, y) = setup.centre_mm;
    let mean_canal = scale(
        discs.iter().fold([0.0; 3], |a, d| add(a, d.canal_centre)),
        0.2,
    );
    let line = add(mean_canal, add(scale(left, x), scale(posterior, y)));
    (0..count)
        .map(|k| {
            let at = first - k as f64 * gap;
            let centre = add(line, scale(normal, at - dot(line, normal)));
            let from_canal = sub(centre, canal_at(spine, &disc_at, at));
            let nearest = (0..5)
                .min_by(|&a, &b| (at - disc_at[a]).abs().total_cmp(&(at - disc_at[b]).abs()))
                .expect("five discs");
            let offset = at - disc_at[nearest];
            SlicePlan {
                instance_number: 0,
                plane: Plane::centred(
                    centre,
                    left,
                    posterior,
                    setup.fov / setup.matrix as f64,
                    setup.matrix,
                    setup.matrix,
                ),
                thickness: setup.thickness,
                level: (offset.abs() <= DISC_REACH_MM).then_some(nearest),
                nearest_disc: Some(nearest),
                offset_mm: offset,
                centre_mm: (dot(from_canal, left), dot(from_canal, posterior)),
            }
        })
        .collect()
}

/// The centre of the canal where the plane `normal · p = at` crosses it: the canal runs
/// straight between the disc centres (`disc_at[i]` is disc `i`'s centre along the normal,
/// decreasing with `i`) and on beyond the end discs.
fn canal_at(spine: &Spine, disc_at: &[f64], at: f64) -> Vec3 {
    // The segment between discs i and i + 1 that holds `at` (the end segments extended).
    let i = (0..3).find(|&i| at >= disc_at[i + 1]).unwrap_or(3);
    let (a, b) = (
        &spine.discs[i].canal_centre,
        &spine.discs[i + 1].canal_centre,
    );
    let t = (at - disc_at[i]) / (disc_at[i + 1] - disc_at[i]);
    add(*a, scale(sub(*b, *a), t))
}
