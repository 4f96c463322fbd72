//! Chapter 2 of the book: the RSNA 2024 layout and our synthetic twin. Writes a synthetic
//! dataset, prints the first lines of its CSV files and its class counts, draws the gallery of
//! one slice per grade, and plots the probability that a grader records each grade as a
//! function of the dural-sac area.
//!
//! `cargo run --release --example 02_rsna_dataset`
//! (figures: `book/src/figures/02-synth-gallery.png`, `book/src/figures/02-grader.png`;
//! `LUMBAR_BOOK_TINY=1` uses fewer studies and writes the figures to a temporary folder).

use image::ImageEncoder;
use lumbar_cnn::atomic_write::write_atomic;
use lumbar_cnn::book_examples::{announce, figure_path, synth_dataset, tiny};
use lumbar_cnn::plot::line_chart::{save_line_chart, Line, LineChart};
use lumbar_cnn::plot::PALETTE;
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
    // The library draws 240-pixel tiles with 16-pixel captions; the book shows them at that
    // size. Every pixel is a shade of grey, so one channel (8-bit greyscale PNG) keeps it small.
    let gray = image::open(&source)
        .map_err(|e| Error::format(source.display(), e.to_string()))?
        .to_luma8();
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            gray.as_raw(),
            gray.width(),
            gray.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(|e| Error::format("02-synth-gallery.png", e.to_string()))?;
    let path = figure_path("02-synth-gallery.png");
    write_atomic(&path, &bytes)?;
    announce(&path);
    Ok(())
}

/// P(recorded grade | true area) for graders who misjudge the area by 3 mm² (the default),
/// sampled every 0.05 mm² so that the smooth curves are drawn smooth.
fn grader_figure() -> Result<()> {
    let areas: Vec<f64> = (0..=1200).map(|i| 60.0 + 0.05 * i as f64).collect();
    let lines = Severity::MILDEST_FIRST
        .into_iter()
        .map(|grade| {
            let points = areas
                .iter()
                .map(|&a| (a, label_probabilities(a, 3.0)[grade.rank()]))
                .collect();
            Line::new(grade.csv_name(), points, PALETTE[grade.rank()])
        })
        .collect();
    let chart = LineChart {
        legend: SeriesLabelPosition::MiddleRight,
        ..LineChart::new(
            "Which grade a grader records (misjudgement sd 3 mm²)",
            "true dural-sac area (mm²)",
            "probability",
            lines,
        )
    };
    let path = figure_path("02-grader.png");
    save_line_chart(&path, &chart)?;
    announce(&path);
    Ok(())
}
