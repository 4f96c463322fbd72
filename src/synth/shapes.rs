//! Anti-aliased shapes painted onto a slice, in millimetres.
//!
//! The phantom is built like a painting: tissues are filled one over the other (body, muscles,
//! disc, canal, dural sac, nerve roots). Each shape knows its *signed distance* to a point
//! (negative inside, in mm); a pixel is covered by the fraction `clamp(0.5 − d/Δ, 0, 1)` of a
//! pixel of width Δ, which anti-aliases edges and makes the painted area of a shape equal its
//! geometric area to within a fraction of a pixel along its outline.

/// Rotate the point `(x, y)` by `angle` radians (counter-clockwise in a y-up frame).
pub fn rotate(x: f64, y: f64, angle: f64) -> (f64, f64) {
    let (s, c) = angle.sin_cos();
    (c * x - s * y, s * x + c * y)
}

/// A filled 2-D shape in anatomy coordinates (mm; x = patient left, y = posterior).
#[derive(Clone, Debug)]
pub enum Shape {
    /// An ellipse with centre, half-axes `(a, b)` and rotation `angle` (radians).
    Ellipse {
        /// Centre (mm).
        centre: (f64, f64),
        /// Half-axis along the ellipse's own x (mm).
        a: f64,
        /// Half-axis along the ellipse's own y (mm).
        b: f64,
        /// Rotation of the ellipse (radians).
        angle: f64,
    },
    /// All points within `radius` of the segment `p0`–`p1` (a rounded bar).
    Capsule {
        /// One end of the segment (mm).
        p0: (f64, f64),
        /// The other end (mm).
        p1: (f64, f64),
        /// Half-thickness (mm).
        radius: f64,
    },
    /// A star-shaped outline around `centre` given by its radius at `radii.len()` equally
    /// spaced angles (from +x, towards +y); used for the dural sac.
    Polar {
        /// Centre (mm).
        centre: (f64, f64),
        /// Radius (mm) at angles `2π·i/n`.
        radii: Vec<f64>,
    },
}

impl Shape {
    /// An axis-aligned ellipse.
    pub fn ellipse(centre: (f64, f64), a: f64, b: f64) -> Shape {
        Shape::Ellipse {
            centre,
            a,
            b,
            angle: 0.0,
        }
    }

    /// Approximate signed distance (mm) from `(x, y)` to the outline; negative inside.
    pub fn signed_distance(&self, x: f64, y: f64) -> f64 {
        self.distance_function()(x, y)
    }

