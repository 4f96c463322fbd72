//! The portable convolution (`conv_im2col_gemm_in_bands`) gives the reference convolution
//! (`nn::reference::conv2d`, the definitions as nested loops) for any band length: one row per
//! band, bands that end inside an image or run into the next one, the cache-sized bands that
//! chapter 13 times as "before change 2" (`cache_band_rows`), `band_rows`' own, and one band for
//! the whole batch. Tolerance: `1e-5 · Σ |x·w|` behind each output value, plus `1e-6`.

mod engine_common;

use engine_common::{assert_close, random};
use lumbar_cnn::nn::engine::bands::{band_rows, cache_band_rows, MIN_BAND_ROWS};
use lumbar_cnn::nn::engine::conv::conv_im2col_gemm_in_bands;
use lumbar_cnn::nn::engine::ConvGeometry;
use lumbar_cnn::nn::reference::conv2d as reference;
use lumbar_cnn::nn::Padding;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn any_band_length_gives_the_reference_convolution() {
    let (n, h, w, cin, cout) = (3, 9, 7, 5, 24);
    let mut rng = StdRng::seed_from_u64(2);
    let x = random(&[n, h, w, cin], &mut rng);
    let kernel = random(&[3, 3, cin, cout], &mut rng);
    let bias = random(&[cout], &mut rng);
    let exact = reference::forward(&x, &kernel, &bias, Padding::Same).unwrap();
    let scale = reference::forward(
        &x.mapv(f32::abs),
        &kernel.mapv(f32::abs),
        &bias.mapv(f32::abs),
        Padding::Same,
    )
    .unwrap();
    let g = ConvGeometry::same(h, w, cin, (3, 3));
    let rows = n * g.out_pixels();
    let k = g.patch_len();
    for band in [
        1,
        5,
        w,
        h * w + 3,
        cache_band_rows(k),
        band_rows(k, cout, rows),
        rows,
    ] {
        let y = conv_im2col_gemm_in_bands(
            x.as_slice().unwrap(),
            &g,
            n,
            kernel.as_slice().unwrap(),
            cout,
            bias.as_slice(),
            &[],
            band,
        );
        assert_close(&y, &exact, &scale, &format!("band {band}"));
    }
}

#[test]
fn cache_sized_bands_are_the_rule_before_the_kernel_was_counted() {
    // Short rows: the cache alone allows long bands; long rows: at least MIN_BAND_ROWS.
    assert_eq!(cache_band_rows(27), (1 << 16) / 27);
    assert_eq!(cache_band_rows(9 * 512), MIN_BAND_ROWS);
    // band_rows never gives fewer rows than the cache rule, and more for wide kernels.
    let rows = 16 * 16 * 16;
    assert!(band_rows(9 * 512, 512, rows) > cache_band_rows(9 * 512));
    for (k, cout) in [(27, 32), (288, 64), (4608, 512)] {
        assert!(band_rows(k, cout, rows) >= cache_band_rows(k));
    }
}
