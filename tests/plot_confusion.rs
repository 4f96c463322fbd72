//! Confusion-matrix heatmap: decodes as a PNG of the intended size, shades cells by row
//! fraction with readable text, and refuses an empty matrix.

use image::RgbImage;
use lumbar_cnn::metrics::{ConfusionMatrix, ARTICLE_CONFUSION, NOTEBOOK_CONFUSION};
use lumbar_cnn::plot::confusion::{
    cell_color, plot_confusion_matrix, text_color_on, CONFUSION_SIZE,
};
use plotters::style::{RGBColor, BLACK, WHITE};
use std::collections::HashSet;
use std::path::PathBuf;

/// A path in a temp folder of its own. Set `LUMBAR_KEEP_TEST_PNGS=1` to keep the files and look at
/// them (the path is printed).
fn temp_png(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lumbar-plot-confusion-{}-{name}",
        std::process::id()
    ));
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

fn count_color(img: &RgbImage, RGBColor(r, g, b): RGBColor) -> usize {
    img.pixels().filter(|p| p.0 == [r, g, b]).count()
}

#[test]
fn shades_run_from_white_to_dark_blue_with_contrasting_text() {
    assert_eq!(cell_color(0.0), RGBColor(247, 251, 255));
    assert_eq!(cell_color(1.0), RGBColor(8, 48, 107));
    assert_eq!(cell_color(2.0), cell_color(1.0));
    assert_eq!(text_color_on(cell_color(0.0)), BLACK);
    assert_eq!(text_color_on(cell_color(0.1)), BLACK);
    assert_eq!(text_color_on(cell_color(0.88)), WHITE);
    assert_eq!(text_color_on(cell_color(1.0)), WHITE);
}

#[test]
fn article_and_notebook_matrices_draw() {
    for (name, matrix, percentages) in [
        ("article", ARTICLE_CONFUSION, false),
        ("notebook", NOTEBOOK_CONFUSION, true),
    ] {
        let path = temp_png(name);
        plot_confusion_matrix(&path, &matrix, "Confusion matrix (test set)", percentages).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), CONFUSION_SIZE);
        let colors: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(colors.len() > 50, "{} colours only", colors.len());
        // Every cell's fill colour covers a large area (a cell is 150×150 minus its text).
        let fractions = matrix.row_normalized();
        for row in fractions {
            for f in row {
                assert!(
                    count_color(&img, cell_color(f)) > 10_000,
                    "cell with {f} missing"
                );
            }
        }
        // Dark diagonal cells carry white text: white pixels inside the (0, 0) cell.
        let white_in_cell = (200..350)
            .flat_map(|x| (85..235).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 == [255, 255, 255])
            .count();
        assert!(
            white_in_cell > 30,
            "no white text on the dark diagonal cell"
        );
        finish(&path);
    }
}

#[test]
fn an_empty_matrix_is_an_error() {
    let path = temp_png("empty");
    let err = plot_confusion_matrix(&path, &ConfusionMatrix::default(), "empty", true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no samples"), "{err}");
    assert!(!path.exists());
}

#[test]
fn a_class_missing_from_the_data_still_draws() {
    // No Severe samples at all: that row stays white (0 %), no division by zero.
    let m = ConfusionMatrix::from_counts([[5, 1, 0], [2, 9, 1], [0, 0, 0]]);
    let path = temp_png("missing-class");
    plot_confusion_matrix(&path, &m, "No severe cases", true).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert!(count_color(&img, cell_color(0.0)) > 3 * 10_000);
    finish(&path);
}
