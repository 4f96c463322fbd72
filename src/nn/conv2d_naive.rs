//! The reference convolution: the definition written as plain nested loops.
//!
//! This is the version to read first. It is slow (no im2col, no GEMM, no threads) and exists
//! so that the fast [`super::Conv2d`] can be tested equal to it.

use super::conv2d::Padding;
use super::layer::Tensor;
use crate::error::{Error, Result};
use ndarray::IxDyn;

// ANCHOR: conv2d_naive
/// `y[n,oy,ox,o] = b[o] + Σ_{ky,kx,c} x[n, oy+ky−pt, ox+kx−pl, c] · kernel[ky,kx,c,o]`.
///
/// `x` is `[N, H, W, Cin]`, `kernel` `[kh, kw, Cin, Cout]`, `bias` `[Cout]`; stride 1, zero
/// padding as in Keras (`same`: `(k−1)/2` before; `valid`: none).
pub fn conv2d_naive(
    x: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    padding: Padding,
) -> Result<Tensor> {
    if x.ndim() != 4 || kernel.ndim() != 4 || bias.ndim() != 1 {
        return Err(Error::shape(
            "conv2d_naive",
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
            "conv2d_naive",
            [kh, kw, c, bias.len()],
            kernel.shape(),
        ));
    }
    let (pt, pl, ho, wo) = match padding {
        Padding::Same => ((kh - 1) / 2, (kw - 1) / 2, h, w),
        Padding::Valid if h >= kh && w >= kw => (0, 0, h - kh + 1, w - kw + 1),
        Padding::Valid => return Err(Error::shape("conv2d_naive", [kh, kw], [h, w])),
    };
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
// ANCHOR_END: conv2d_naive
