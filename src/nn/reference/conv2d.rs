//! The reference convolution: the definition of the forward pass and of its three gradients,
//! written as plain nested loops.
//!
//! This is the version to read first. It is slow (no im2col, no GEMM, no threads, no `unsafe`)
//! and exists so that the fast [`crate::nn::Conv2d`] can be tested equal to it. Every function
//! follows its equation literally: one loop per index, zero where the kernel window hangs over
//! the border of the image.
//!
//! **Shapes.** Input `x[N, H, W, Cin]`, kernel `K[kh, kw, Cin, Cout]`, bias `b[Cout]`, output
//! and upstream gradient `y, dy[N, Ho, Wo, Cout]`; stride 1, zero padding as in Keras (`same`:
//! `pt = (kh−1)/2` rows above and `pl = (kw−1)/2` columns left, `Ho = H`, `Wo = W`; `valid`:
//! none, `Ho = H−kh+1`, `Wo = W−kw+1`).
//!
//! **Precision.** [`forward`] sums in `f32`, as chapter 7 of the book shows and times it. The
//! gradients sum in `f64` and round once at the end: the kernel gradient is a sum over the whole
//! batch (hundreds of thousands of terms for a first layer), so the reference is then exact to
//! `f32` precision and a test's tolerance only has to cover the fast path's rounding.

use crate::error::{Error, Result};
use crate::nn::conv2d::Padding;
use crate::nn::layer::Tensor;
use ndarray::{ArrayView4, Ix4, IxDyn};

// ANCHOR: forward
/// `y[n,oy,ox,o] = b[o] + Σ_{ky,kx,c} x[n, oy+ky−pt, ox+kx−pl, c] · kernel[ky,kx,c,o]`.
///
/// `x` is `[N, H, W, Cin]`, `kernel` `[kh, kw, Cin, Cout]`, `bias` `[Cout]`; stride 1, zero
/// padding as in Keras (`same`: `(k−1)/2` before; `valid`: none).
pub fn forward(x: &Tensor, kernel: &Tensor, bias: &Tensor, padding: Padding) -> Result<Tensor> {
    if x.ndim() != 4 || kernel.ndim() != 4 || bias.ndim() != 1 {
        return Err(Error::shape(
            "reference::conv2d::forward",
            "x [N,H,W,C], kernel [kh,kw,C,O], bias [O]",
            (x.shape(), kernel.shape(), bias.shape()),
        ));
    }
    let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (kh, kw, kc, o) = (
        kernel.shape()[0],
        kernel.shape()[1],
        kernel.shape()[2],
        kernel.shape()[3],
    );
    if kc != c || bias.len() != o {
        return Err(Error::shape(
            "reference::conv2d::forward",
            [kh, kw, c, bias.len()],
            kernel.shape(),
        ));
    }
    let (pt, pl, ho, wo) = geometry("reference::conv2d::forward", (h, w), (kh, kw), padding)?;
    let mut y = Tensor::zeros(IxDyn(&[n, ho, wo, o]));
    for b in 0..n {
        for oy in 0..ho {
            for ox in 0..wo {
                for oc in 0..o {
                    let mut sum = bias[[oc]];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy + ky) as isize - pt as isize;
                            let ix = (ox + kx) as isize - pl as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue; // zero padding
                            }
                            for ic in 0..c {
                                sum +=
                                    x[[b, iy as usize, ix as usize, ic]] * kernel[[ky, kx, ic, oc]];
                            }
                        }
                    }
                    y[[b, oy, ox, oc]] = sum;
                }
            }
        }
    }
    Ok(y)
}
// ANCHOR_END: forward

