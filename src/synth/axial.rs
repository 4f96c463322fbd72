//! The axial T2 phantom: one slice through a lumbar disc level, drawn in millimetres.
//!
//! What a radiologist grading central canal stenosis looks at is all here: the body outline and
//! subcutaneous fat, psoas and paraspinal muscles, the disc (bright nucleus when healthy, darker
//! as it degenerates), the **dural sac** with bright CSF and dark nerve roots, the ligamentum
//! flavum, the facet joints, lamina and spinous process. Stenosis narrows the sac from the front
//! (disc bulge) and from behind on both sides (thickened flavum), giving the trefoil shape of
//! severe stenosis; the roots, whose size does not change, crowd the shrinking sac and darken it.
//!
//! Coordinates: x towards the patient's left (image right), y posterior (image down), origin at
//! the centre of the dural sac at the disc level, in mm.

use super::grading::{HEALTHY_MODE_MM2, MIN_AREA_MM2};
use super::shapes::{polar_area, polar_radius, Canvas, Shape};
use rand::Rng;
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI, TAU};

/// Number of angles at which the sac outline is tabulated.
const SAC_ANGLES: usize = 360;

/// T2 tissue intensities (CSF = 1), before bias field, noise and scaling.
pub mod tissue {
    /// Cerebrospinal fluid: the brightest tissue on T2.
    pub const CSF: f32 = 1.0;
    /// Subcutaneous and epidural fat: bright on fast spin-echo T2.
    pub const FAT: f32 = 0.62;
    /// The canal around the sac: epidural veins, fat and connective tissue, averaged.
    pub const EPIDURAL: f32 = 0.4;
    /// Abdominal contents (averaged bowel, fluid and vessels).
    pub const ABDOMEN: f32 = 0.34;
    /// Skeletal muscle: dark.
    pub const MUSCLE: f32 = 0.2;
    /// Annulus fibrosus and bulging disc material: dark.
    pub const ANNULUS: f32 = 0.2;
    /// Bone marrow of the vertebral body, facets and lamina.
    pub const MARROW: f32 = 0.4;
    /// Cortical bone: signal void.
    pub const CORTEX: f32 = 0.06;
    /// Ligamentum flavum: dark.
    pub const FLAVUM: f32 = 0.12;
    /// Nerve roots of the cauda equina: intermediate-dark inside the bright CSF.
    pub const ROOT: f32 = 0.3;
    /// Flowing blood in the aorta and vena cava: flow void.
    pub const VESSEL: f32 = 0.05;
    /// Air outside the body.
    pub const AIR: f32 = 0.0;
}

/// How one patient is built (shared by all levels of a study).
#[derive(Clone, Debug)]
pub struct PatientAnatomy {
    /// Body size factor (≈0.9–1.2): scales the outline, muscles and fat.
    pub body_scale: f64,
    /// Thickness of posterior subcutaneous fat (mm).
    pub fat_mm: f64,
    /// Lumps of bowel in the abdomen: (x, y, radius mm, intensity).
    pub bowel: Vec<(f64, f64, f64, f32)>,
}

impl PatientAnatomy {
    /// Draw a random patient.
    pub fn sample(rng: &mut impl Rng) -> PatientAnatomy {
        let body_scale = rng.random_range(0.92..1.2);
        let bowel = (0..rng.random_range(4..9))
            .map(|_| {
                (
                    rng.random_range(-60.0..60.0),
                    rng.random_range(-110.0..-60.0),
                    rng.random_range(7.0..16.0),
                    rng.random_range(0.15..0.7),
                )
            })
            .collect();
        PatientAnatomy {
            body_scale,
            fat_mm: rng.random_range(8.0..28.0),
            bowel,
        }
    }
}

/// The canal at one disc level: its dural-sac area and everything that narrows it.
#[derive(Clone, Debug)]
pub struct LevelAnatomy {
    /// Dural-sac cross-sectional area at the disc (mm²): the quantity the grade follows.
    pub sac_area_mm2: f64,
    /// The area a healthy sac would have at this level (mm²).
    pub healthy_area_mm2: f64,
    /// Stenosis severity 0 (healthy) … 1 (near block), a function of `sac_area_mm2`.
    pub severity: f64,
    /// Lateral/AP aspect ratio of the sac before narrowing (≈1.2–1.5).
    pub sac_aspect: f64,
    /// Relative flavum thickening of the left and right sides (asymmetry, ≈0.8–1.2).
    pub flavum_side: (f64, f64),
    /// Nucleus pulposus brightness (bright when healthy, darker as the disc degenerates).
    pub nucleus: f32,
    /// Nerve roots in sac-normalised polar coordinates `(ρ 0–1, θ)` with radius in mm.
    pub roots: Vec<(f64, f64, f64)>,
    /// Half-width of the disc (mm).
    pub disc_half_width: f64,
}