    /// The signed-distance function of the shape, with its trigonometry computed once (the
    /// painter calls it for every pixel of the shape's bounding box).
    pub fn distance_function(&self) -> Box<dyn Fn(f64, f64) -> f64 + '_> {
        match self {
            Shape::Ellipse {
                centre,
                a,
                b,
                angle,
            } => {
                let (sin, cos) = (-angle).sin_cos();
                let (a, b) = (*a, *b);
                Box::new(move |x, y| {
                    let (dx, dy) = (x - centre.0, y - centre.1);
                    let (lx, ly) = (cos * dx - sin * dy, sin * dx + cos * dy);
                    let k = ((lx / a).powi(2) + (ly / b).powi(2)).sqrt();
                    if k < 1e-9 {
                        return -a.min(b);
                    }
                    // First-order distance: (k − 1) / |∇k|.
                    let gx = lx / (a * a * k);
                    let gy = ly / (b * b * k);
                    (k - 1.0) / (gx * gx + gy * gy).sqrt().max(1e-12)
                })
            }
            Shape::Capsule { p0, p1, radius } => {
                let (dx, dy) = (p1.0 - p0.0, p1.1 - p0.1);
                let len2 = dx * dx + dy * dy;
                Box::new(move |x, y| {
                    let (px, py) = (x - p0.0, y - p0.1);
                    let t = if len2 > 0.0 {
                        ((px * dx + py * dy) / len2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    ((px - t * dx).powi(2) + (py - t * dy).powi(2)).sqrt() - radius
                })
            }
            Shape::Polar { centre, radii } => Box::new(move |x, y| {
                let (dx, dy) = (x - centre.0, y - centre.1);
                let rho = (dx * dx + dy * dy).sqrt();
                rho - polar_radius(radii, dy.atan2(dx))
            }),
        }
    }

    /// A circle `(centre, radius)` that contains the shape, to limit the pixels visited.
    pub fn bounding_circle(&self) -> ((f64, f64), f64) {
        match self {
            Shape::Ellipse { centre, a, b, .. } => (*centre, a.max(*b)),
            Shape::Capsule { p0, p1, radius } => {
                let c = (0.5 * (p0.0 + p1.0), 0.5 * (p0.1 + p1.1));
                let half = 0.5 * ((p1.0 - p0.0).powi(2) + (p1.1 - p0.1).powi(2)).sqrt();
                (c, half + radius)
            }
            Shape::Polar { centre, radii } => (*centre, radii.iter().cloned().fold(0.0, f64::max)),
        }
    }

    /// The exact area (mm²) of the shape (for a polar outline: ½∮r² dθ with linear
    /// interpolation of r, integrated finely).
    pub fn area(&self) -> f64 {
        match self {
            Shape::Ellipse { a, b, .. } => std::f64::consts::PI * a * b,
            Shape::Capsule { p0, p1, radius } => {
                let len = ((p1.0 - p0.0).powi(2) + (p1.1 - p0.1).powi(2)).sqrt();
                2.0 * radius * len + std::f64::consts::PI * radius * radius
            }
            Shape::Polar { radii, .. } => polar_area(radii),
        }
    }
}

/// The radius of a polar outline at angle `theta`, interpolated linearly between samples.
pub fn polar_radius(radii: &[f64], theta: f64) -> f64 {
    let n = radii.len();
    let pos = theta.rem_euclid(std::f64::consts::TAU) / std::f64::consts::TAU * n as f64;
    let i = (pos.floor() as usize) % n;
    let f = pos - pos.floor();
    radii[i] * (1.0 - f) + radii[(i + 1) % n] * f
}

/// Area ½∮r(θ)² dθ of a polar outline, with r interpolated as in [`polar_radius`].
pub fn polar_area(radii: &[f64]) -> f64 {
    let n = radii.len();
    let step = std::f64::consts::TAU / n as f64;
    // ∫ over one interval of (r0 + (r1 − r0)s)² ds = (r0² + r0·r1 + r1²)/3.
    (0..n)
        .map(|i| {
            let (r0, r1) = (radii[i], radii[(i + 1) % n]);
            (r0 * r0 + r0 * r1 + r1 * r1) / 3.0
        })
        .sum::<f64>()
        * 0.5
        * step
}

/// A slice being painted: a grid of `rows × cols` tissue intensities, and the map from pixel
/// centres to anatomy coordinates (mm).
pub struct Canvas {
    /// Rows of the image.
    pub rows: usize,
    /// Columns of the image.
    pub cols: usize,
    /// Pixel size in mm (square pixels).
    pub spacing: f64,
    /// Anatomy coordinates of the image centre, before the patient's rotation.
    pub centre: (f64, f64),
    /// Patient rotation (radians): anatomy = rotate(plane point, rotation).
    pub rotation: f64,
    /// Tissue intensity per pixel, row-major (CSF ≈ 1).
    pub pixels: Vec<f32>,
    /// `(sin, cos)` of `rotation`, computed once.
    trig: (f64, f64),
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(
        rows: usize,
        cols: usize,
        spacing: f64,
        centre: (f64, f64),
        rotation: f64,
        background: f32,
    ) -> Canvas {
        Canvas {
            rows,
            cols,
            spacing,
            centre,
            rotation,
            pixels: vec![background; rows * cols],
            trig: rotation.sin_cos(),
        }
    }

    /// Anatomy coordinates (mm) of the centre of pixel `(row, col)`.
    pub fn to_anatomy(&self, row: usize, col: usize) -> (f64, f64) {
        let u = self.centre.0 + (col as f64 - (self.cols as f64 - 1.0) / 2.0) * self.spacing;
        let v = self.centre.1 + (row as f64 - (self.rows as f64 - 1.0) / 2.0) * self.spacing;
        let (s, c) = self.trig;
        (c * u - s * v, s * u + c * v)
    }

