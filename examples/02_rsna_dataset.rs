//! Chapter 2 of the book: the RSNA 2024 layout and our synthetic twin. Writes a synthetic
//! dataset, prints the first lines of its CSV files and its class counts, draws the gallery of
//! one slice per grade, and plots the probability that a grader records each grade as a
//! function of the dural-sac area.
//!
//! `cargo run --release --example 02_rsna_dataset`
//! (figures: `book/src/figures/02-synth-gallery.png`, `book/src/figures/02-grader.png`;
//! `LUMBAR_BOOK_TINY=1` uses fewer studies and writes the figures to a temporary folder).

#[path = "book_support/mod.rs"]
mod book_support;

use book_support::COLORS;
use book_support::{announce, figure_path, save_line_chart, synth_dataset, tiny, Line, LineChart};
use image::ImageEncoder;
use lumbar_cnn::atomic_write::write_atomic;
use lumbar_cnn::rsna::{Level, Severity};
use lumbar_cnn::synth::grading::label_probabilities;
use lumbar_cnn::synth::{SynthConfig, GALLERY_FILE, RSNA_PREVALENCE};
use lumbar_cnn::{Error, Result};
use plotters::prelude::SeriesLabelPosition;

fn main() -> Result<()> {
    let studies = if tiny() { 6 } else { 124 };
    let data = std::env::temp_dir().join("lumbar-book/02_rsna_dataset");
    let start = std::time::Instant::now();
    // ANCHOR: generate
    let config = SynthConfig::small(studies, 42);
    let summary = lumbar_cnn::synth::generate(&config, &data, true, false)?;
    // ANCHOR_END: generate
    show_csv_heads(&data)?;
    println!(
        "\n== lumbar synth --studies {studies} (small images), {:.1} s ==\n{summary}",
        start.elapsed().as_secs_f64()
    );
    println!("\nRSNA prevalence per level (Normal/Mild, Moderate, Severe):");
    for (level, p) in Level::ALL.iter().zip(RSNA_PREVALENCE) {
        println!("  {level}: {:.3} {:.3} {:.3}", p[0], p[1], p[2]);
    }
    gallery()?;
    grader_figure()
}

/// The first lines of the three Kaggle CSV files and of the answer key.
fn show_csv_heads(data: &std::path::Path) -> Result<()> {
    for (name, lines) in [
        ("train.csv", 2),
        ("train_series_descriptions.csv", 5),
        ("train_label_coordinates.csv", 4),
        ("synth_truth.csv", 3),
    ] {
        let path = data.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        println!("\n== {name} ({} lines) ==", text.lines().count());
        for line in text.lines().take(lines) {
            // train.csv has 26 columns: show the study id and the five canal columns.
            if name == "train.csv" {
                let cells: Vec<&str> = line.split(',').collect();
                println!("{} … ({} columns)", cells[..6].join(","), cells.len());
            } else {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// One slice per grade at realistic size: a few studies with the default matrix.
fn gallery() -> Result<()> {
    let config = SynthConfig {
        gallery: true,
        axial_matrix: SynthConfig::default().axial_matrix,
        ..SynthConfig::small(if tiny() { 6 } else { 16 }, 7)
    };
    let data = synth_dataset("02_rsna_gallery", &config)?;
    let source = data.join(GALLERY_FILE);
    // The library draws 240-pixel tiles; the book shows it at 60 % to keep the file small.
    let full = image::open(&source)
        .map_err(|e| Error::format(source.display(), e.to_string()))?
        .to_rgb8();
    let (w, h) = (full.width() * 6 / 10, full.height() * 6 / 10);
    let small = image::imageops::resize(&full, w, h, image::imageops::FilterType::Triangle);
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(small.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::format("02-synth-gallery.png", e.to_string()))?;
    let path = figure_path("02-synth-gallery.png");
    write_atomic(&path, &bytes)?;
    announce(&path);
    Ok(())
}

/// P(recorded grade | true area) for graders who misjudge the area by 3 mm² (the default).
fn grader_figure() -> Result<()> {
    let areas: Vec<f64> = (0..=120).map(|i| 60.0 + 0.5 * i as f64).collect();
    let lines = Severity::MILDEST_FIRST
        .into_iter()
        .map(|grade| Line {
            label: grade.csv_name().to_string(),
            points: areas
                .iter()
                .map(|&a| (a, label_probabilities(a, 3.0)[grade.rank()]))
                .collect(),
            color: COLORS[grade.rank()],
            dashed: false,
        })
        .collect();
    save_line_chart(
        &figure_path("02-grader.png"),
        &LineChart {
            title: "Which grade a grader records (misjudgement sd 3 mm²)",
            x_desc: "true dural-sac area (mm²)",
            y_desc: "probability",
            lines,
            log_x: false,
            log_y: false,
            legend: SeriesLabelPosition::MiddleRight,
            marker: None,
        },
    )
}