// ANCHOR: input_gradient
/// The input gradient by the definition:
/// `dx[n,y,x,c] = Σ_{oy,ox,o,ky,kx : oy+ky−pt = y, ox+kx−pl = x} dy[n,oy,ox,o] · K[ky,kx,c,o]`.
///
/// Input value `x[n,y,x,c]` was multiplied by `K[ky,kx,c,o]` in output pixel
/// `(oy, ox) = (y+pt−ky, x+pl−kx)`, so for every kernel position the sum takes that pixel, when
/// it lies inside the output. `kernel` is `[kh, kw, Cin, Cout]`, `dy` `[N, Ho, Wo, Cout]`; the
/// result has the input's shape `[N, H, W, Cin]` (`H = Ho` for `same`, `Ho+kh−1` for `valid`).
pub fn input_gradient(kernel: &Tensor, dy: &Tensor, padding: Padding) -> Result<Tensor> {
    const CONTEXT: &str = "reference::conv2d::input_gradient";
    let (k, dy) = (view4(CONTEXT, kernel)?, view4(CONTEXT, dy)?);
    let (kh, kw, cin, cout) = k.dim();
    let (n, ho, wo, dy_channels) = dy.dim();
    if dy_channels != cout || kh == 0 || kw == 0 {
        return Err(Error::shape(CONTEXT, [n, ho, wo, cout], dy.shape()));
    }
    let (pt, pl, h, w) = match padding {
        Padding::Same => ((kh - 1) / 2, (kw - 1) / 2, ho, wo),
        Padding::Valid => (0, 0, ho + kh - 1, wo + kw - 1),
    };
    let mut dx = Tensor::zeros(IxDyn(&[n, h, w, cin]));
    for b in 0..n {
        for y in 0..h {
            for x in 0..w {
                for c in 0..cin {
                    let mut sum = 0.0f64;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let oy = (y + pt) as isize - ky as isize;
                            let ox = (x + pl) as isize - kx as isize;
                            if oy < 0 || ox < 0 || oy >= ho as isize || ox >= wo as isize {
                                continue; // this kernel position saw x[b,y,x,c] in no output
                            }
                            for o in 0..cout {
                                sum += dy[[b, oy as usize, ox as usize, o]] as f64
                                    * k[[ky, kx, c, o]] as f64;
                            }
                        }
                    }
                    dx[[b, y, x, c]] = sum as f32;
                }
            }
        }
    }
    Ok(dx)
}
// ANCHOR_END: input_gradient

/// The input gradient's kernel by its definition, value after value:
/// `flipped[ky, kx, o, c] = K[kh−1−ky, kw−1−kx, c, o]`, a `[kh·kw·cout, cin]` matrix from a
/// row-major `[kh, kw, cin, cout]` kernel (the engine's
/// [`crate::nn::engine::conv::flipped_kernel`] transposes in tiles).
pub fn flipped_kernel(
    kernel: &[f32],
    (kh, kw, cin, cout): (usize, usize, usize, usize),
) -> Vec<f32> {
    let mut flipped = vec![0.0f32; kernel.len()];
    for ky in 0..kh {
        for kx in 0..kw {
            for c in 0..cin {
                for o in 0..cout {
                    let source = (((kh - 1 - ky) * kw + (kw - 1 - kx)) * cin + c) * cout + o;
                    flipped[((ky * kw + kx) * cout + o) * cin + c] = kernel[source];
                }
            }
        }
    }
    flipped
}

// ANCHOR: kernel_gradient
/// The kernel gradient by the definition:
/// `dK[ky,kx,c,o] = Σ_{n,oy,ox} x[n, oy+ky−pt, ox+kx−pl, c] · dy[n,oy,ox,o]` (zero outside the
/// image).
///
/// `x` is `[N, H, W, Cin]`, `dy` `[N, Ho, Wo, Cout]`, `kernel_size` `(kh, kw)`; the result is
/// `[kh, kw, Cin, Cout]`, the kernel's shape.
pub fn kernel_gradient(
    x: &Tensor,
    dy: &Tensor,
    (kh, kw): (usize, usize),
    padding: Padding,
) -> Result<Tensor> {
    const CONTEXT: &str = "reference::conv2d::kernel_gradient";
    let (x, dy) = (view4(CONTEXT, x)?, view4(CONTEXT, dy)?);
    let (n, h, w, cin) = x.dim();
    let (pt, pl, ho, wo) = geometry(CONTEXT, (h, w), (kh, kw), padding)?;
    let cout = dy.shape()[3];
    if dy.shape() != [n, ho, wo, cout] {
        return Err(Error::shape(CONTEXT, [n, ho, wo, cout], dy.shape()));
    }
    let mut dk = Tensor::zeros(IxDyn(&[kh, kw, cin, cout]));
    for ky in 0..kh {
        for kx in 0..kw {
            for c in 0..cin {
                for o in 0..cout {
                    let mut sum = 0.0f64;
                    for b in 0..n {
                        for oy in 0..ho {
                            for ox in 0..wo {
                                let iy = (oy + ky) as isize - pt as isize;
                                let ix = (ox + kx) as isize - pl as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue; // zero padding
                                }
                                sum += x[[b, iy as usize, ix as usize, c]] as f64
                                    * dy[[b, oy, ox, o]] as f64;
                            }
                        }
                    }
                    dk[[ky, kx, c, o]] = sum as f32;
                }
            }
        }
    }
    Ok(dk)
}
// ANCHOR_END: kernel_gradient

