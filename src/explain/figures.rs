//! The figures of `lumbar explain`: heat-map overlays, the first layer's filters, feature maps
//! and the gallery of mistakes, as tiles for [`crate::plot::image_grid`].

use crate::error::{Error, Result};
use crate::nn::Tensor;
use crate::plot::image_grid::{normalize_to_u8, GrayTile, RgbTile};
use ndarray::{Array2, ArrayView2, Axis};

/// A heat colour for `t` in `[0, 1]`: dark blue → blue → cyan → yellow → red (the "jet" ramp
/// of the Grad-CAM paper's figures).
pub fn heat_colour(t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    let ramp = |x: f32| (1.5 - (4.0 * t - x).abs()).clamp(0.0, 1.0);
    [ramp(3.0), ramp(2.0), ramp(1.0)].map(|v| (v * 255.0).round() as u8)
}

/// The gray image with `map` (same size, any non-negative scale) laid over it in heat colours:
/// each pixel is `(1 − w)·gray + w·colour(m)` with `m` the map scaled to its maximum and
/// `w = 0.6·m`, so where the map is zero the slice shows through unchanged.
pub fn overlay(gray: ArrayView2<u8>, map: &Array2<f32>) -> Result<Vec<u8>> {
    if gray.dim() != map.dim() {
        return Err(Error::invalid(format!(
            "overlay: a {:?} map over a {:?} image",
            map.dim(),
            gray.dim()
        )));
    }
    let max = map.iter().cloned().fold(0.0f32, f32::max);
    let mut rgb = Vec::with_capacity(gray.len() * 3);
    for (&g, &m) in gray.iter().zip(map.iter()) {
        let m = if max > 0.0 { m.max(0.0) / max } else { 0.0 };
        let w = 0.6 * m;
        let colour = heat_colour(m);
        rgb.extend(
            colour
                .iter()
                .map(|&c| ((1.0 - w) * g as f32 + w * c as f32).round() as u8),
        );
    }
    Ok(rgb)
}

/// One tile per filter of a first convolution kernel `[3, 3, 3, filters]` (Keras layout
/// `[kh, kw, cin, cout]`): the 3×3 weights of the three input channels as red, green and blue,
/// each filter scaled to 0–255 on its own.
pub fn filter_tiles(kernel: &Tensor) -> Result<Vec<RgbTile>> {
    let &[kh, kw, cin, filters] = kernel.shape() else {
        return Err(Error::invalid(format!(
            "a first-layer kernel is [kh, kw, cin, filters], not {:?}",
            kernel.shape()
        )));
    };
    if cin != 3 {
        return Err(Error::invalid(format!(
            "a first-layer kernel reads 3 channels (RGB), not {cin}"
        )));
    }
    (0..filters)
        .map(|f| {
            let weights: Vec<f32> = kernel.index_axis(Axis(3), f).iter().copied().collect();
            RgbTile::new(normalize_to_u8(&weights), kw, kh, format!("{f}"))
        })
        .collect()
}

/// Up to `channels` feature maps of one image's activation `[h, w, K]`, each scaled to 0–255 on
/// its own, captioned `<layer> #k`.
pub fn feature_map_tiles(
    activation: &Tensor,
    layer: &str,
    channels: usize,
) -> Result<Vec<GrayTile>> {
    let &[h, w, k] = activation.shape() else {
        return Err(Error::invalid(format!(
            "a feature map is [rows, columns, channels], not {:?}",
            activation.shape()
        )));
    };
    (0..k.min(channels))
        .map(|c| {
            let plane: Vec<f32> = activation.index_axis(Axis(2), c).iter().copied().collect();
            GrayTile::new(normalize_to_u8(&plane), w, h, format!("{layer}, #{c}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heat_ramp_runs_from_blue_to_red() {
        assert_eq!(heat_colour(0.0), [0, 0, 128]);
        assert_eq!(heat_colour(1.0), [128, 0, 0]);
        let middle = heat_colour(0.5);
        assert!(middle[1] == 255, "{middle:?}");
    }

    #[test]
    fn an_empty_map_leaves_the_slice_and_a_peak_colours_it() {
        let gray = Array2::from_elem((2, 2), 100u8);
        let zero = Array2::<f32>::zeros((2, 2));
        assert_eq!(overlay(gray.view(), &zero).unwrap(), vec![100; 12]);
        let mut peak = zero.clone();
        peak[(0, 1)] = 3.0;
        let rgb = overlay(gray.view(), &peak).unwrap();
        assert_eq!(&rgb[..3], &[100, 100, 100]);
        // 0.4·100 + 0.6·(128, 0, 0)
        assert_eq!(&rgb[3..6], &[117, 40, 40]);
        assert!(overlay(gray.view(), &Array2::zeros((3, 2))).is_err());
    }

    #[test]
    fn filters_and_feature_maps_become_tiles() {
        let kernel =
            Tensor::from_shape_fn(ndarray::IxDyn(&[3, 3, 3, 4]), |i| i[3] as f32 + i[0] as f32);
        let tiles = filter_tiles(&kernel).unwrap();
        assert_eq!(tiles.len(), 4);
        assert_eq!(
            (tiles[0].width, tiles[0].height, tiles[0].rgb.len()),
            (3, 3, 27)
        );
        let maps = Tensor::from_shape_fn(ndarray::IxDyn(&[4, 5, 6]), |i| i[2] as f32 * i[0] as f32);
        let tiles = feature_map_tiles(&maps, "conv2d", 3).unwrap();
        assert_eq!(tiles.len(), 3);
        assert_eq!(tiles[2].caption, "conv2d, #2");
        assert!(filter_tiles(&maps).is_err());
    }
}
