//! Learning-curve figures: they decode as PNGs of the intended size, show both curves and the
//! best-epoch marker, and bad series are errors, not panics.

use image::RgbImage;
use lumbar_cnn::plot::curves::{
    plot_accuracy_curves, plot_epoch_curves, plot_loss_curves, EpochCurves, BEST_COLOR, CURVE_SIZE,
    TRAIN_COLOR, VAL_COLOR,
};
use plotters::style::RGBColor;
use std::collections::HashSet;
use std::path::PathBuf;

/// A path in a temp folder of its own. Set `LUMBAR_KEEP_TEST_PNGS=1` to keep the files and look at
/// them (the path is printed).
fn temp_png(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("lumbar-plot-curves-{}-{name}", std::process::id()));
    let path = dir.join(format!("{name}.png"));
    println!("{}", path.display());
    path
}

fn finish(path: &PathBuf) {
    if std::env::var_os("LUMBAR_KEEP_TEST_PNGS").is_none() {
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_dir(path.parent().unwrap());
    }
}

fn load(path: &PathBuf) -> RgbImage {
    image::open(path).expect("a decodable PNG").to_rgb8()
}

fn count_color(img: &RgbImage, RGBColor(r, g, b): RGBColor) -> usize {
    img.pixels().filter(|p| p.0 == [r, g, b]).count()
}

/// Something like the article's run: 16 epochs, validation loss lowest at epoch 11.
fn article_like() -> ([f32; 16], [f32; 16], [f32; 16], [f32; 16]) {
    let mut train_acc = [0.0; 16];
    let mut val_acc = [0.0; 16];
    let mut train_loss = [0.0; 16];
    let mut val_loss = [0.0; 16];
    for e in 0..16 {
        let t = e as f32;
        train_acc[e] = 0.97 - 0.42 * (-t / 4.0).exp();
        val_acc[e] = 0.88 - 0.38 * (-t / 3.0).exp() - 0.002 * (t - 10.0).max(0.0);
        train_loss[e] = 0.08 + 1.0 * (-t / 4.0).exp();
        val_loss[e] = 0.35 + 0.8 * (-t / 3.0).exp() + 0.012 * (t - 10.0).max(0.0).powi(2);
    }
    (train_acc, val_acc, train_loss, val_loss)
}

#[test]
fn accuracy_and_loss_figures_show_both_curves_and_the_best_epoch() {
    let (train_acc, val_acc, train_loss, val_loss) = article_like();
    let acc = temp_png("accuracy");
    plot_accuracy_curves(&acc, &train_acc, &val_acc, Some(11)).unwrap();
    let loss = temp_png("loss");
    plot_loss_curves(&loss, &train_loss, &val_loss, Some(11)).unwrap();
    for path in [&acc, &loss] {
        let img = load(path);
        assert_eq!(img.dimensions(), CURVE_SIZE);
        let colors: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(colors.len() > 50, "{} colours only", colors.len());
        assert!(
            count_color(&img, TRAIN_COLOR) > 500,
            "training curve missing"
        );
        assert!(
            count_color(&img, VAL_COLOR) > 500,
            "validation curve missing"
        );
        assert!(
            count_color(&img, BEST_COLOR) > 200,
            "best-epoch marker missing"
        );
        finish(path);
    }
}

#[test]
fn no_best_epoch_means_no_marker() {
    let path = temp_png("no-best");
    plot_loss_curves(&path, &[1.0, 0.8, 0.7], &[1.1, 0.9, 0.95], None).unwrap();
    let img = load(&path);
    assert_eq!(count_color(&img, BEST_COLOR), 0);
    assert!(count_color(&img, TRAIN_COLOR) > 200);
    finish(&path);
}

#[test]
fn a_single_epoch_and_constant_series_still_draw() {
    let single = temp_png("single");
    plot_accuracy_curves(&single, &[0.5], &[0.25], Some(1)).unwrap();
    let img = load(&single);
    assert!(count_color(&img, TRAIN_COLOR) > 20 && count_color(&img, VAL_COLOR) > 20);
    finish(&single);

    let constant = temp_png("constant");
    plot_epoch_curves(
        &constant,
        &EpochCurves {
            title: "Constant",
            metric: "loss",
            train: &[0.0; 4],
            val: &[0.0; 4],
            best_epoch: Some(2),
        },
    )
    .unwrap();
    let img = load(&constant);
    assert!(count_color(&img, TRAIN_COLOR) + count_color(&img, VAL_COLOR) > 200);
    finish(&constant);
}

#[test]
fn bad_series_are_errors_and_write_nothing() {
    let path = temp_png("bad");
    let err = |train: &[f32], val: &[f32], best| {
        plot_loss_curves(&path, train, val, best)
            .unwrap_err()
            .to_string()
    };
    assert!(err(&[], &[], None).contains("empty"));
    assert!(err(&[1.0, 2.0], &[1.0], None).contains("2 training values but 1 validation"));
    let nan = err(&[1.0, f32::NAN], &[1.0, 1.0], None);
    assert!(nan.contains("training loss of epoch 2"), "{nan}");
    assert!(err(&[1.0], &[f32::INFINITY], None).contains("validation loss of epoch 1"));
    assert!(err(&[1.0, 0.5], &[1.0, 0.7], Some(3)).contains("best epoch 3"));
    assert!(err(&[1.0, 0.5], &[1.0, 0.7], Some(0)).contains("best epoch 0"));
    assert!(!path.exists());
}

#[test]
fn the_longest_run_draws_with_the_marker_at_the_last_epoch() {
    // 25 epochs, the paper's maximum; best at the very end puts the label left of the line.
    let train: Vec<f32> = (0..25).map(|e| 1.0 / (1.0 + e as f32)).collect();
    let val: Vec<f32> = (0..25).map(|e| 1.2 / (1.0 + 0.8 * e as f32)).collect();
    let path = temp_png("long");
    plot_loss_curves(&path, &train, &val, Some(25)).unwrap();
    let img = load(&path);
    assert_eq!(img.dimensions(), CURVE_SIZE);
    assert!(count_color(&img, BEST_COLOR) > 200);
    finish(&path);
}
