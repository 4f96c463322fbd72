//! Where the slices are: patient coordinates (DICOM LPS, mm: +x patient left, +y posterior,
//! +z head), the five disc levels of one spine, and the image planes through them.
//!
//! A plane is what the DICOM tags describe: `ImagePositionPatient` is the centre of the first
//! pixel, `ImageOrientationPatient` the row direction then the column direction, and the slice
//! normal is row × column. Every axial stack is tilted to lie in its own disc plane, as a
//! technologist plans it on the sagittal scout.

use rand::Rng;

/// A point or direction in patient coordinates (mm).
pub type Vec3 = [f64; 3];

/// `a + b`.
pub fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a − b`.
pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `s · a`.
pub fn scale(a: Vec3, s: f64) -> Vec3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// Dot product.
pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Cross product `a × b`.
pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// `a / |a|`.
pub fn normalize(a: Vec3) -> Vec3 {
    scale(a, 1.0 / dot(a, a).sqrt())
}

/// An image plane: the geometry DICOM stores for one slice.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    /// Centre of the first (top-left) pixel — `ImagePositionPatient`.
    pub position: Vec3,
    /// Unit direction of increasing column index (along a row) — first half of
    /// `ImageOrientationPatient`.
    pub row_dir: Vec3,
    /// Unit direction of increasing row index (down a column) — second half.
    pub col_dir: Vec3,
    /// Pixel size (mm), the same along rows and columns.
    pub spacing: f64,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

impl Plane {
    /// The plane of `rows × cols` pixels of `spacing` mm whose centre is `centre`.
    pub fn centred(
        centre: Vec3,
        row_dir: Vec3,
        col_dir: Vec3,
        spacing: f64,
        rows: usize,
        cols: usize,
    ) -> Plane {
        let half_w = (cols as f64 - 1.0) / 2.0 * spacing;
        let half_h = (rows as f64 - 1.0) / 2.0 * spacing;
        Plane {
            position: sub(sub(centre, scale(row_dir, half_w)), scale(col_dir, half_h)),
            row_dir,
            col_dir,
            spacing,
            rows,
            cols,
        }
    }

    /// The slice normal `row × column`.
    pub fn normal(&self) -> Vec3 {
        cross(self.row_dir, self.col_dir)
    }

    /// Patient coordinates of the centre of pixel `(col, row)` (fractional allowed).
    pub fn point(&self, col: f64, row: f64) -> Vec3 {
        add(
            self.position,
            add(
                scale(self.row_dir, col * self.spacing),
                scale(self.col_dir, row * self.spacing),
            ),
        )
    }

    /// Pixel coordinates `(col, row)` of the projection of a patient point onto the plane.
    pub fn pixel_of(&self, p: Vec3) -> (f64, f64) {
        let d = sub(p, self.position);
        (
            dot(d, self.row_dir) / self.spacing,
            dot(d, self.col_dir) / self.spacing,
        )
    }

    /// Position of the plane along its own normal (what a scanner writes as `SliceLocation`
    /// for an axial slice): the image centre dotted with the normal.
    pub fn location(&self) -> f64 {
        let centre = self.point(
            (self.cols as f64 - 1.0) / 2.0,
            (self.rows as f64 - 1.0) / 2.0,
        );
        dot(centre, self.normal())
    }
}

/// One disc level: the centre of the dural sac at the disc, and the disc's own frame.
#[derive(Clone, Debug)]
pub struct DiscFrame {
    /// Centre of the dural sac in the disc plane (patient coordinates, mm).
    pub canal_centre: Vec3,
    /// Unit normal of the disc plane, pointing to the head.
    pub normal: Vec3,
    /// In-plane direction towards the patient's left (axial image rows run along it).
    pub left: Vec3,
    /// In-plane direction towards the back (axial image columns run along it).
    pub posterior: Vec3,
}

/// The five disc levels of one spine, L1/L2 (most cranial) first.
#[derive(Clone, Debug)]
pub struct Spine {
    /// Disc frames, L1/L2 … L5/S1.
    pub discs: [DiscFrame; 5],
}

/// Typical tilt of each disc plane (degrees, positive = facing forward-up), lordosis included.
const DISC_TILT_DEG: [f64; 5] = [-4.0, 2.0, 7.0, 13.0, 24.0];
/// Typical forward displacement of each level's canal by the lumbar lordosis (mm).
const LORDOSIS_MM: [f64; 5] = [0.0, -6.0, -10.0, -10.0, -4.0];

impl Spine {
    /// Draw one patient's lumbar spine: table position, level spacing, lordosis and tilts.
    pub fn sample(rng: &mut impl Rng) -> Spine {
        let x0 = rng.random_range(-8.0..8.0);
        let y0 = rng.random_range(20.0..50.0);
        let mut z = rng.random_range(-40.0..60.0);
        let lordosis = rng.random_range(0.6..1.4);
        let discs = std::array::from_fn(|i| {
            if i > 0 {
                z -= rng.random_range(32.0..40.0);
            }
            let tilt = (DISC_TILT_DEG[i] * lordosis + rng.random_range(-4.0..4.0)).to_radians();
            let roll = rng.random_range(-3.0f64..3.0).to_radians();
            let normal = normalize([roll.sin(), -tilt.sin(), tilt.cos()]);
            let left = normalize(sub([1.0, 0.0, 0.0], scale(normal, normal[0])));
            let posterior = cross(normal, left);
            DiscFrame {
                canal_centre: [
                    x0 + rng.random_range(-1.5..1.5),
                    y0 + LORDOSIS_MM[i] * lordosis,
                    z,
                ],
                normal,
                left,
                posterior,
            }
        });
        Spine { discs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn disc_frames_are_orthonormal_and_right_handed() {
        let spine = Spine::sample(&mut rand::rngs::StdRng::seed_from_u64(9));
        for (i, d) in spine.discs.iter().enumerate() {
            for v in [d.normal, d.left, d.posterior] {
                assert!((dot(v, v) - 1.0).abs() < 1e-12);
            }
            assert!(dot(d.normal, d.left).abs() < 1e-12);
            // The axial slice normal (row × column) is the disc normal, pointing to the head.
            let n = cross(d.left, d.posterior);
            assert!(dot(n, d.normal) > 0.999 && d.normal[2] > 0.8);
            if i > 0 {
                assert!(d.canal_centre[2] < spine.discs[i - 1].canal_centre[2]);
            }
        }
    }

    #[test]
    fn pixel_of_inverts_point() {
        let plane = Plane::centred(
            [1.0, 2.0, 3.0],
            [1.0, 0.0, 0.0],
            [0.0, 0.8, 0.6],
            0.5,
            10,
            12,
        );
        let (c, r) = plane.pixel_of(plane.point(3.5, 7.25));
        assert!((c - 3.5).abs() < 1e-9 && (r - 7.25).abs() < 1e-9);
    }
}
