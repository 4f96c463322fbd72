//! Helpers shared by the book's chapter examples (`examples/NN_<topic>.rs`): where figures go,
//! the tiny CI mode, and two small chart kinds (lines, bars) drawn with plotters.
//!
//! Each example includes this file with `#[path = "book_support/mod.rs"] mod book_support;`.
//! Not every example uses every helper, hence the `allow(dead_code)`.
#![allow(dead_code)]

use lumbar_cnn::plot::{drawing_error, register_bundled_font, save_rgb_png, FONT};
use lumbar_cnn::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::PathBuf;

/// Large freed blocks are kept for the next training step, as in the `lumbar` binary (see
/// `lumbar_cnn::recycling_allocator`).
#[global_allocator]
static ALLOCATOR: lumbar_cnn::RecyclingAllocator = lumbar_cnn::RecyclingAllocator;

/// The environment variable that selects the tiny size used by CI (`LUMBAR_BOOK_TINY=1`).
pub const TINY_VAR: &str = "LUMBAR_BOOK_TINY";

/// Whether the example runs at CI size: a few seconds, figures written to a temporary folder
/// so that the committed full-size figures in `book/src/figures/` are never overwritten.
pub fn tiny() -> bool {
    std::env::var(TINY_VAR).is_ok_and(|v| v == "1")
}

/// Where the figure `name` (e.g. `"07-gflops.png"`) is written: `book/src/figures/` at full
/// size, `<temp>/lumbar-book-tiny/` in tiny mode.
pub fn figure_path(name: &str) -> PathBuf {
    let dir = if tiny() {
        std::env::temp_dir().join("lumbar-book-tiny")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("book/src/figures")
    };
    // write_atomic creates missing folders; the path is only announced here.
    dir.join(name)
}

/// Print where a figure went, so the reader knows which file the chapter shows.
pub fn announce(path: &std::path::Path) {
    println!("figure written: {}", path.display());
}

/// Matplotlib's default colour cycle: blue, orange, green, red, purple, brown.
pub const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One named curve of a [`LineChart`].
pub struct Line {
    /// Legend text.
    pub label: String,
    /// The points `(x, y)`, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// Stroke colour.
    pub color: RGBColor,
    /// Dashed instead of solid.
    pub dashed: bool,
}

/// A line chart: title, axis names, curves; optionally both axes as powers of ten.
pub struct LineChart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Name of the x axis.
    pub x_desc: &'a str,
    /// Name of the y axis.
    pub y_desc: &'a str,
    /// The curves.
    pub lines: Vec<Line>,
    /// Plot log10(x) and label ticks `1e-3`, … (values must be > 0).
    pub log_x: bool,
    /// Plot log10(y) likewise.
    pub log_y: bool,
    /// Where the legend goes.
    pub legend: SeriesLabelPosition,
    /// Optional vertical marker `(x, label)`.
    pub marker: Option<(f64, String)>,
}

/// Figure size of every helper chart, in pixels.
pub const SIZE: (u32, u32) = (800, 500);

fn power_of_ten_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("1e{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// Draw `chart` and save it as an 800×500 PNG at `path`.
pub fn save_line_chart(path: &std::path::Path, chart: &LineChart) -> Result<()> {
    register_bundled_font();
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    draw_lines(&mut rgb, chart).map_err(|e| drawing_error(chart.title, e))?;
    save_rgb_png(path, &rgb, w, h)?;
    announce(path);
    Ok(())
}

fn draw_lines(rgb: &mut [u8], c: &LineChart) -> std::result::Result<(), String> {
    let tx = |v: f64| if c.log_x { v.log10() } else { v };
    let ty = |v: f64| if c.log_y { v.log10() } else { v };
    let all: Vec<(f64, f64)> = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|&(x, y)| (tx(x), ty(y))))
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = all.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    if c.log_x {
        (x0, x1) = (x0.floor(), x1.ceil());
    }
    let pad = 0.06 * (y1 - y0).max(1e-9);
    if c.log_y {
        (y0, y1) = (y0.floor(), y1.ceil());
    } else {
        (y0, y1) = (y0 - pad, y1 + pad);
    }
    let root = BitMapBackend::with_buffer(rgb, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(c.title, (FONT, 24))
        .margin(18)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?;
    let x_fmt = |v: &f64| {
        if c.log_x {
            power_of_ten_label(v)
        } else {
            format!("{v}")
        }
    };
    let y_fmt = |v: &f64| {
        if c.log_y {
            power_of_ten_label(v)
        } else {
            format!("{v:.2}")
        }
    };
    let x_ticks = if c.log_x { (x1 - x0) as usize + 1 } else { 10 };
    let y_ticks = if c.log_y { (y1 - y0) as usize + 1 } else { 8 };
    chart
        .configure_mesh()
        .x_desc(c.x_desc)
        .y_desc(c.y_desc)
        .x_labels(x_ticks)
        .y_labels(y_ticks)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 15))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(|e| e.to_string())?;
    for line in &c.lines {
        let pts: Vec<(f64, f64)> = line.points.iter().map(|&(x, y)| (tx(x), ty(y))).collect();
        let color = line.color;
        if line.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, 8, 5, color.stroke_width(3)))
                .map_err(|e| e.to_string())?
                .label(line.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3))
                });
        } else {
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(3)))
                .map_err(|e| e.to_string())?
                .label(line.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3))
                });
        }
    }
    if let Some((x, label)) = &c.marker {
        let x = tx(*x);
        chart
            .draw_series(DashedLineSeries::new(
                [(x, y0), (x, y1)],
                6,
                5,
                BLACK.mix(0.6).stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        let (px, py) = chart.backend_coord(&(x, y1));
        let style = (FONT, 15)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Top));
        root.draw(&Text::new(label.clone(), (px + 6, py + 6), style))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(c.legend.clone())
        .margin(10)
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// One bar of a [`BarChart`].
pub struct Bar {
    /// The label under the bar.
    pub label: String,
    /// The bar's height.
    pub value: f64,
    /// Fill colour.
    pub color: RGBColor,
}

/// A vertical bar chart with the value written above each bar.
pub struct BarChart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Name of the y axis.
    pub y_desc: &'a str,
    /// The bars, left to right.
    pub bars: Vec<Bar>,
    /// Plot log10(value) with ticks `1e-3`, … (values must be > 0).
    pub log_y: bool,
    /// How to print a value above its bar.
    pub value_format: fn(f64) -> String,
    /// Optional horizontal reference line `(y, label)`.
    pub reference: Option<(f64, String)>,
}