    /// Pixel coordinates `(col, row)` (fractional) of an anatomy point — the inverse of
    /// [`Canvas::to_anatomy`].
    pub fn to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        let (u, v) = rotate(x, y, -self.rotation);
        (
            (u - self.centre.0) / self.spacing + (self.cols as f64 - 1.0) / 2.0,
            (v - self.centre.1) / self.spacing + (self.rows as f64 - 1.0) / 2.0,
        )
    }

    /// Fill `shape` with intensity `value`, blending edge pixels by their coverage.
    pub fn paint(&mut self, shape: &Shape, value: f32) {
        self.paint_inner(shape, value, None);
    }

    /// Like [`Canvas::paint`], and also store each pixel's coverage (0–1) in `mask`.
    pub fn paint_with_mask(&mut self, shape: &Shape, value: f32, mask: &mut [f32]) {
        self.paint_inner(shape, value, Some(mask));
    }

    /// The pixel rectangle `(r0, r1, c0, c1)` (half-open) that can touch `shape`.
    fn pixel_bounds(&self, shape: &Shape) -> (usize, usize, usize, usize) {
        let ((cx, cy), radius) = shape.bounding_circle();
        let (pc, pr) = self.to_pixel(cx, cy);
        let reach = radius / self.spacing + 2.0;
        let clip = |lo: f64, hi: f64, n: usize| -> (usize, usize) {
            (
                lo.floor().max(0.0) as usize,
                (hi.ceil().max(-1.0) + 1.0).min(n as f64) as usize,
            )
        };
        let (r0, r1) = clip(pr - reach, pr + reach, self.rows);
        let (c0, c1) = clip(pc - reach, pc + reach, self.cols);
        (r0, r1, c0, c1)
    }

    /// Blend one pixel towards `value` by `coverage`, recording the coverage in `mask`.
    fn blend(&mut self, index: usize, value: f32, coverage: f32, mask: &mut Option<&mut [f32]>) {
        let p = &mut self.pixels[index];
        *p += (value - *p) * coverage;
        if let Some(mask) = mask.as_deref_mut() {
            mask[index] = coverage;
        }
    }

    /// Paint pixel by pixel: the plain definition (kept as the twin of the block painter).
    fn paint_naive(&mut self, shape: &Shape, value: f32, mut mask: Option<&mut [f32]>) {
        let (r0, r1, c0, c1) = self.pixel_bounds(shape);
        let distance = shape.distance_function();
        for row in r0..r1 {
            for col in c0..c1 {
                let (x, y) = self.to_anatomy(row, col);
                let coverage = (0.5 - distance(x, y) / self.spacing).clamp(0.0, 1.0) as f32;
                if coverage > 0.0 {
                    self.blend(row * self.cols + col, value, coverage, &mut mask);
                }
            }
        }
    }