// ANCHOR: bias_gradient
/// The bias gradient by the definition: `db[o] = Σ_{n,oy,ox} dy[n,oy,ox,o]`, for `dy`
/// `[N, Ho, Wo, Cout]`; the result is `[Cout]`.
pub fn bias_gradient(dy: &Tensor) -> Result<Tensor> {
    let dy = view4("reference::conv2d::bias_gradient", dy)?;
    let (n, ho, wo, cout) = dy.dim();
    let mut db = Tensor::zeros(IxDyn(&[cout]));
    for o in 0..cout {
        let mut sum = 0.0f64;
        for b in 0..n {
            for oy in 0..ho {
                for ox in 0..wo {
                    sum += dy[[b, oy, ox, o]] as f64;
                }
            }
        }
        db[[o]] = sum as f32;
    }
    Ok(db)
}
// ANCHOR_END: bias_gradient

/// `(pt, pl, Ho, Wo)` for an `h × w` image and a `kh × kw` kernel, or a shape error naming
/// `context` when `valid` padding leaves no output.
fn geometry(
    context: &str,
    (h, w): (usize, usize),
    (kh, kw): (usize, usize),
    padding: Padding,
) -> Result<(usize, usize, usize, usize)> {
    match padding {
        Padding::Same if kh >= 1 && kw >= 1 => Ok(((kh - 1) / 2, (kw - 1) / 2, h, w)),
        Padding::Valid if kh >= 1 && kw >= 1 && h >= kh && w >= kw => {
            Ok((0, 0, h - kh + 1, w - kw + 1))
        }
        _ => Err(Error::shape(
            context,
            format!("a kernel of at least 1×1 (and at most {h}×{w} for valid padding)"),
            [kh, kw],
        )),
    }
}

