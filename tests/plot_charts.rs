//! The line and bar charts (`lumbar_cnn::plot::{line_chart, bar_chart}`) and the log-scale
//! loss curves: each drawn to a PNG in a temporary folder, decoded back with the `image`
//! crate, checked for its documented size and for drawn pixels; and every bad input is an
//! error that names the problem, with no file written.

use lumbar_cnn::plot::bar_chart::{
    bar_chart_size, save_bar_chart, Bar, BarChart, BAR_CHART_HEIGHT, MIN_BAR_CHART_WIDTH,
};
use lumbar_cnn::plot::curves::{plot_loss_curves_log_y, CURVE_SIZE};
use lumbar_cnn::plot::line_chart::{save_line_chart, Line, LineChart, LINE_CHART_SIZE};
use lumbar_cnn::plot::PALETTE;
use plotters::style::RGBColor;
use std::path::{Path, PathBuf};

/// A fresh folder for one test (tests run in parallel).
fn temp_dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("lumbar-plot-charts-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn load(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{} does not decode as an image: {e}", path.display()))
        .to_rgb8()
}

/// Pixels within 40 (per channel) of `color`: the bars' fill and the middle of the lines.
fn count_near(img: &image::RgbImage, color: RGBColor) -> usize {
    let RGBColor(r, g, b) = color;
    img.pixels()
        .filter(|p| {
            let d = |a: u8, b: u8| (a as i32 - b as i32).abs();
            d(p[0], r) < 40 && d(p[1], g) < 40 && d(p[2], b) < 40
        })
        .count()
}

/// Pixels that are not the white background.
fn count_non_white(img: &image::RgbImage) -> usize {
    img.pixels().filter(|p| p.0 != [255, 255, 255]).count()
}

fn curve(n: usize, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let x = 0.1 + 10.0 * i as f64 / (n - 1) as f64;
            (x, f(x))
        })
        .collect()
}

fn two_lines() -> LineChart<'static> {
    LineChart::new(
        "Two curves",
        "x",
        "y",
        vec![
            Line::new("sine", curve(200, |x| 1.5 + x.sin()), PALETTE[0]),
            Line::new("square", curve(200, |x| x * x), PALETTE[1]).dashed(),
        ],
    )
}

fn bars(values: &[f64]) -> Vec<Bar> {
    values
        .iter()
        .enumerate()
        .map(|(i, &value)| Bar {
            label: format!("bar {i}"),
            value,
            color: PALETTE[i % PALETTE.len()],
        })
        .collect()
}

