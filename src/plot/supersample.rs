//! Smooth lines and text by drawing big and shrinking: a chart is drawn at [`SUPERSAMPLING`]
//! times its size and every block of `factor × factor` pixels is then averaged into one.
//!
//! Plotters' bitmap backend rounds the corners of a thick line to whole pixels, which makes a
//! smooth curve sampled densely look jagged (each vertex moves by up to a pixel). Drawn three
//! times larger, the rounding error is a third of a final pixel, and the averaging turns the
//! edges into grey levels (anti-aliasing).

use crate::error::{Error, Result};

/// How many times larger than the final PNG the line and bar charts are drawn.
pub const SUPERSAMPLING: u32 = 3;

/// Average each `factor × factor` block of a packed RGB8 image of `width × height` pixels
/// (both multiples of `factor`) into one pixel: the result is `width/factor × height/factor`.
pub fn downsample_rgb(rgb: &[u8], width: u32, height: u32, factor: u32) -> Result<Vec<u8>> {
    let (w, h, f) = (width as usize, height as usize, factor as usize);
    if f == 0 || w % f != 0 || h % f != 0 || rgb.len() != w * h * 3 {
        return Err(Error::invalid(format!(
            "cannot shrink a {width}×{height} image ({} bytes) by {factor}: the sizes must be \
             multiples of the factor and the buffer 3 bytes per pixel",
            rgb.len()
        )));
    }
    let (out_w, out_h) = (w / f, h / f);
    let block = (f * f) as u32;
    let mut out = Vec::with_capacity(out_w * out_h * 3);
    for oy in 0..out_h {
        for ox in 0..out_w {
            for channel in 0..3 {
                let mut sum = 0u32;
                for y in oy * f..(oy + 1) * f {
                    for x in ox * f..(ox + 1) * f {
                        sum += rgb[(y * w + x) * 3 + channel] as u32;
                    }
                }
                out.push(((sum + block / 2) / block) as u8);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_averaged() {
        // 2×2 image, one block: red channel 0, 100, 200, 50 → mean 87.5, rounded 88.
        let rgb = [0, 1, 2, 100, 1, 2, 200, 1, 2, 50, 1, 2];
        assert_eq!(downsample_rgb(&rgb, 2, 2, 2).unwrap(), vec![88, 1, 2]);
        assert_eq!(downsample_rgb(&rgb, 2, 2, 1).unwrap(), rgb.to_vec());
    }

    #[test]
    fn sizes_that_do_not_divide_are_errors() {
        assert!(downsample_rgb(&[0; 27], 3, 3, 2).is_err());
        assert!(downsample_rgb(&[0; 11], 2, 2, 2).is_err());
        assert!(downsample_rgb(&[0; 12], 2, 2, 0).is_err());
    }
}
