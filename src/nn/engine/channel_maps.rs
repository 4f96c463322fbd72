//! Per-channel maps applied to a layer's output while it is still in the cache: the
//! forward-only path's fusion ([`crate::nn::Sequential::infer`]).
//!
//! In inference, the layers that follow a convolution in the paper's network are
//! element-wise and the same for every pixel: ReLU, `y = max(0, x)`, and batch norm with its
//! running statistics, `y = γ (x − μ)/√(σ² + ε) + β = s·x + t` per channel `c`, with
//! `s_c = γ_c/√(σ²_c + ε)` and `t_c = β_c − μ_c s_c`. Applied as separate layers, each reads and
//! writes the whole feature map once more (134 MB for 16 images of 256×256×32). Applied to each
//! band of the convolution's output right after the band is computed, they cost no extra trip
//! through memory.

/// One per-channel element-wise map (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub enum ChannelMap {
    /// `y = max(0, x)`, a NaN staying NaN ([`relu_keeping_nan`]).
    Relu,
    /// `y = scale[c]·x + shift[c]` for channel `c` (batch norm with fixed statistics).
    Affine {
        /// `γ/√(σ² + ε)` per channel.
        scale: Vec<f32>,
        /// `β − μ·scale` per channel.
        shift: Vec<f32>,
    },
}

/// `max(0, x)` with the ReLU layer's rule for a NaN: it stays NaN, so that a bad input reaches
/// the checks after the network instead of becoming 0 (`f32::max` would drop it). The same
/// select as [`crate::nn::relu::relu`] (tests/inference_path.rs checks that they agree).
pub fn relu_keeping_nan(x: f32) -> f32 {
    if x > 0.0 || x.is_nan() {
        x
    } else {
        0.0
    }
}

/// Apply `maps`, in order, to `values`, rows of `channels` values (NHWC: the channel is the
/// last index).
///
/// # Panics
/// If an affine map does not have `channels` values, or `values` is not whole rows (bugs in
/// the caller).
pub fn apply_channel_maps(values: &mut [f32], channels: usize, maps: &[ChannelMap]) {
    if maps.is_empty() {
        return;
    }
    assert!(
        channels > 0 && values.len().is_multiple_of(channels),
        "channel maps: {} values are not rows of {channels}",
        values.len()
    );
    for map in maps {
        match map {
            ChannelMap::Relu => values.iter_mut().for_each(|v| *v = relu_keeping_nan(*v)),
            ChannelMap::Affine { scale, shift } => {
                assert_eq!(scale.len(), channels, "channel maps: scale length");
                assert_eq!(shift.len(), channels, "channel maps: shift length");
                for row in values.chunks_exact_mut(channels) {
                    for ((v, s), t) in row.iter_mut().zip(scale).zip(shift) {
                        *v = *v * s + t;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_apply_in_order_per_channel() {
        let mut values = vec![-1.0, 2.0, 3.0, -4.0];
        let affine = ChannelMap::Affine {
            scale: vec![2.0, 10.0],
            shift: vec![1.0, -1.0],
        };
        apply_channel_maps(&mut values, 2, &[ChannelMap::Relu, affine]);
        assert_eq!(values, vec![1.0, 19.0, 7.0, -1.0]);
    }

    #[test]
    fn a_nan_survives_the_relu() {
        let mut values = vec![f32::NAN, -1.0];
        apply_channel_maps(&mut values, 2, &[ChannelMap::Relu]);
        assert!(values[0].is_nan() && values[1] == 0.0);
    }
}
