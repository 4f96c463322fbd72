//! im2col and col2im: turning a convolution into one matrix multiply.
//!
//! For one image `x[H, W, C]` and a `kh × kw` kernel, **im2col** writes one row per output
//! pixel `(oy, ox)` holding the `kh·kw·C` input values that the kernel sees there (zeros where
//! the window hangs over the padding):
//!
//! ```text
//! col[oy·Wo + ox, (ky·kw + kx)·C + c] = x[oy + ky − pad_top, ox + kx − pad_left, c]
//! ```
//!
//! The column order `(ky, kx, c)` is exactly the memory order of a Keras kernel
//! `[kh, kw, C, Cout]` flattened to `[kh·kw·C, Cout]`, so `col · kernel` *is* the NHWC output
//! `[Ho·Wo, Cout]`, no transpose needed. **col2im** is its adjoint: it adds every entry of a
//! `[Ho·Wo, kh·kw·C]` matrix back onto the input pixel it came from (used by the backward pass).

/// Geometry of a stride-1 convolution on one image: input size, kernel, padding, output size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Input height, width and channels.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Input channels.
    pub c: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Zero rows added above the image (`same`: `(kh−1)/2`, `valid`: 0).
    pub pad_top: usize,
    /// Zero columns added left of the image (`same`: `(kw−1)/2`, `valid`: 0).
    pub pad_left: usize,
    /// Output height.
    pub ho: usize,
    /// Output width.
    pub wo: usize,
}

impl ConvGeometry {
    /// Length of one im2col row: `kh·kw·c`.
    pub fn patch_len(&self) -> usize {
        self.kh * self.kw * self.c
    }

    /// Number of im2col rows: `ho·wo`.
    pub fn out_pixels(&self) -> usize {
        self.ho * self.wo
    }
}

// ANCHOR: im2col
/// Fill `col` (`[ho·wo, kh·kw·c]`, row-major) from one image `x` (`[h, w, c]`, row-major).
pub fn im2col(x: &[f32], g: &ConvGeometry, col: &mut [f32]) {
    let patch = g.patch_len();
    debug_assert_eq!(x.len(), g.h * g.w * g.c);
    debug_assert_eq!(col.len(), g.out_pixels() * patch);
    for oy in 0..g.ho {
        for ox in 0..g.wo {
            let row = &mut col[(oy * g.wo + ox) * patch..][..patch];
            for ky in 0..g.kh {
                let iy = (oy + ky) as isize - g.pad_top as isize;
                for kx in 0..g.kw {
                    let ix = (ox + kx) as isize - g.pad_left as isize;
                    let dst = &mut row[(ky * g.kw + kx) * g.c..][..g.c];
                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                        dst.fill(0.0);
                    } else {
                        let src = (iy as usize * g.w + ix as usize) * g.c;
                        dst.copy_from_slice(&x[src..src + g.c]);
                    }
                }
            }
        }
    }
}
// ANCHOR_END: im2col

// ANCHOR: col2im
/// The adjoint of [`im2col`]: add each entry of `col` (`[ho·wo, kh·kw·c]`) onto the pixel of
/// `dx` (`[h, w, c]`) it was copied from. `dx` must be zeroed by the caller.
pub fn col2im(col: &[f32], g: &ConvGeometry, dx: &mut [f32]) {
    let patch = g.patch_len();
    debug_assert_eq!(dx.len(), g.h * g.w * g.c);
    debug_assert_eq!(col.len(), g.out_pixels() * patch);
    for oy in 0..g.ho {
        for ox in 0..g.wo {
            let row = &col[(oy * g.wo + ox) * patch..][..patch];
            for ky in 0..g.kh {
                let iy = (oy + ky) as isize - g.pad_top as isize;
                if iy < 0 || iy >= g.h as isize {
                    continue;
                }
                for kx in 0..g.kw {
                    let ix = (ox + kx) as isize - g.pad_left as isize;
                    if ix < 0 || ix >= g.w as isize {
                        continue;
                    }
                    let src = &row[(ky * g.kw + kx) * g.c..][..g.c];
                    let dst = &mut dx[(iy as usize * g.w + ix as usize) * g.c..][..g.c];
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d += s;
                    }
                }
            }
        }
    }
}
// ANCHOR_END: col2im