impl LevelAnatomy {
    /// Build a level whose sac at the disc has `sac_area_mm2`.
    pub fn sample(sac_area_mm2: f64, rng: &mut impl Rng) -> LevelAnatomy {
        let healthy_area_mm2 = sac_area_mm2.max(HEALTHY_MODE_MM2 * rng.random_range(0.95..1.1));
        let severity = severity_of(sac_area_mm2);
        // Roots hang in the dependent (posterior) part of a roomy sac; as it narrows they fill it.
        let count = rng.random_range(14..21);
        let spread = 1.0 + 2.2 * severity;
        let roots = (0..count)
            .map(|_| {
                let theta = FRAC_PI_2 + rng.random_range(-spread..spread);
                let rho = rng.random_range(0.15 * (1.0 - severity)..0.85);
                (rho, theta, rng.random_range(0.9..1.25))
            })
            .collect();
        LevelAnatomy {
            sac_area_mm2,
            healthy_area_mm2,
            severity,
            sac_aspect: rng.random_range(1.2..1.5),
            flavum_side: (rng.random_range(0.8..1.2), rng.random_range(0.8..1.2)),
            nucleus: (0.85 - 0.5 * severity + rng.random_range(-0.08..0.08)) as f32,
            roots,
            disc_half_width: rng.random_range(21.0..25.0),
        }
    }
}

/// How much of the CSF is effaced by crowded roots (0 … 1): none above 115 mm², a third at
/// the Moderate threshold (100 mm²), most at the Severe threshold (75 mm²), all below 65 mm² —
/// Lee's grades (CSF left around the roots) in one number.
pub fn effacement_of(sac_area_mm2: f64) -> f64 {
    ((115.0 - sac_area_mm2) / 50.0).clamp(0.0, 1.0)
}

/// Stenosis severity 0…1 from the sac area: 0 at or above the healthy mode, 1 at the minimum.
pub fn severity_of(sac_area_mm2: f64) -> f64 {
    ((HEALTHY_MODE_MM2 - sac_area_mm2) / (HEALTHY_MODE_MM2 - MIN_AREA_MM2)).clamp(0.0, 1.0)
}

/// A bump of width `width` (radians) at angular distance `d`, wrapping around the circle.
fn bump(d: f64, width: f64) -> f64 {
    let d = (d + PI).rem_euclid(TAU) - PI;
    (-(d / width).powi(2)).exp()
}

/// The sac outline (radius per angle, mm) with area exactly `area_mm2`: an ellipse indented
/// in front by the disc bulge and behind on both sides by the flavum, both growing with
/// `severity`.
pub fn sac_outline(area_mm2: f64, aspect: f64, severity: f64, flavum_side: (f64, f64)) -> Vec<f64> {
    let bulge = 0.08 + 0.32 * severity;
    let flavum = 0.04 + 0.28 * severity;
    let (a, b) = (aspect, 1.0);
    let unit: Vec<f64> = (0..SAC_ANGLES)
        .map(|i| {
            let theta = i as f64 * TAU / SAC_ANGLES as f64;
            let ellipse = a * b / ((b * theta.cos()).powi(2) + (a * theta.sin()).powi(2)).sqrt();
            // Anterior is −y, i.e. θ = −π/2; posterolateral corners at π/4 (left) and 3π/4.
            let front = 1.0 - bulge * bump(theta + FRAC_PI_2, 0.6);
            let back = 1.0
                - flavum
                    * (flavum_side.0 * bump(theta - FRAC_PI_4, 0.42)
                        + flavum_side.1 * bump(theta - 3.0 * FRAC_PI_4, 0.42));
            ellipse * front * back.max(0.2)
        })
        .collect();
    let scale = (area_mm2 / polar_area(&unit)).sqrt();
    unit.into_iter().map(|r| r * scale).collect()
}

