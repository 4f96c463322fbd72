//! The sagittal series, kept simple: they exist so that choosing the axial T2 series is a real
//! step, and so that the spinal canal label points of `train_label_coordinates.csv` land on a
//! canal. Vertebral bodies, discs, the CSF column (narrowed at stenotic levels), spinous
//! processes, muscle and fat, in T1 or T2 contrast. No noise: the series is not used for
//! grading, and noise-free images keep the dataset small.

use super::axial::{tissue, LevelAnatomy};
use super::geometry::{Plane, Spine};
use super::shapes::{Canvas, Shape};

/// Tissue intensities of a sagittal contrast (CSF, fat, nucleus, marrow, muscle).
#[derive(Clone, Copy, Debug)]
pub struct Contrast {
    /// Cerebrospinal fluid.
    pub csf: f32,
    /// Fat.
    pub fat: f32,
    /// Healthy nucleus pulposus.
    pub nucleus: f32,
    /// Vertebral marrow.
    pub marrow: f32,
    /// Muscle.
    pub muscle: f32,
}

/// Sagittal T1: fat and marrow bright, CSF dark.
pub const T1: Contrast = Contrast {
    csf: 0.15,
    fat: 0.95,
    nucleus: 0.35,
    marrow: 0.7,
    muscle: 0.3,
};

/// Sagittal T2 (the "Sagittal T2/STIR" series): CSF and healthy nucleus bright.
pub const T2: Contrast = Contrast {
    csf: tissue::CSF,
    fat: tissue::FAT,
    nucleus: 0.85,
    marrow: tissue::MARROW,
    muscle: tissue::MUSCLE,
};

/// Draw one sagittal slice on `plane` (rows along −z, columns along +y) in `contrast`.
pub fn render_sagittal(
    spine: &Spine,
    levels: &[LevelAnatomy; 5],
    plane: &Plane,
    contrast: Contrast,
) -> Vec<f32> {
    let centre = plane.point(
        (plane.cols as f64 - 1.0) / 2.0,
        (plane.rows as f64 - 1.0) / 2.0,
    );
    // 2-D coordinates on the slice: (y, −z).
    let mut c = Canvas::new(
        plane.rows,
        plane.cols,
        plane.spacing,
        (centre[1], -centre[2]),
        0.0,
        tissue::AIR,
    );
    let canal: Vec<(f64, f64)> = spine
        .discs
        .iter()
        .map(|d| (d.canal_centre[1], -d.canal_centre[2]))
        .collect();
    let x0 = spine.discs.iter().map(|d| d.canal_centre[0]).sum::<f64>() / 5.0;
    let dx = (centre[0] - x0).abs();
    let (back, mid_z) = (canal[2].0, canal[2].1);
    // Body, abdomen, posterior muscles.
    c.paint(
        &Shape::ellipse((back - 80.0, mid_z), 150.0, 400.0),
        contrast.fat,
    );
    c.paint(
        &Shape::ellipse((back - 100.0, mid_z), 115.0, 400.0),
        tissue::ABDOMEN,
    );
    c.paint(
        &Shape::Capsule {
            p0: (back + 32.0, mid_z - 200.0),
            p1: (back + 32.0, mid_z + 200.0),
            radius: 22.0,
        },
        contrast.muscle,
    );
    if dx > 28.0 {
        return c.pixels;
    }
    // Disc centres sit 26 mm in front of the canal, along each disc's own posterior direction.
    let disc_centre = |i: usize| {
        let d = &spine.discs[i];
        let p = super::geometry::sub(d.canal_centre, super::geometry::scale(d.posterior, 26.0));
        (p[1], -p[2])
    };
    let tilt = |i: usize| {
        let n = spine.discs[i].normal;
        (-n[1]).atan2(n[2])
    };
    let width = (1.0 - (dx / 26.0).powi(2)).max(0.0).sqrt();
    // Vertebral bodies L1 … S1, between and beyond the discs.
    for j in 0..6 {
        let (lo, hi) = match j {
            0 => (0, 0),
            5 => (4, 4),
            _ => (j - 1, j),
        };
        let (a, b) = (disc_centre(lo), disc_centre(hi));
        let (cy, cz, half_h) = if lo == hi {
            let step = if j == 0 { -18.0 } else { 18.0 };
            (a.0, a.1 + step, 12.5)
        } else {
            (
                0.5 * (a.0 + b.0),
                0.5 * (a.1 + b.1),
                0.5 * (b.1 - a.1) - 5.0,
            )
        };
        let body = |grow: f64| Shape::Ellipse {
            centre: (cy, cz),
            a: 16.0 * width + grow,
            b: half_h + grow,
            angle: -tilt(lo.min(hi)),
        };
        c.paint(&body(1.2), tissue::CORTEX);
        c.paint(&body(0.0), contrast.marrow);
    }
    // Discs with their nucleus, darker when the level is stenotic.
    for (i, level) in levels.iter().enumerate() {
        let centre = disc_centre(i);
        let angle = -tilt(i);
        c.paint(
            &Shape::Ellipse {
                centre,
                a: 17.5 * width,
                b: 4.8,
                angle,
            },
            tissue::ANNULUS,
        );
        let nucleus = contrast.nucleus * (level.nucleus / 0.85).clamp(0.3, 1.1);
        c.paint(
            &Shape::Ellipse {
                centre,
                a: 9.0 * width,
                b: 3.0,
                angle,
            },
            nucleus,
        );
    }
    // Spinous processes behind each vertebra.
    for pair in canal.windows(2) {
        let (y, z) = (0.5 * (pair[0].0 + pair[1].0), 0.5 * (pair[0].1 + pair[1].1));
        c.paint(
            &Shape::Capsule {
                p0: (y + 14.0, z),
                p1: (y + 40.0, z + 4.0),
                radius: 5.0 * width.max(0.3),
            },
            contrast.marrow * 0.8,
        );
    }
    // The CSF column: full between levels, as deep as the sac at each disc.
    let sac_half_depth = |area: f64, aspect: f64| (area / (std::f64::consts::PI * aspect)).sqrt();
    let lateral = |half_width: f64| (1.0 - (dx / half_width).powi(2)).max(0.0).sqrt();
    for (i, level) in levels.iter().enumerate() {
        let healthy_depth = sac_half_depth(level.healthy_area_mm2, level.sac_aspect);
        let half_width = healthy_depth * level.sac_aspect;
        let visible = lateral(half_width);
        if visible <= 0.0 {
            continue;
        }
        let next = canal
            .get(i + 1)
            .copied()
            .unwrap_or((canal[i].0, canal[i].1 + 36.0));
        let prev = if i == 0 {
            (canal[0].0, canal[0].1 - 36.0)
        } else {
            canal[i - 1]
        };
        for neighbour in [prev, next] {
            let mid = (
                0.5 * (canal[i].0 + neighbour.0),
                0.5 * (canal[i].1 + neighbour.1),
            );
            c.paint(
                &Shape::Capsule {
                    p0: mid,
                    p1: (
                        mid.0 + 0.4 * (canal[i].0 - mid.0),
                        mid.1 + 0.4 * (canal[i].1 - mid.1),
                    ),
                    radius: healthy_depth * visible,
                },
                contrast.csf,
            );
        }
        let depth = sac_half_depth(level.sac_area_mm2, level.sac_aspect);
        c.paint(
            &Shape::Ellipse {
                centre: canal[i],
                a: depth * visible,
                b: 6.0,
                angle: -tilt(i),
            },
            contrast.csf,
        );
    }
    c.pixels
}
