//! im2col: turning a convolution into one matrix multiply.
//!
//! For a batch `x[N, H, W, C]` and a `kh × kw` kernel, the **im2col matrix** has one row per
//! output pixel `(n, oy, ox)` — row number `r = (n·Ho + oy)·Wo + ox` — holding the `kh·kw·C`
//! input values the kernel sees there (zeros where the window hangs over the padding):
//!
//! ```text
//! col[r, (ky·kw + kx)·C + c] = x[n, oy + ky − pad_top, ox + kx − pad_left, c]
//! ```
//!
//! The column order `(ky, kx, c)` is exactly the memory order of a Keras kernel
//! `[kh, kw, C, Cout]` flattened to `[kh·kw·C, Cout]`, so `col · kernel` *is* the NHWC output
//! `[N·Ho·Wo, Cout]`, no transpose needed. The whole matrix is `kh·kw` times larger than the
//! input, so the fast path never builds it at once: [`im2col_rows`] fills any band of rows,
//! and the convolution works band by band while the band is still in the CPU cache.

/// Geometry of a stride-1 convolution on one image: input size, kernel, padding, output size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Input height.
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
    /// A "same" convolution of `h × w × c` images with a `kh × kw` kernel: Keras' padding of
    /// `(k−1)/2` before (the rest after), output as large as the input.
    pub fn same(h: usize, w: usize, c: usize, (kh, kw): (usize, usize)) -> Self {
        ConvGeometry {
            h,
            w,
            c,
            kh,
            kw,
            pad_top: (kh - 1) / 2,
            pad_left: (kw - 1) / 2,
            ho: h,
            wo: w,
        }
    }

    /// The convolution that computes this one's input gradient: the output gradient
    /// (`ho × wo × cout`) in, `h × w` out, padded by `(kh−1−pad_top, kw−1−pad_left)`.
    pub fn for_input_gradient(&self, cout: usize) -> Self {
        ConvGeometry {
            h: self.ho,
            w: self.wo,
            c: cout,
            kh: self.kh,
            kw: self.kw,
            pad_top: self.kh - 1 - self.pad_top,
            pad_left: self.kw - 1 - self.pad_left,
            ho: self.h,
            wo: self.w,
        }
    }

    /// Length of one im2col row: `kh·kw·c`.
    pub fn patch_len(&self) -> usize {
        self.kh * self.kw * self.c
    }

    /// Number of im2col rows per image: `ho·wo`.
    pub fn out_pixels(&self) -> usize {
        self.ho * self.wo
    }

    /// Values in one input image: `h·w·c`.
    pub fn image_len(&self) -> usize {
        self.h * self.w * self.c
    }
}

// ANCHOR: im2col
/// Fill `col` with rows `first_row, first_row + 1, …` of the im2col matrix of the batch `x`
/// (`[N, h, w, c]` row-major); `col` holds `col.len() / patch_len` rows of `patch_len` values.
/// Rows may cross from one image into the next.
pub fn im2col_rows(x: &[f32], g: &ConvGeometry, first_row: usize, col: &mut [f32]) {
    let patch = g.patch_len();
    let pixels = g.out_pixels();
    for (i, row) in col.chunks_exact_mut(patch).enumerate() {
        let r = first_row + i;
        let (n, pixel) = (r / pixels, r % pixels);
        let (oy, ox) = (pixel / g.wo, pixel % g.wo);
        let image = &x[n * g.image_len()..(n + 1) * g.image_len()];
        for ky in 0..g.kh {
            let iy = (oy + ky) as isize - g.pad_top as isize;
            let first_x = ox as isize - g.pad_left as isize;
            let dst_row = &mut row[ky * g.kw * g.c..][..g.kw * g.c];
            if iy >= 0 && iy < g.h as isize && first_x >= 0 && first_x as usize + g.kw <= g.w {
                // The whole kernel row lies inside the image: its kw·c values are contiguous
                // in the input, so one copy fills them (the common case, away from the border).
                let src = (iy as usize * g.w + first_x as usize) * g.c;
                dst_row.copy_from_slice(&image[src..src + g.kw * g.c]);
                continue;
            }
            for kx in 0..g.kw {
                let ix = first_x + kx as isize;
                let dst = &mut dst_row[kx * g.c..][..g.c];
                if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                    dst.fill(0.0);
                } else {
                    let src = (iy as usize * g.w + ix as usize) * g.c;
                    dst.copy_from_slice(&image[src..src + g.c]);
                }
            }
        }
    }
}
// ANCHOR_END: im2col

#[cfg(test)]
mod tests {
    use super::*;

    /// The im2col matrix of chapter 7's worked example (4×4 input, 3×3 kernel, `valid`), each
    /// row read off the input by hand in the book: the 3×3 window at output pixel (oy, ox), row
    /// by row. The same rows come out when filled from the second row on, or one at a time.
    #[test]
    fn the_books_worked_example_by_hand() {
        #[rustfmt::skip]
        let x = [
            1.0, 2.0, 0.0, 1.0,
            0.0, 1.0, 3.0, 1.0,
            2.0, 1.0, 0.0, 2.0,
            1.0, 0.0, 1.0, 3.0,
        ];
        let g = ConvGeometry {
            h: 4,
            w: 4,
            c: 1,
            kh: 3,
            kw: 3,
            pad_top: 0,
            pad_left: 0,
            ho: 2,
            wo: 2,
        };
        #[rustfmt::skip]
        let by_hand = [
            1.0, 2.0, 0.0, 0.0, 1.0, 3.0, 2.0, 1.0, 0.0, // (0, 0)
            2.0, 0.0, 1.0, 1.0, 3.0, 1.0, 1.0, 0.0, 2.0, // (0, 1)
            0.0, 1.0, 3.0, 2.0, 1.0, 0.0, 1.0, 0.0, 1.0, // (1, 0)
            1.0, 3.0, 1.0, 1.0, 0.0, 2.0, 0.0, 1.0, 3.0, // (1, 1)
        ];
        let mut col = [f32::NAN; 36];
        im2col_rows(&x, &g, 0, &mut col);
        assert_eq!(col, by_hand);
        let mut last_three = [f32::NAN; 27];
        im2col_rows(&x, &g, 1, &mut last_three);
        assert_eq!(last_three, by_hand[9..]);
    }

    /// With `same` padding (one zero all round) the first row, at output pixel (0, 0), sees the
    /// padding in its top row and left column: `[0 0 0; 0 1 2; 0 0 1]`.
    #[test]
    fn padding_is_read_as_zeros() {
        let x = [1.0, 2.0, 0.0, 1.0];
        let g = ConvGeometry {
            h: 2,
            w: 2,
            c: 1,
            kh: 3,
            kw: 3,
            pad_top: 1,
            pad_left: 1,
            ho: 2,
            wo: 2,
        };
        let mut row = [f32::NAN; 9];
        im2col_rows(&x, &g, 0, &mut row);
        assert_eq!(row, [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 1.0]);
    }
}