/// Everything needed to draw one axial slice.
#[derive(Clone, Debug)]
pub struct AxialSliceSpec<'a> {
    /// The patient.
    pub patient: &'a PatientAnatomy,
    /// The disc level the slice belongs to.
    pub level: &'a LevelAnatomy,
    /// Signed distance of the slice from the disc plane (mm, + towards the head).
    pub offset_mm: f64,
    /// Image size.
    pub rows: usize,
    /// Image size.
    pub cols: usize,
    /// Pixel size (mm).
    pub spacing_mm: f64,
    /// Anatomy point (mm) at the image centre (before rotation).
    pub centre_mm: (f64, f64),
    /// Patient rotation about the body axis (radians).
    pub rotation: f64,
}

/// A rendered axial slice: tissue intensities, the dural-sac coverage and its exact area.
pub struct AxialSlice {
    /// Tissue intensity per pixel (CSF ≈ 1), row-major `rows × cols`.
    pub tissue: Vec<f32>,
    /// Fraction of each pixel covered by the dural sac (0–1).
    pub sac_mask: Vec<f32>,
    /// Geometric area of the sac outline on this slice (mm²).
    pub sac_area_mm2: f64,
    /// Pixel coordinates `(col, row)` of the sac centre.
    pub sac_centre_px: (f64, f64),
    /// Half-extents `(columns, rows)` in pixels of the sac around its centre: the largest
    /// distance from the centre to a pixel at least half covered by the sac, plus half a pixel
    /// (so the axis-aligned ellipse with these half-axes holds the whole sac of an unrotated
    /// slice; `lumbar explain` grows it by a tolerance anyway).
    pub sac_half_px: (f64, f64),
    /// Pixel coordinates `(col, row)` of the left and right subarticular recesses.
    pub recesses_px: [(f64, f64); 2],
}

/// Half-extents `(columns, rows)` of the pixels of `mask` (row-major, `cols` wide) covered at
/// least half, around `centre` `(col, row)`; `(0, 0)` for an empty mask.
fn half_extents(mask: &[f32], cols: usize, centre: (f64, f64)) -> (f64, f64) {
    let (mut half_cols, mut half_rows) = (0.0f64, 0.0f64);
    for (i, _) in mask.iter().enumerate().filter(|(_, &m)| m >= 0.5) {
        let (row, col) = ((i / cols) as f64, (i % cols) as f64);
        half_cols = half_cols.max((col - centre.0).abs() + 0.5);
        half_rows = half_rows.max((row - centre.1).abs() + 0.5);
    }
    (half_cols, half_rows)
}

/// The sac area on a slice `offset_mm` from the disc: smallest at the disc, opening slowly
/// towards the healthy area above and below (6 % of the gap per 4 mm).
pub fn slice_sac_area(level: &LevelAnatomy, offset_mm: f64) -> f64 {
    let gap = level.healthy_area_mm2 - level.sac_area_mm2;
    level.sac_area_mm2 + gap * (0.06 * offset_mm.abs() / 4.0).min(1.0)
}