/// A four-axis view of `t` (indexing it is faster than indexing a dynamic-rank tensor), or a
/// shape error naming `context`.
fn view4<'a>(context: &str, t: &'a Tensor) -> Result<ArrayView4<'a, f32>> {
    t.view()
        .into_dimensionality::<Ix4>()
        .map_err(|_| Error::shape(context, "[_, _, _, _]", t.shape()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(shape: &[usize], values: &[f32]) -> Tensor {
        Tensor::from_shape_vec(IxDyn(shape), values.to_vec()).unwrap()
    }

    /// One 3×1 image, a 2×1 kernel, `valid`: every sum written out by hand.
    #[test]
    fn a_small_case_worked_by_hand() {
        let x = tensor(&[1, 3, 1, 1], &[1.0, 2.0, 3.0]);
        let k = tensor(&[2, 1, 1, 1], &[10.0, 100.0]);
        let b = tensor(&[1], &[0.5]);
        // y[0] = 0.5 + 1·10 + 2·100, y[1] = 0.5 + 2·10 + 3·100.
        let y = forward(&x, &k, &b, Padding::Valid).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[210.5, 320.5]);
        let dy = tensor(&[1, 2, 1, 1], &[1.0, -1.0]);
        // dx[0] = dy0·K0, dx[1] = dy0·K1 + dy1·K0, dx[2] = dy1·K1.
        let dx = input_gradient(&k, &dy, Padding::Valid).unwrap();
        assert_eq!(dx.as_slice().unwrap(), &[10.0, 90.0, -100.0]);
        // dK[0] = x0·dy0 + x1·dy1, dK[1] = x1·dy0 + x2·dy1.
        let dk = kernel_gradient(&x, &dy, (2, 1), Padding::Valid).unwrap();
        assert_eq!(dk.as_slice().unwrap(), &[-1.0, -1.0]);
        assert_eq!(bias_gradient(&dy).unwrap().as_slice().unwrap(), &[0.0]);
    }

    /// The worked example of chapter 7 of the book: a 4×4 input, a 3×3 kernel, no bias. The
    /// expected numbers are the chapter's hand arithmetic (each written out in the book), not
    /// values produced by this code.
    #[test]
    fn the_books_chapter_7_example_worked_by_hand() {
        #[rustfmt::skip]
        let x = tensor(&[1, 4, 4, 1], &[
            1.0, 2.0, 0.0, 1.0,
            0.0, 1.0, 3.0, 1.0,
            2.0, 1.0, 0.0, 2.0,
            1.0, 0.0, 1.0, 3.0,
        ]);
        #[rustfmt::skip]
        let k = tensor(&[3, 3, 1, 1], &[
            1.0, 0.0, -1.0,
            2.0, 1.0, 0.0,
            0.0, -1.0, 1.0,
        ]);
        let b = tensor(&[1], &[0.0]);
        // y[0,1] = 2·1 + 0·0 + 1·(−1) + 1·2 + 3·1 + 1·0 + 1·0 + 0·(−1) + 2·1 = 8.
        let y = forward(&x, &k, &b, Padding::Valid).unwrap();
        assert_eq!(y.shape(), [1, 2, 2, 1]);
        assert_eq!(y.as_slice().unwrap(), &[1.0, 8.0, 3.0, 4.0]);
        // `same` pads one zero all round: 4×4 out, and its middle 2×2 is the `valid` output.
        // y[0,0]: the window (rows −1..1, columns −1..1) holds x[0,0..2] = 1, 2 and
        // x[1,0..2] = 0, 1 under K[1,1..3] = 1, 0 and K[2,1..3] = −1, 1: 1 + 0 + 0 + 1 = 2.
        let y_same = forward(&x, &k, &b, Padding::Same).unwrap();
        #[rustfmt::skip]
        assert_eq!(y_same.as_slice().unwrap(), &[
            2.0, 6.0, 2.0, 0.0,
            -3.0, 1.0, 8.0, 5.0,
            0.0, 3.0, 4.0, 2.0,
            0.0, 4.0, 0.0, 5.0,
        ]);
        // dy = [[1, 0], [0, 2]]: dx is K placed at (0, 0) plus 2·K placed at (1, 1), e.g.
        // dx[2,1] = dy[0,0]·K[2,1] + dy[1,1]·K[1,0] = 1·(−1) + 2·2 = 3.
        let dy = tensor(&[1, 2, 2, 1], &[1.0, 0.0, 0.0, 2.0]);
        let dx = input_gradient(&k, &dy, Padding::Valid).unwrap();
        #[rustfmt::skip]
        assert_eq!(dx.as_slice().unwrap(), &[
            1.0, 0.0, -1.0, 0.0,
            2.0, 3.0, 0.0, -2.0,
            0.0, 3.0, 3.0, 0.0,
            0.0, 0.0, -2.0, 2.0,
        ]);
    }

    /// The three gradients are the adjoints of the forward pass: for a bias-free convolution
    /// `y = conv(x, K)`, `⟨dy, y⟩ = ⟨dx, x⟩ = ⟨dK, K⟩` (all three are the same sum of
    /// `dy·x·K` products), for `same` and `valid` padding and a kernel with even sides.
    #[test]
    fn gradients_are_adjoint_to_the_forward_pass() {
        let values = |len: usize, step: f32| -> Vec<f32> {
            (0..len)
                .map(|i| ((i as f32 * step).sin() * 4.0).round() / 4.0)
                .collect()
        };
        for padding in [Padding::Same, Padding::Valid] {
            let (n, h, w, cin, cout, kh, kw) = (2, 5, 4, 3, 2, 3, 2);
            let x = tensor(&[n, h, w, cin], &values(n * h * w * cin, 0.7));
            let k = tensor(&[kh, kw, cin, cout], &values(kh * kw * cin * cout, 1.3));
            let y = forward(&x, &k, &Tensor::zeros(IxDyn(&[cout])), padding).unwrap();
            let dy = tensor(y.shape(), &values(y.len(), 0.9));
            let dx = input_gradient(&k, &dy, padding).unwrap();
            let dk = kernel_gradient(&x, &dy, (kh, kw), padding).unwrap();
            assert_eq!(dx.shape(), x.shape());
            assert_eq!(dk.shape(), k.shape());
            let dot = |a: &Tensor, b: &Tensor| -> f64 {
                a.iter().zip(b).map(|(a, b)| *a as f64 * *b as f64).sum()
            };
            // Quarter-integer values: every product and sum here is exact in f32 and f64.
            assert_eq!(dot(&dy, &y), dot(&dx, &x), "{padding:?}");
            assert_eq!(dot(&dy, &y), dot(&dk, &k), "{padding:?}");
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let x = Tensor::zeros(IxDyn(&[1, 2, 2, 3]));
        let k = Tensor::zeros(IxDyn(&[3, 3, 3, 4]));
        assert!(forward(&x, &k, &Tensor::zeros(IxDyn(&[4])), Padding::Valid).is_err());
        assert!(forward(&x, &k, &Tensor::zeros(IxDyn(&[5])), Padding::Same).is_err());
        // dy with 5 channels for a kernel with 4; dy of 3 rows for an image of 2.
        let dy = Tensor::zeros(IxDyn(&[1, 2, 2, 5]));
        assert!(input_gradient(&k, &dy, Padding::Same).is_err());
        let dy = Tensor::zeros(IxDyn(&[1, 3, 2, 4]));
        assert!(kernel_gradient(&x, &dy, (3, 3), Padding::Same).is_err());
        // A 3×3 kernel has no valid position in a 2×2 image.
        assert!(kernel_gradient(&x, &dy, (3, 3), Padding::Valid).is_err());
        assert!(bias_gradient(&Tensor::zeros(IxDyn(&[2, 5]))).is_err());
    }
}