/// Draw `chart` and save it as an 800×500 PNG at `path`.
pub fn save_bar_chart(path: &std::path::Path, chart: &BarChart) -> Result<()> {
    register_bundled_font();
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    draw_bars(&mut rgb, chart).map_err(|e| drawing_error(chart.title, e))?;
    save_rgb_png(path, &rgb, w, h)?;
    announce(path);
    Ok(())
}

fn draw_bars(rgb: &mut [u8], c: &BarChart) -> std::result::Result<(), String> {
    let ty = |v: f64| if c.log_y { v.log10() } else { v };
    let values: Vec<f64> = c
        .bars
        .iter()
        .map(|b| ty(b.value))
        .chain(c.reference.iter().map(|r| ty(r.0)))
        .collect();
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let (y0, y1) = if c.log_y {
        (lo.floor() - 0.0, hi.ceil() + 0.5)
    } else {
        (0.0, hi * 1.15)
    };
    let n = c.bars.len() as f64;
    let root = BitMapBackend::with_buffer(rgb, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(c.title, (FONT, 24))
        .margin(18)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..n, y0..y1)
        .map_err(|e| e.to_string())?;
    let y_fmt = |v: &f64| {
        if c.log_y {
            power_of_ten_label(v)
        } else {
            format!("{v}")
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc(c.y_desc)
        .y_labels(if c.log_y { (y1 - y0) as usize + 1 } else { 8 })
        .y_label_formatter(&y_fmt)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 15))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, bar) in c.bars.iter().enumerate() {
        let x = i as f64;
        let top = ty(bar.value);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x + 0.15, y0), (x + 0.85, top)],
                bar.color.filled(),
            )))
            .map_err(|e| e.to_string())?;
        let (px, py) = chart.backend_coord(&(x + 0.5, top));
        let above = (FONT, 16)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        root.draw(&Text::new((c.value_format)(bar.value), (px, py - 4), above))
            .map_err(|e| e.to_string())?;
        let (_, base) = chart.backend_coord(&(x + 0.5, y0));
        let below = (FONT, 15)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for (k, part) in bar.label.split('\n').enumerate() {
            root.draw(&Text::new(
                part.to_string(),
                (px, base + 6 + 18 * k as i32),
                below.clone(),
            ))
            .map_err(|e| e.to_string())?;
        }
    }
    if let Some((y, label)) = &c.reference {
        let y = ty(*y);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, y), (n, y)],
                8,
                5,
                BLACK.mix(0.7).stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        let (px, py) = chart.backend_coord(&(0.0, y));
        let style = (FONT, 15)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Bottom));
        root.draw(&Text::new(label.clone(), (px + 4, py - 3), style))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Generate a synthetic RSNA-layout dataset of `config` into `<temp>/lumbar-book/<name>`
/// (replacing an earlier one there) and return the folder. The examples of Part I use it so
/// that they need no download.
pub fn synth_dataset(name: &str, config: &lumbar_cnn::synth::SynthConfig) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join("lumbar-book").join(name);
    lumbar_cnn::synth::generate(config, &dir, true, false)?;
    Ok(dir)
}

/// The `Axial T2` series of an RSNA-layout folder as `(study_id, series_id, files)`, files in
/// numeric order of their instance numbers, studies and series in ascending id order.
pub fn axial_series(data: &std::path::Path) -> Result<Vec<(u64, u64, Vec<PathBuf>)>> {
    let layout = lumbar_cnn::rsna::layout::RsnaLayout::open(data)?;
    let mut ids: Vec<(u64, u64)> =
        lumbar_cnn::rsna::records::read_series_descriptions(&layout.series_descriptions_csv())?
            .into_iter()
            .filter(|d| d.description == "Axial T2")
            .map(|d| (d.study_id, d.series_id))
            .collect();
    ids.sort_unstable();
    ids.into_iter()
        .map(|(study, series)| Ok((study, series, layout.series_files(study, series)?)))
        .collect()
}

/// Save `tiles` as an image grid at `figure_path(name)` and announce it.
pub fn save_grid(
    name: &str,
    tiles: &[lumbar_cnn::plot::image_grid::GrayTile],
    columns: usize,
    tile_size: u32,
    title: &str,
) -> Result<()> {
    let path = figure_path(name);
    lumbar_cnn::plot::image_grid::draw_image_grid(&path, tiles, columns, tile_size, title)?;
    announce(&path);
    Ok(())
}
