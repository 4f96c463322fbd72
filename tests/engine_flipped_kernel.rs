//! The engine's tiled, parallel `flipped_kernel` (the input gradient's kernel) puts every value
//! where the plain loop of `nn::reference::conv2d::flipped_kernel` puts it, bit for bit: on the
//! ten convolutions of the paper's network, and on random shapes that reach the branches of the
//! tiling (channels that are not a multiple of the `FLIP_TILE`-value tile, output channels with
//! no divisor near `FLIP_TILE` (a prime), so that a parallel block is a single row, and kernels
//! that are not square).

use lumbar_cnn::nn::engine::conv::{flipped_kernel, FLIP_TILE};
use lumbar_cnn::nn::reference::conv2d as reference;
use proptest::prelude::*;

/// A kernel whose every value is different, so that a value in the wrong place shows.
fn numbered_kernel(len: usize) -> Vec<f32> {
    (0..len).map(|i| i as f32).collect()
}

#[test]
fn the_networks_ten_kernels_flip_as_the_definition() {
    let channels = [
        (3, 32),
        (32, 32),
        (32, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
        (256, 512),
        (512, 512),
    ];
    for (cin, cout) in channels {
        let kernel = numbered_kernel(9 * cin * cout);
        assert_eq!(
            flipped_kernel(&kernel, (3, 3, cin, cout)),
            reference::flipped_kernel(&kernel, (3, 3, cin, cout)),
            "3×3, {cin} → {cout}"
        );
    }
}

#[test]
fn an_empty_kernel_flips_to_an_empty_one() {
    assert!(flipped_kernel(&[], (3, 3, 0, 8)).is_empty());
    assert!(flipped_kernel(&[], (3, 3, 8, 0)).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_shapes_flip_as_the_definition(
        kh in 1usize..=5,
        kw in 1usize..=5,
        cin in 1usize..=2 * FLIP_TILE + 5,
        cout in 1usize..=2 * FLIP_TILE + 5,
    ) {
        let kernel = numbered_kernel(kh * kw * cin * cout);
        prop_assert_eq!(
            flipped_kernel(&kernel, (kh, kw, cin, cout)),
            reference::flipped_kernel(&kernel, (kh, kw, cin, cout))
        );
    }
}
