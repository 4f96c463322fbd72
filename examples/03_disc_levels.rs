//! Chapter 3 of the book: from slices to disc levels. Writes a synthetic dataset, reads the
//! header of every axial slice, and names each slice's disc level two ways — per series from
//! its geometry (our default; continuous stacks with the discs of the sagittal label points)
//! and with the article's single K-Means over every `SliceLocation` — then scores both against
//! the answer key, for short and continuous stacks, and against the subarticular points of
//! `train_label_coordinates.csv`.
//!
//! `cargo run --release --example 03_disc_levels`
//! (figure: `book/src/figures/03-levels.png`; `LUMBAR_BOOK_TINY=1` uses fewer studies and
//! writes the figure to a temporary folder instead).

use lumbar_cnn::book_examples::{announce, figure_path, synth_dataset, tiny};
use lumbar_cnn::dicom::{read_header, SliceHeader};
use lumbar_cnn::levels::assign::{
    assign_paper_levels, assign_series_levels, assign_series_levels_with_discs, group_stacks,
    image_centre, paper_position,
};
use lumbar_cnn::levels::kmeans::kmeans_1d;
use lumbar_cnn::levels::study_disc_points;
use lumbar_cnn::plot::PALETTE;
use lumbar_cnn::plot::{drawing_error, register_bundled_font, save_rgb_png, FONT};
use lumbar_cnn::rsna::layout::RsnaLayout;
use lumbar_cnn::rsna::records::read_label_coordinates;
use lumbar_cnn::rsna::Level;
use lumbar_cnn::synth::SynthConfig;
use lumbar_cnn::{Error, Result};
use plotters::prelude::*;
use std::collections::{HashMap, HashSet};

/// Picks one of a slice's levels (true, honest, paper, ...).
type Pick<'a> = dyn Fn(&Slice) -> Option<Level> + 'a;

/// One axial slice: where it is, and its level three ways (`None`: between discs).
struct Slice {
    series_index: usize,
    study_id: u64,
    series_id: u64,
    instance: i64,
    header: SliceHeader,
    truth: Option<Level>,
    honest: Option<Level>,
    /// The honest level without the sagittal label points (what `lumbar predict` does).
    honest_without_points: Option<Level>,
    paper: Option<Level>,
    /// Whether the series was found to be one continuous stack.
    continuous: bool,
}