    /// Paint in blocks of `BLOCK × BLOCK` pixels. Ellipses and capsules are convex, so a block
    /// is wholly inside when the four corners of the block grown by one pixel are inside (it is
    /// then filled without evaluating each pixel), and wholly outside when the distance at its
    /// centre exceeds its half-diagonal plus a pixel (for an ellipse the estimate
    /// `(k − 1)/|∇k|` is a lower bound of the true distance outside, as k is convex). Other
    /// blocks, and other shapes, go pixel by pixel as in [`Canvas::paint_naive`].
    fn paint_inner(&mut self, shape: &Shape, value: f32, mut mask: Option<&mut [f32]>) {
        const BLOCK: usize = 8;
        if matches!(shape, Shape::Polar { .. }) {
            return self.paint_naive(shape, value, mask);
        }
        let (r0, r1, c0, c1) = self.pixel_bounds(shape);
        let distance = shape.distance_function();
        let at = |canvas: &Canvas, row: f64, col: f64| {
            let u = canvas.centre.0 + (col - (canvas.cols as f64 - 1.0) / 2.0) * canvas.spacing;
            let v = canvas.centre.1 + (row - (canvas.rows as f64 - 1.0) / 2.0) * canvas.spacing;
            let (s, c) = canvas.trig;
            distance(c * u - s * v, s * u + c * v)
        };
        for br in (r0..r1).step_by(BLOCK) {
            let re = (br + BLOCK).min(r1);
            for bc in (c0..c1).step_by(BLOCK) {
                let ce = (bc + BLOCK).min(c1);
                let (mid_r, mid_c) = ((br + re - 1) as f64 / 2.0, (bc + ce - 1) as f64 / 2.0);
                let half_diagonal =
                    0.5 * (((re - br) as f64).powi(2) + ((ce - bc) as f64).powi(2)).sqrt();
                if at(self, mid_r, mid_c) > (half_diagonal + 1.0) * self.spacing {
                    continue;
                }
                let (top, bottom) = (br as f64 - 1.0, re as f64);
                let (left, right) = (bc as f64 - 1.0, ce as f64);
                let inside = [(top, left), (top, right), (bottom, left), (bottom, right)]
                    .iter()
                    .all(|&(r, c)| at(self, r, c) < 0.0);
                for row in br..re {
                    for col in bc..ce {
                        let coverage = if inside {
                            1.0
                        } else {
                            let (x, y) = self.to_anatomy(row, col);
                            (0.5 - distance(x, y) / self.spacing).clamp(0.0, 1.0) as f32
                        };
                        if coverage > 0.0 {
                            self.blend(row * self.cols + col, value, coverage, &mut mask);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn painted_area(shape: &Shape, spacing: f64) -> f64 {
        let mut canvas = Canvas::new(200, 200, spacing, (0.0, 0.0), 0.3, 0.0);
        let mut mask = vec![0.0f32; 200 * 200];
        canvas.paint_with_mask(shape, 1.0, &mut mask);
        mask.iter().map(|&c| c as f64).sum::<f64>() * spacing * spacing
    }

    #[test]
    fn painted_area_matches_geometric_area() {
        let shapes = [
            Shape::Ellipse {
                centre: (3.0, -2.0),
                a: 8.0,
                b: 5.0,
                angle: 0.4,
            },
            Shape::Capsule {
                p0: (-5.0, 0.0),
                p1: (6.0, 4.0),
                radius: 2.5,
            },
            Shape::Polar {
                centre: (1.0, 1.0),
                radii: (0..360)
                    .map(|i| 6.0 + 1.5 * (3.0 * (i as f64).to_radians()).cos())
                    .collect(),
            },
        ];
        for shape in &shapes {
            let painted = painted_area(shape, 0.5);
            let exact = shape.area();
            assert!(
                (painted - exact).abs() < 0.02 * exact,
                "{shape:?}: painted {painted} vs {exact}"
            );
        }
    }

    #[test]
    fn block_painter_equals_the_pixel_by_pixel_twin() {
        let shapes = [
            Shape::Ellipse {
                centre: (3.0, -2.0),
                a: 30.0,
                b: 2.5,
                angle: 0.4,
            },
            Shape::ellipse((0.0, 0.0), 60.0, 45.0),
            Shape::Capsule {
                p0: (-25.0, 0.0),
                p1: (26.0, 14.0),
                radius: 6.5,
            },
        ];
        for shape in &shapes {
            let mut fast = Canvas::new(150, 170, 0.6, (1.0, 2.0), 0.3, 0.2);
            let mut slow = Canvas::new(150, 170, 0.6, (1.0, 2.0), 0.3, 0.2);
            fast.paint(shape, 0.9);
            slow.paint_naive(shape, 0.9, None);
            let worst = fast
                .pixels
                .iter()
                .zip(&slow.pixels)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-6, "{shape:?}: differs by {worst}");
        }
    }

    #[test]
    fn pixel_and_anatomy_maps_are_inverse() {
        let canvas = Canvas::new(31, 40, 0.7, (2.0, -5.0), 0.2, 0.0);
        let (x, y) = canvas.to_anatomy(7, 33);
        let (col, row) = canvas.to_pixel(x, y);
        assert!((col - 33.0).abs() < 1e-9 && (row - 7.0).abs() < 1e-9);
    }
}