#[test]
fn line_chart_png_has_its_size_and_both_curves() {
    let dir = temp_dir("line");
    for (name, log_x, log_y) in [("lin.png", false, false), ("log.png", true, true)] {
        let path = dir.join(name);
        let chart = LineChart {
            log_x,
            log_y,
            marker: Some((2.0, "x = 2".to_string())),
            ..two_lines()
        };
        save_line_chart(&path, &chart).unwrap();
        let img = load(&path);
        assert_eq!(img.dimensions(), LINE_CHART_SIZE, "{name}");
        assert!(count_non_white(&img) > 10_000, "{name} is nearly blank");
        for color in [PALETTE[0], PALETTE[1]] {
            assert!(count_near(&img, color) > 300, "{name}: a curve is missing");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn line_chart_bad_inputs_are_named_errors_and_write_nothing() {
    let dir = temp_dir("line-bad");
    let path = dir.join("bad.png");
    let error = |chart: LineChart| save_line_chart(&path, &chart).unwrap_err().to_string();
    let with = |points: Vec<(f64, f64)>| {
        LineChart::new("Bad", "x", "y", vec![Line::new("l", points, PALETTE[0])])
    };

    let e = error(LineChart::new("Bad", "x", "y", vec![]));
    assert!(e.contains("at least one line"), "{e}");
    let e = error(with(vec![]));
    assert!(e.contains("\"l\" has no points"), "{e}");
    let e = error(with(vec![(0.0, 1.0), (1.0, f64::NAN)]));
    assert!(e.contains("non-finite") && e.contains("point 1, y"), "{e}");
    let e = error(with(vec![(f64::INFINITY, 1.0)]));
    assert!(e.contains("non-finite") && e.contains("point 0, x"), "{e}");
    let e = error(LineChart {
        log_y: true,
        ..with(vec![(1.0, 1.0), (2.0, 0.0)])
    });
    assert!(e.contains("point 1, y") && e.contains("logarithmic"), "{e}");
    let e = error(LineChart {
        log_x: true,
        ..with(vec![(-1.0, 1.0)])
    });
    assert!(e.contains("point 0, x") && e.contains("logarithmic"), "{e}");
    let e = error(LineChart {
        y_range: Some((1.0, 1.0)),
        ..with(vec![(0.0, 1.0)])
    });
    assert!(e.contains("y_range") && e.contains("empty"), "{e}");
    let e = Line::from_xy("m", &[1.0, 2.0], &[1.0], PALETTE[0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 x values but 1 y values"), "{e}");
    assert!(!path.exists(), "a rejected chart left a file behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bar_chart_png_has_its_size_and_every_bar() {
    let dir = temp_dir("bar");
    let path = dir.join("bars.png");
    let chart = BarChart {
        reference: Some((50.0, "reference".to_string())),
        ..BarChart::new("Bars", "value", bars(&[10.0, 120.0, 60.0]))
    };
    save_bar_chart(&path, &chart).unwrap();
    let img = load(&path);
    assert_eq!(img.dimensions(), (MIN_BAR_CHART_WIDTH, BAR_CHART_HEIGHT));
    assert!(count_non_white(&img) > 10_000, "the chart is nearly blank");
    // Bar areas follow the values: the 120 bar is about 12 times the 10 bar.
    let areas: Vec<usize> = (0..3).map(|i| count_near(&img, PALETTE[i])).collect();
    assert!(areas[0] > 200, "the smallest bar is missing: {areas:?}");
    let ratio = areas[1] as f64 / areas[0] as f64;
    assert!((9.0..15.0).contains(&ratio), "bar areas {areas:?}");

    // On a log axis a bar of 0.3 next to one of 110 is still clearly drawn.
    let log_path = dir.join("log.png");
    let log = BarChart {
        log_y: true,
        ..BarChart::new("Log bars", "GFLOP/s", bars(&[0.3, 1.65, 110.0]))
    };
    save_bar_chart(&log_path, &log).unwrap();
    let img = load(&log_path);
    assert!(
        count_near(&img, PALETTE[0]) > 1_000,
        "0.3 is hidden on the log axis"
    );
    let linear_path = dir.join("linear.png");
    save_bar_chart(
        &linear_path,
        &BarChart {
            log_y: false,
            ..log
        },
    )
    .unwrap();
    let img = load(&linear_path);
    assert!(
        count_near(&img, PALETTE[0]) < 300,
        "0.3 is visible on a linear axis?"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn long_bar_labels_widen_the_png_instead_of_overlapping() {
    let dir = temp_dir("bar-wide");
    let path = dir.join("wide.png");
    let mut many = bars(&[1.0; 10]);
    for bar in &mut many {
        bar.label = "BatchNormalization".to_string();
    }
    let chart = BarChart::new("Wide", "ms", many);
    let (width, height) = bar_chart_size(&chart).unwrap();
    assert!(width > MIN_BAR_CHART_WIDTH && height == BAR_CHART_HEIGHT);
    save_bar_chart(&path, &chart).unwrap();
    assert_eq!(load(&path).dimensions(), (width, height));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bar_chart_bad_inputs_are_named_errors_and_write_nothing() {
    let dir = temp_dir("bar-bad");
    let path = dir.join("bad.png");
    let error = |chart: BarChart| save_bar_chart(&path, &chart).unwrap_err().to_string();

    let e = error(BarChart::new("Bad", "y", vec![]));
    assert!(e.contains("at least one bar"), "{e}");
    let e = error(BarChart::new("Bad", "y", bars(&[1.0, f64::NAN])));
    assert!(
        e.contains("non-finite") && e.contains("bar \"bar 1\""),
        "{e}"
    );
    let e = error(BarChart::new("Bad", "y", bars(&[1.0, -2.0])));
    assert!(e.contains("bar \"bar 1\" is -2"), "{e}");
    let e = error(BarChart {
        log_y: true,
        ..BarChart::new("Bad", "y", bars(&[0.0, 2.0]))
    });
    assert!(
        e.contains("bar \"bar 0\"") && e.contains("logarithmic"),
        "{e}"
    );
    let e = error(BarChart {
        reference: Some((f64::INFINITY, "ref".to_string())),
        ..BarChart::new("Bad", "y", bars(&[1.0]))
    });
    assert!(e.contains("reference line \"ref\""), "{e}");
    assert!(!path.exists(), "a rejected chart left a file behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unwritable_path_is_an_error_naming_it() {
    let dir = temp_dir("unwritable");
    // A regular file where a folder should be: no one can create `file.txt/chart.png`.
    let blocker = dir.join("file.txt");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let path = blocker.join("chart.png");
    let e = save_line_chart(&path, &two_lines())
        .unwrap_err()
        .to_string();
    assert!(e.contains("file.txt"), "{e}");
    let chart = BarChart::new("Bars", "y", bars(&[1.0]));
    let e = save_bar_chart(&path, &chart).unwrap_err().to_string();
    assert!(e.contains("file.txt"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_loss_curves_show_the_late_epochs_and_reject_zero() {
    let dir = temp_dir("log-loss");
    let train = [0.8f32, 0.4, 0.3, 0.2, 0.2, 0.15, 0.12, 0.1];
    let val = [4.8f32, 5.9, 4.0, 2.7, 0.4, 0.1, 0.12, 0.09];
    let path = dir.join("loss.png");
    plot_loss_curves_log_y(&path, &train, &val, Some(8)).unwrap();
    let img = load(&path);
    assert_eq!(img.dimensions(), CURVE_SIZE);
    assert!(count_non_white(&img) > 10_000, "the figure is nearly blank");
    let zero = [0.8f32, 0.0];
    let e = plot_loss_curves_log_y(dir.join("zero.png"), &zero, &[1.0, 1.0], None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("training loss of epoch 2") && e.contains("logarithmic"),
        "{e}"
    );
    assert!(!dir.join("zero.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