fn main() -> Result<()> {
    kmeans_by_hand()?;
    let studies = if tiny() { 6 } else { 40 };
    let data = synth_dataset("03_disc_levels", &SynthConfig::small(studies, 3))?;
    let truth = read_truth(&data)?;
    let layout = RsnaLayout::open(&data)?;
    let mut slices = Vec::new();
    for (index, (study_id, series_id, files)) in layout.axial_t2_series()?.into_iter().enumerate() {
        for file in files {
            let header = read_header(&file)?;
            let instance = header.instance_number.unwrap_or(-1);
            let truth = *truth.get(&(series_id, instance)).ok_or_else(|| {
                Error::invalid(format!("{} is not in synth_truth.csv", file.display()))
            })?;
            slices.push(Slice {
                series_index: index,
                study_id,
                series_id,
                instance,
                header,
                truth,
                honest: None,
                honest_without_points: None,
                paper: None,
                continuous: false,
            });
        }
    }
    geometry_of_one_series(&slices);

    // Honest: one K-Means per series, on positions along the series axis; a continuous stack
    // takes its discs from the sagittal spinal canal points.
    let coordinates = read_label_coordinates(&layout.label_coordinates_csv())?;
    let (discs, _) = study_disc_points(&layout, &coordinates);
    let seed = 42;
    let series_count = slices.iter().map(|s| s.series_index).max().unwrap_or(0) + 1;
    for index in 0..series_count {
        let members: Vec<usize> = (0..slices.len())
            .filter(|&i| slices[i].series_index == index)
            .collect();
        let headers: Vec<&SliceHeader> = members.iter().map(|&i| &slices[i].header).collect();
        let (study_id, series_id) = (slices[members[0]].study_id, slices[members[0]].series_id);
        let result =
            assign_series_levels_with_discs(&headers, seed, series_id, discs.get(&study_id))?;
        let without_points = assign_series_levels(&headers, seed, series_id)?;
        for ((&i, level), fallback) in members.iter().zip(result.levels).zip(without_points.levels)
        {
            slices[i].honest = level;
            slices[i].honest_without_points = fallback;
            slices[i].continuous = result.continuous;
        }
    }
    // Paper: one K-Means over the SliceLocation of every slice of every study.
    let headers: Vec<&SliceHeader> = slices.iter().map(|s| &s.header).collect();
    let paper = assign_paper_levels(&headers, seed)?;
    for (slice, level) in slices.iter_mut().zip(paper) {
        slice.paper = level;
    }

    let continuous_series: HashSet<usize> = slices
        .iter()
        .filter(|s| s.continuous)
        .map(|s| s.series_index)
        .collect();
    let between = slices.iter().filter(|s| s.truth.is_none()).count();
    println!(
        "\n== Agreement with the answer key ({} slices, {series_count} series, {} of them \
         continuous; {between} slices between discs) ==",
        slices.len(),
        continuous_series.len()
    );
    // A slice agrees when it gets its true level, or no level when it lies between discs.
    let agree = |pick: &dyn Fn(&Slice) -> Option<Level>, continuous: bool| {
        let kind: Vec<&Slice> = slices
            .iter()
            .filter(|s| s.continuous == continuous)
            .collect();
        kind.iter().filter(|s| pick(s) == s.truth).count() as f64 / kind.len().max(1) as f64
    };
    let reversed = |l: Option<Level>| l.and_then(|l| Level::from_index(4 - l as usize));
    println!("{:<42}short   continuous", "");
    let rows: [(&str, &Pick); 4] = [
        ("honest (per series, geometry):", &|s| s.honest),
        ("honest without the sagittal points:", &|s| {
            s.honest_without_points
        }),
        ("paper (global K-Means, ascending names):", &|s| s.paper),
        ("paper clusters, names reversed:", &|s| reversed(s.paper)),
    ];
    for (name, pick) in rows {
        println!(
            "{name:<42}{:.3}   {:.3}",
            agree(pick, false),
            agree(pick, true)
        );
    }

    // What `lumbar prepare` reports: agreement with the radiologists' subarticular points.
    let points: HashSet<(u64, i64, Level)> = coordinates
        .iter()
        .filter(|c| c.is_subarticular())
        .map(|c| (c.series_id, c.instance_number, c.level))
        .collect();
    let by_slice: HashMap<(u64, i64), &Slice> = slices
        .iter()
        .map(|s| ((s.series_id, s.instance), s))
        .collect();
    let score = |pick: &dyn Fn(&Slice) -> Option<Level>| {
        let hits = points
            .iter()
            .filter(|(series, instance, level)| {
                by_slice
                    .get(&(*series, *instance))
                    .is_some_and(|s| pick(s) == Some(*level))
            })
            .count();
        (hits, points.len())
    };
    let (h, n) = score(&|s| s.honest);
    let (p, _) = score(&|s| s.paper);
    println!("\n== Agreement with the subarticular points ({n} points) ==");
    println!("honest: {h}/{n} = {:.3}", h as f64 / n as f64);
    println!("paper:  {p}/{n} = {:.3}", p as f64 / n as f64);

    draw_figure(&slices)
}

/// Read `synth_truth.csv`: (series, instance) → true level (`None` between discs).
fn read_truth(data: &std::path::Path) -> Result<HashMap<(u64, i64), Option<Level>>> {
    let path = data.join("synth_truth.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut truth = HashMap::new();
    for (line_number, line) in text.lines().enumerate().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let parsed = (|| {
            Some((
                (cells.get(1)?.parse().ok()?, cells.get(2)?.parse().ok()?),
                match *cells.get(3)? {
                    "" => None,
                    name => Some(Level::parse(name)?),
                },
            ))
        })();
        let (key, level) = parsed.ok_or_else(|| {
            Error::format(format!("{}:{}", path.display(), line_number + 1), "bad row")
        })?;
        truth.insert(key, level);
    }
    Ok(truth)
}