/// Draw one axial T2 slice (tissue intensities only; see [`super::mr_signal`] for noise).
pub fn render_axial(spec: &AxialSliceSpec) -> AxialSlice {
    let p = spec.patient;
    let l = spec.level;
    let k = p.body_scale;
    let mut c = Canvas::new(
        spec.rows,
        spec.cols,
        spec.spacing_mm,
        spec.centre_mm,
        spec.rotation,
        tissue::AIR,
    );
    // Body: skin outline filled with fat, then the muscle wall and abdomen inside it.
    let body_centre = (0.0, -60.0 * k);
    let (body_a, body_b) = (165.0 * k, 60.0 * k + 45.0 + p.fat_mm);
    c.paint(&Shape::ellipse(body_centre, body_a, body_b), tissue::FAT);
    c.paint(
        &Shape::ellipse(body_centre, body_a - p.fat_mm, body_b - p.fat_mm),
        tissue::ABDOMEN,
    );
    for &(x, y, r, v) in &p.bowel {
        c.paint(&Shape::ellipse((x * k, y * k), r, r * 0.8), v);
    }
    // Great vessels in front of the spine: aorta (patient left) and inferior vena cava.
    c.paint(&Shape::ellipse((11.0, -52.0), 9.0, 9.0), tissue::VESSEL);
    c.paint(&Shape::ellipse((-16.0, -50.0), 12.0, 8.0), tissue::VESSEL);
    // Muscles: psoas either side of the disc, paraspinal muscles behind the lamina.
    for side in [-1.0, 1.0] {
        c.paint(
            &Shape::Ellipse {
                centre: (side * 33.0 * k, -24.0),
                a: 11.0 * k,
                b: 16.0 * k,
                angle: side * 0.3,
            },
            tissue::MUSCLE,
        );
        c.paint(
            &Shape::Ellipse {
                centre: (side * 24.0 * k, 30.0),
                a: 19.0 * k,
                b: 15.0,
                angle: side * -0.25,
            },
            tissue::MUSCLE,
        );
    }
    // Disc at the disc plane, vertebral body (marrow) on slices away from it.
    let disc_weight = (-(spec.offset_mm / 3.0).powi(2)).exp() as f32;
    let disc_shape = Shape::ellipse((0.0, -26.0), l.disc_half_width, 17.0);
    c.paint(
        &Shape::ellipse((0.0, -26.0), l.disc_half_width + 1.2, 18.2),
        tissue::CORTEX * (1.0 - disc_weight) + tissue::ANNULUS * disc_weight,
    );
    c.paint(
        &disc_shape,
        tissue::MARROW * (1.0 - disc_weight) + tissue::ANNULUS * disc_weight,
    );
    let nucleus = tissue::MARROW * (1.0 - disc_weight) + l.nucleus * disc_weight;
    c.paint(
        &Shape::ellipse((0.0, -27.0), l.disc_half_width * 0.55, 9.5),
        nucleus,
    );
    // The bony ring: facets, lamina and spinous process, each with a dark cortex.
    let healthy = sac_outline(l.healthy_area_mm2, l.sac_aspect, 0.0, (1.0, 1.0));
    let half_width = polar_radius(&healthy, 0.0);
    let facet_x = half_width + 6.5;
    for side in [-1.0f64, 1.0] {
        let facet = |grow: f64| Shape::Ellipse {
            centre: (side * facet_x, 7.0),
            a: 5.0 + grow,
            b: 8.5 + grow,
            angle: side * 0.6,
        };
        c.paint(&facet(1.2), tissue::CORTEX);
        c.paint(&facet(0.0), tissue::MARROW);
        let lamina = |grow: f64| Shape::Capsule {
            p0: (side * (facet_x - 2.0), 14.0),
            p1: (0.0, 21.0),
            radius: 2.8 + grow,
        };
        c.paint(&lamina(1.0), tissue::CORTEX);
        c.paint(&lamina(0.0), tissue::MARROW);
    }
    let spinous = |grow: f64| Shape::Capsule {
        p0: (0.0, 21.0),
        p1: (0.0, 44.0),
        radius: 3.2 + grow,
    };
    c.paint(&spinous(1.0), tissue::CORTEX);
    c.paint(&spinous(0.0), tissue::MARROW);
    // The canal: soft tissue with a little epidural fat, filling what the sac leaves, and a
    // small triangle of posterior epidural fat between the flava.
    c.paint(
        &Shape::ellipse(
            (0.0, 1.0),
            half_width + 3.0,
            half_width / l.sac_aspect + 4.0,
        ),
        tissue::EPIDURAL,
    );
    c.paint(
        &Shape::ellipse((0.0, half_width / l.sac_aspect + 2.5), 3.0, 2.5),
        tissue::FAT,
    );
    // The stenosing tissues on this slice, and the sac they leave.
    let area = slice_sac_area(l, spec.offset_mm);
    let severity = severity_of(area);
    let sac = sac_outline(area, l.sac_aspect, severity, l.flavum_side);
    let front = polar_radius(&sac, -FRAC_PI_2);
    // Disc bulge: dark disc material reaching back to the sac's anterior wall.
    let bulge_depth = 4.0 + 4.0 * severity;
    c.paint(
        &Shape::ellipse(
            (0.0, -front - bulge_depth + 0.2),
            10.0 + 6.0 * severity,
            bulge_depth,
        ),
        tissue::ANNULUS * 0.5
            + nucleus * 0.5 * (1.0 - disc_weight)
            + tissue::ANNULUS * 0.5 * disc_weight,
    );
    // Ligamentum flavum: dark bands filling from the lamina to the sac, thick when stenotic.
    let healthy_corner = polar_radius(&healthy, FRAC_PI_4) + 3.0;
    for (side, angle) in [
        (l.flavum_side.0, FRAC_PI_4),
        (l.flavum_side.1, 3.0 * FRAC_PI_4),
    ] {
        let inner = polar_radius(&sac, angle);
        let thickness = (healthy_corner - inner).max(2.2) * side.clamp(0.9, 1.1);
        let mid = inner + 0.5 * thickness;
        let (dx, dy) = (angle.cos(), angle.sin());
        let half_len = 4.5 + 2.0 * severity;
        c.paint(
            &Shape::Capsule {
                p0: (mid * dx - dy * half_len, mid * dy + dx * half_len),
                p1: (mid * dx + dy * half_len, mid * dy - dx * half_len),
                radius: 0.5 * thickness,
            },
            tissue::FLAVUM,
        );
    }
    // The dural sac with CSF, then the nerve roots inside it.
    let mut sac_mask = vec![0.0f32; spec.rows * spec.cols];
    let sac_shape = Shape::Polar {
        centre: (0.0, 0.0),
        radii: sac.clone(),
    };
    // Crowded roots too fine to draw one by one dim the CSF as the sac narrows.
    let csf = tissue::CSF - (tissue::CSF - tissue::ROOT) * 0.75 * effacement_of(area) as f32;
    c.paint_with_mask(&sac_shape, csf, &mut sac_mask);
    for &(rho, theta, radius) in &l.roots {
        let r = rho * polar_radius(&sac, theta);
        let (x, y) = (r * theta.cos(), r * theta.sin());
        let radius = radius.min(0.45 * polar_radius(&sac, theta).max(0.5));
        c.paint(&Shape::ellipse((x, y), radius, radius), tissue::ROOT);
    }
    let recess = |side: f64| c.to_pixel(side * (half_width - 1.0), -2.0);
    let sac_centre_px = c.to_pixel(0.0, 0.0);
    AxialSlice {
        sac_area_mm2: polar_area(&sac),
        sac_half_px: half_extents(&sac_mask, spec.cols, sac_centre_px),
        sac_centre_px,
        recesses_px: [recess(1.0), recess(-1.0)],
        tissue: c.pixels,
        sac_mask,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sac_outline_has_the_requested_area() {
        for area in [50.0, 80.0, 120.0, 200.0] {
            let sac = sac_outline(area, 1.3, severity_of(area), (1.1, 0.9));
            assert!((polar_area(&sac) - area).abs() < 1e-6 * area);
        }
    }

    #[test]
    fn healthy_sac_is_12_to_18_mm_across() {
        let sac = sac_outline(150.0, 1.35, 0.0, (1.0, 1.0));
        let width = super::polar_radius(&sac, 0.0) + super::polar_radius(&sac, PI);
        assert!((12.0..=18.0).contains(&width), "width {width}");
    }

    #[test]
    fn painted_sac_matches_its_area_and_darkens_as_it_narrows() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let patient = PatientAnatomy::sample(&mut rng);
        let mut mean_inside = Vec::new();
        for area in [150.0, 90.0, 60.0] {
            let level = LevelAnatomy::sample(area, &mut rng);
            let spec = AxialSliceSpec {
                patient: &patient,
                level: &level,
                offset_mm: 0.0,
                rows: 384,
                cols: 384,
                spacing_mm: 0.45,
                centre_mm: (2.0, -15.0),
                rotation: 0.05,
            };
            let slice = render_axial(&spec);
            let painted: f64 = slice.sac_mask.iter().map(|&m| m as f64).sum::<f64>() * 0.45 * 0.45;
            assert!((painted - area).abs() < 0.03 * area, "{painted} vs {area}");
            assert!((slice.sac_area_mm2 - area).abs() < 1e-6 * area);
            let inside: Vec<f32> = slice
                .tissue
                .iter()
                .zip(&slice.sac_mask)
                .filter(|(_, &m)| m > 0.99)
                .map(|(&t, _)| t)
                .collect();
            mean_inside.push(inside.iter().sum::<f32>() / inside.len() as f32);
            if area == 150.0 {
                // A healthy sac holds the brightest pixels of the slice: CSF.
                let brightest = slice.tissue.iter().cloned().fold(0.0f32, f32::max);
                assert_eq!(brightest, tissue::CSF);
            }
        }
        assert!(
            mean_inside[0] > mean_inside[1] + 0.05 && mean_inside[1] > mean_inside[2] + 0.05,
            "sac brightness by area 150/90/60: {mean_inside:?}"
        );
    }
}