/// K-Means on ten numbers, the chapter's worked example.
fn kmeans_by_hand() -> Result<()> {
    println!("== K-Means (k = 3) on ten slice positions ==");
    // ANCHOR: kmeans_by_hand
    let positions = [
        -80.0, -76.0, -72.0, -41.0, -37.0, -33.0, -30.0, -2.0, 2.0, 6.0,
    ];
    let fit = kmeans_1d(&positions, 3, 7, 100)?;
    // ANCHOR_END: kmeans_by_hand
    println!("positions  {positions:?}");
    println!("clusters   {:?}", fit.assignment);
    println!(
        "centres    {:?}",
        fit.centres
            .column(0)
            .iter()
            .map(|c| (c * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );
    println!(
        "inertia    {:.2} after {} iterations",
        fit.inertia, fit.iterations
    );
    Ok(())
}

/// For the first series of short stacks: its stacks, and the corner (ImagePositionPatient)
/// versus the centre of each stack's first slice measured along the series axis.
fn geometry_of_one_series(slices: &[Slice]) {
    let series_count = slices.iter().map(|s| s.series_index).max().unwrap_or(0) + 1;
    let Some((first, (membership, stacks))) = (0..series_count)
        .map(|index| {
            let first: Vec<&Slice> = slices.iter().filter(|s| s.series_index == index).collect();
            let normals: Vec<Option<[f64; 3]>> = first.iter().map(|s| s.header.normal()).collect();
            (first, group_stacks(&normals))
        })
        .find(|(_, (_, stacks))| stacks.len() > 1)
    else {
        return;
    };
    let mut axis = [0.0; 3];
    for n in &stacks {
        for k in 0..3 {
            axis[k] += n[k];
        }
    }
    let length = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    let axis = axis.map(|a| a / length);
    let dot = |a: [f64; 3]| a[0] * axis[0] + a[1] * axis[1] + a[2] * axis[2];
    println!(
        "\n== One series: {} slices in {} stacks; axis {:?} ==",
        first.len(),
        stacks.len(),
        axis.map(|a| (a * 1000.0).round() / 1000.0)
    );
    println!(
        "{:>5} {:>6} {:>9} {:>9} {:>10} {:>10} {:>7}",
        "stack", "∠ z (°)", "instance", "true", "centre·a", "corner·a", "Δ (mm)"
    );
    for (k, normal) in stacks.iter().enumerate() {
        let Some(i) = membership.iter().position(|m| *m == Some(k)) else {
            continue;
        };
        let h = &first[i].header;
        let tilt = normal[2].clamp(-1.0, 1.0).acos().to_degrees();
        let centre = dot(image_centre(h).unwrap_or_default());
        let corner = dot(h.image_position.unwrap_or_default());
        println!(
            "{:>5} {:>6.1} {:>9} {:>9} {:>10.1} {:>10.1} {:>7.1}",
            k,
            tilt,
            first[i].instance,
            first[i].truth.map_or("—", Level::name),
            centre,
            corner,
            corner - centre
        );
    }
}

/// Two panels: every slice at (series, SliceLocation), coloured by its true level (left) and
/// by the level the article's global K-Means gives it (right).
fn draw_figure(slices: &[Slice]) -> Result<()> {
    register_bundled_font();
    let (w, h) = (1100u32, 520u32);
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    draw_panels(&mut rgb, (w, h), slices).map_err(|e| drawing_error("03-levels", e))?;
    let path = figure_path("03-levels.png");
    save_rgb_png(&path, &rgb, w, h)?;
    announce(&path);
    Ok(())
}

fn draw_panels(
    rgb: &mut [u8],
    size: (u32, u32),
    slices: &[Slice],
) -> std::result::Result<(), String> {
    let points: Vec<(f64, f64, &Slice)> = slices
        .iter()
        .filter_map(|s| paper_position(&s.header).map(|p| (s.series_index as f64, p, s)))
        .collect();
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let n = slices.iter().map(|s| s.series_index).max().unwrap_or(0) as f64 + 1.0;
    // Room below the lowest slice for the legend.
    let root = BitMapBackend::with_buffer(rgb, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, body) = root.split_vertically(40);
    top.titled(
        "Slice positions of every axial series, coloured by disc level",
        (FONT, 22),
    )
    .map_err(|e| e.to_string())?;
    let panels = body.split_evenly((1, 2));
    let titles = [
        "true level (answer key)",
        "article: one K-Means on SliceLocation",
    ];
    for (p, panel) in panels.iter().enumerate() {
        let mut chart = ChartBuilder::on(panel)
            .caption(titles[p], (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..n - 0.5, (lo - 0.35 * (hi - lo))..(hi + 5.0))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("axial series (one column each)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .y_desc("SliceLocation (mm, + = head)")
            .axis_desc_style((FONT, 15))
            .label_style((FONT, 13))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(|e| e.to_string())?;
        for level in Level::ALL {
            let color = PALETTE[level as usize];
            let pick = |s: &Slice| if p == 0 { s.truth } else { s.paper };
            chart
                .draw_series(
                    points
                        .iter()
                        .filter(|(_, _, s)| pick(s) == Some(level))
                        .map(|&(x, y, _)| Circle::new((x, y), 3, color.filled())),
                )
                .map_err(|e| e.to_string())?
                .label(level.name())
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, color.filled()));
        }
        if p == 0 {
            // Slices of continuous stacks through a vertebral body: at no disc.
            let grey = RGBColor(175, 175, 175);
            chart
                .draw_series(
                    points
                        .iter()
                        .filter(|(_, _, s)| s.truth.is_none())
                        .map(|&(x, y, _)| Circle::new((x, y), 2, grey.filled())),
                )
                .map_err(|e| e.to_string())?
                .label("between discs")
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, grey.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
