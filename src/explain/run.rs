//! `lumbar explain --run DIR`: the figures and numbers of "what the network looks at" for a
//! finished run, written into `DIR/explain/`.
//!
//! It scores every original test slice of the run's prepared dataset (the augmented copies of
//! the article's protocol are left out: their sac has moved), then writes
//! - `grad_cam.png` and `saliency.png`: `images_per_class` test slices of each true class with
//!   the map laid over them, captioned `true → predicted probability`;
//! - `filters.png`: the 32 first-layer 3×3×3 kernels;
//! - `feature_maps.png`: one slice after each block (the output of each max pool);
//! - `misclassified.png`: the test slices the model gets wrong, most confident first;
//! - `pointing_game.png`: the pointing game per class beside its chance level;
//! - `localisation.csv` and `summary.json`: the pointing game and the Grad-CAM mass inside the
//!   sac region, per slice and per class, when the prepared dataset knows where the sac is
//!   (on the real download, which has no sac outline: the circle between the left and right
//!   subarticular points of the slice's level, and `summary.json` says so).

use super::figures::{feature_map_tiles, filter_tiles, overlay};
use super::grad_cam::{default_grad_cam_layer, grad_cam, grad_cam_layer, GradCamLayer};
use super::localisation::{localise, Ellipse, Localisation};
use super::saliency::saliency;
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::experiment::run::read_run_config;
use crate::model::checkpoint::load_model;
use crate::model::{argmax_rows, predict};
use crate::nn::{Pass, Sequential, Tensor};
use crate::plot::bar_chart::{save_bar_chart, Bar, BarChart};
use crate::plot::image_grid::{draw_image_grid, draw_rgb_grid, GrayTile, RgbTile};
use crate::plot::PALETTE;
use crate::prepare::image_ops::read_gray_png;
use crate::prepare::manifest::{network_input, read_manifest, read_prepare_summary, ManifestRow};
use crate::prepare::sac_regions::{read_sac_regions, RegionSource, SacRegion, SliceKey};
use crate::prepare::Split;
use crate::rsna::Severity;
use ndarray::{Array2, Axis};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What `lumbar explain` should do.
#[derive(Clone, Debug)]
pub struct ExplainConfig {
    /// The run folder written by `lumbar run`.
    pub run_dir: PathBuf,
    /// Test slices per true class in the Grad-CAM and saliency figures (default 4).
    pub images_per_class: usize,
    /// The layer Grad-CAM reads (`None`: [`default_grad_cam_layer`]).
    pub layer: Option<String>,
    /// How far beyond the sac's ellipse a map may point and still hit, as a fraction of the
    /// image side (default 0.15: the article's 256-pixel images allow 38 pixels, a 32-pixel
    /// one about 5).
    pub tolerance: f64,
    /// Explain the test split of this prepared folder instead of the run's own (`None`): to
    /// compare two models on the same slices, e.g. a paper-protocol model on the honest test
    /// studies. It must be prepared at the model's input size.
    pub test_from: Option<PathBuf>,
    /// The folder inside the run folder the figures and files go to (default `explain`; the
    /// run's `report.md` shows `explain/` only).
    pub out_name: String,
}

impl ExplainConfig {
    /// The defaults for the run in `run_dir`.
    pub fn new(run_dir: impl Into<PathBuf>) -> ExplainConfig {
        ExplainConfig {
            run_dir: run_dir.into(),
            images_per_class: 4,
            layer: None,
            tolerance: 0.15,
            test_from: None,
            out_name: "explain".into(),
        }
    }
}

/// One test slice as `explain` scored it.
struct Scored<'a> {
    row: &'a ManifestRow,
    gray: Array2<u8>,
    probabilities: Vec<f32>,
    predicted: usize,
}

/// Per-class and overall localisation figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LocalisationSummary {
    /// Slices with a known sac region.
    pub slices: usize,
    /// Share of them whose Grad-CAM maximum lies in the region (pointing game).
    pub pointing_game: f64,
    /// Mean share of the Grad-CAM mass inside the region, over the maps that have any mass
    /// (`None` when every map is zero).
    pub mass_share: Option<f64>,
    /// Mean share of the image inside the region: the chance level of both figures.
    pub chance: f64,
}

/// What `explain` measured, as written to `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ExplainSummary {
    /// The run folder.
    pub run: String,
    /// Input side of the run's model, pixels.
    pub image_size: usize,
    /// The layer Grad-CAM read, its model index and its output size.
    pub layer: String,
    /// Rows and columns of that layer's output.
    pub layer_size: (usize, usize),
    /// Original test slices scored.
    pub test_slices: usize,
    /// How many of them the model got wrong.
    pub misclassified: usize,
    /// Tolerance added to each half-axis of the sac's ellipse, pixels.
    pub tolerance_pixels: f64,
    /// What the regions are: `synth_truth` (the dural sac of the synthetic answer key) or
    /// `subarticular_midpoint` (the real download: the circle between the left and right
    /// subarticular points); `None` when no test slice has a region.
    pub region_source: Option<RegionSource>,
    /// Over all slices with a known sac, then per true class (Table 1 order).
    pub all: Option<LocalisationSummary>,
    /// Per true class: Moderate, Normal/Mild, Severe.
    pub per_class: Vec<(String, Option<LocalisationSummary>)>,
}

/// Explain the run of `config.run_dir` (see the module doc) and return what was measured.
pub fn explain_run(config: &ExplainConfig) -> Result<ExplainSummary> {
    let run_config = read_run_config(&config.run_dir)?;
    let (mut model, architecture) = load_model(&config.run_dir.join("model.safetensors"))?;
    let size = architecture.image_size;
    let layer = match &config.layer {
        Some(name) => grad_cam_layer(&model, name)?,
        None => default_grad_cam_layer(&model)?,
    };
    let prepared_dir = config
        .test_from
        .clone()
        .unwrap_or_else(|| run_config.prepared_dir.clone());
    check_prepared_size(&prepared_dir, size)?;
    let manifest = read_manifest(&prepared_dir.join("manifest.csv"))?;
    let test: Vec<&ManifestRow> = manifest.iter().filter(|r| r.split == Split::Test).collect();
    if test.is_empty() {
        return Err(Error::invalid(format!(
            "{}: the prepared dataset has no test slice to explain",
            prepared_dir.display()
        )));
    }
    let out_dir = config.run_dir.join(&config.out_name);
    std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;

    let scored = score_slices(&mut model, &prepared_dir, &test, size)?;
    let tolerance_pixels = config.tolerance * size as f64;
    let known = read_sac_regions(&prepared_dir)?;
    let regions: Vec<KnownSac> = scored
        .iter()
        .map(|s| sac_region(known.as_ref(), s.row))
        .collect();

    // Grad-CAM of every test slice (for the localisation), its own predicted-or-true class:
    // the true class, to ask "where is the evidence for what the slice is".
    let mut localised: Vec<(usize, Localisation, (usize, usize))> = Vec::new();
    let mut cams: Vec<Array2<f32>> = Vec::with_capacity(scored.len());
    for chunk in scored.chunks(32) {
        let images = batch_of(chunk, size);
        let classes: Vec<usize> = chunk.iter().map(|s| s.row.label.index()).collect();
        cams.extend(
            grad_cam(&mut model, &images, &classes, &layer)?
                .into_iter()
                .map(|c| c.map),
        );
    }
    for (i, region) in regions.iter().enumerate() {
        if let Some((region, original)) = region {
            let found = localise(&cams[i], &region.grown(tolerance_pixels));
            localised.push((i, found, *original));
        }
    }

    draw_maps(
        &mut model,
        &scored,
        &cams,
        (&regions, tolerance_pixels),
        config,
        &out_dir,
        &layer,
    )?;
    draw_filters(&model, &out_dir)?;
    draw_feature_maps(&mut model, &scored[0], &out_dir)?;
    let misclassified = draw_misclassified(&scored, &out_dir)?;
    write_localisation_csv(&out_dir, &scored, &localised, size)?;

    let summary_of = |class: Option<usize>| {
        let picked: Vec<&Localisation> = localised
            .iter()
            .filter(|(i, _, _)| class.is_none_or(|c| scored[*i].row.label.index() == c))
            .map(|(_, l, _)| l)
            .collect();
        summarise(&picked)
    };
    let summary = ExplainSummary {
        run: config.run_dir.display().to_string(),
        image_size: size,
        layer: layer.name.clone(),
        layer_size: layer.size,
        test_slices: scored.len(),
        misclassified,
        tolerance_pixels,
        region_source: known
            .as_ref()
            .and_then(|regions| regions.values().next())
            .map(|region| region.source),
        all: summary_of(None),
        per_class: Severity::ALL
            .iter()
            .map(|s| (s.csv_name().to_string(), summary_of(Some(s.index()))))
            .collect(),
    };
    draw_pointing_game(&summary, &out_dir)?;
    let json = serde_json::to_string_pretty(&summary).expect("serialisable");
    write_atomic(out_dir.join("summary.json"), json.as_bytes())?;
    Ok(summary)
}

/// Refuse a prepared folder made at another input size than the model's (its `summary.json`
/// says which).
fn check_prepared_size(prepared_dir: &Path, size: usize) -> Result<()> {
    let prepared = read_prepare_summary(prepared_dir)?.image_size;
    if prepared == size {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "{}: prepared at {prepared} px, but the model takes {size} px images",
        prepared_dir.display()
    )))
}

/// The sac of one test slice in the network input, and the original slice's (rows, columns).
type KnownSac = Option<(Ellipse, (usize, usize))>;

/// Where the dural sac of a test slice is, in the network input, if the prepared dataset
/// recorded it (`sac_regions.csv`: the sac on synthetic data, the canal between the
/// subarticular points on the real download).
fn sac_region(
    regions: Option<&HashMap<SliceKey, SacRegion>>,
    row: &ManifestRow,
) -> Option<(Ellipse, (usize, usize))> {
    let region = regions?.get(&(row.study_id, row.series_id, row.instance_number))?;
    Some((
        Ellipse {
            centre_row: region.centre_row,
            centre_col: region.centre_col,
            half_rows: region.half_rows,
            half_cols: region.half_cols,
        },
        (region.rows, region.columns),
    ))
}

/// A pixel of the `size × size` input in the original slice's pixels (rows, columns), with the
/// resize's half-pixel-centre convention.
fn to_original(pixel: (usize, usize), size: usize, original: (usize, usize)) -> (f64, f64) {
    let back = |p: usize, len: usize| (p as f64 + 0.5) * len as f64 / size as f64 - 0.5;
    (back(pixel.0, original.0), back(pixel.1, original.1))
}

/// Read, predict and keep every test slice.
fn score_slices<'a>(
    model: &mut Sequential,
    prepared_dir: &Path,
    rows: &[&'a ManifestRow],
    size: usize,
) -> Result<Vec<Scored<'a>>> {
    let mut scored = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(32) {
        let grays: Vec<Array2<u8>> = chunk
            .iter()
            .map(|row| read_gray_png(&prepared_dir.join(&row.path)))
            .collect::<Result<_>>()?;
        let probabilities = predict(model, &inputs(&grays, size), chunk.len())?;
        let predicted = argmax_rows(&probabilities);
        for (((row, gray), p), predicted) in chunk
            .iter()
            .zip(grays)
            .zip(probabilities.outer_iter())
            .zip(predicted)
        {
            scored.push(Scored {
                row,
                gray,
                probabilities: p.to_vec(),
                predicted,
            });
        }
    }
    Ok(scored)
}

/// The network inputs `[n, size, size, 3]` of some 8-bit gray images.
fn inputs<'g>(grays: impl IntoIterator<Item = &'g Array2<u8>>, size: usize) -> Tensor {
    let grays: Vec<&Array2<u8>> = grays.into_iter().collect();
    let mut images = Tensor::zeros(ndarray::IxDyn(&[grays.len(), size, size, 3]));
    for (mut out, gray) in images.axis_iter_mut(Axis(0)).zip(grays) {
        out.assign(&network_input(gray.view(), size).into_dyn());
    }
    images
}

/// The network inputs `[n, size, size, 3]` of some scored slices.
fn batch_of(slices: &[Scored], size: usize) -> Tensor {
    inputs(slices.iter().map(|s| &s.gray), size)
}

/// `Sev → Mod 0.81`: true class, predicted class and its probability, short enough for a tile.
fn caption(s: &Scored) -> String {
    format!(
        "{} → {} {:.2}",
        short_name(s.row.label.index()),
        short_name(s.predicted),
        s.probabilities[s.predicted]
    )
}

/// `Mod`, `N/M`, `Sev`: the class names in figure captions.
fn short_name(class: usize) -> &'static str {
    ["Mod", "N/M", "Sev"].get(class).copied().unwrap_or("?")
}

/// `grad_cam.png` and `saliency.png`: the first `images_per_class` test slices of each class.
fn draw_maps(
    model: &mut Sequential,
    scored: &[Scored],
    cams: &[Array2<f32>],
    (regions, tolerance): (&[KnownSac], f64),
    config: &ExplainConfig,
    out_dir: &Path,
    layer: &GradCamLayer,
) -> Result<()> {
    // One row per class; a class with fewer test slices leaves the rest of its row empty.
    let picked: Vec<Option<usize>> = Severity::ALL
        .iter()
        .flat_map(|class| {
            let mut row: Vec<Option<usize>> = scored
                .iter()
                .enumerate()
                .filter(|(_, s)| s.row.label == *class)
                .map(|(i, _)| Some(i))
                .take(config.images_per_class)
                .collect();
            row.resize(config.images_per_class, None);
            row
        })
        .collect();
    let size = scored[0].gray.nrows();
    let mut cam_tiles = Vec::new();
    let mut saliency_tiles = Vec::new();
    for &pick in &picked {
        let Some(i) = pick else {
            let blank = RgbTile::new(vec![255; size * size * 3], size, size, "")?;
            cam_tiles.push(blank.clone());
            saliency_tiles.push(blank);
            continue;
        };
        let s = &scored[i];
        let mut rgb = overlay(s.gray.view(), &cams[i])?;
        if let Some((region, _)) = &regions[i] {
            outline(&mut rgb, size, &region.grown(tolerance));
        }
        cam_tiles.push(RgbTile::new(rgb, size, size, caption(s))?);
        let images = batch_of(std::slice::from_ref(s), size);
        let map = saliency(model, &images, &[s.row.label.index()])?.remove(0);
        saliency_tiles.push(RgbTile::new(
            overlay(s.gray.view(), &map)?,
            size,
            size,
            caption(s),
        )?);
    }
    let columns = config.images_per_class.max(1);
    draw_rgb_grid(
        out_dir.join("grad_cam.png"),
        &cam_tiles,
        columns,
        160,
        &format!(
            "Grad-CAM of the true class at {} ({}×{})",
            layer.name, layer.size.0, layer.size.1
        ),
    )?;
    draw_rgb_grid(
        out_dir.join("saliency.png"),
        &saliency_tiles,
        columns,
        160,
        "Saliency of the true class, max |∂score/∂x|",
    )
}

/// Mark in green the pixels of `rgb` (`size × size`) inside `region` with a neighbour outside:
/// the region's outline.
fn outline(rgb: &mut [u8], size: usize, region: &Ellipse) {
    for r in 0..size {
        for c in 0..size {
            let inside = |r: usize, c: usize| region.contains(r, c);
            let edge = inside(r, c)
                && (r == 0
                    || c == 0
                    || r + 1 == size
                    || c + 1 == size
                    || !inside(r - 1, c)
                    || !inside(r + 1, c)
                    || !inside(r, c - 1)
                    || !inside(r, c + 1));
            if edge {
                rgb[(r * size + c) * 3..(r * size + c) * 3 + 3].copy_from_slice(&[0, 220, 0]);
            }
        }
    }
}

/// `pointing_game.png`: the pointing game per true class and over all slices, each beside its
/// chance level. Nothing (and no file) without a known sac region.
fn draw_pointing_game(summary: &ExplainSummary, out_dir: &Path) -> Result<()> {
    let path = out_dir.join("pointing_game.png");
    let Some(all) = &summary.all else {
        let _ = std::fs::remove_file(&path);
        return Ok(());
    };
    let mut bars = Vec::new();
    let groups = summary
        .per_class
        .iter()
        .filter_map(|(class, l)| l.as_ref().map(|l| (class.as_str(), l)))
        .chain(std::iter::once(("all", all)));
    for (name, l) in groups {
        bars.push(Bar {
            label: format!("{name}\npointing game"),
            value: l.pointing_game,
            color: PALETTE[0],
        });
        bars.push(Bar {
            label: format!("{name}\nchance"),
            value: l.chance,
            color: PALETTE[1],
        });
    }
    let region = match summary.region_source {
        Some(RegionSource::SubarticularMidpoint) => "canal region (subarticular midpoint)",
        _ => "sac region",
    };
    let title = format!(
        "Grad-CAM maximum inside the {region} (+{:.1} px), {} test slices",
        summary.tolerance_pixels, all.slices
    );
    let mut chart = BarChart::new(&title, "share of slices", bars);
    chart.value_format = |v| format!("{v:.2}");
    save_bar_chart(path, &chart)
}

/// `filters.png`: the first convolution's kernels.
fn draw_filters(model: &Sequential, out_dir: &Path) -> Result<()> {
    let first = model
        .layers()
        .iter()
        .find(|l| l.kind() == "Conv2D")
        .ok_or_else(|| Error::invalid("the model has no convolution"))?;
    let kernel = &first.params()[0].value;
    let tiles = filter_tiles(kernel)?;
    draw_rgb_grid(
        out_dir.join("filters.png"),
        &tiles,
        8,
        64,
        &format!("{} filters of {}, 3×3 × RGB", tiles.len(), first.name()),
    )
}

/// `feature_maps.png`: one slice after each block (8 channels of each max pool's output).
fn draw_feature_maps(model: &mut Sequential, slice: &Scored, out_dir: &Path) -> Result<()> {
    let size = slice.gray.nrows();
    let images = batch_of(std::slice::from_ref(slice), size);
    let pools: Vec<(usize, String)> = model
        .layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| l.kind() == "MaxPooling2D")
        .map(|(i, l)| (i, l.name().to_string()))
        .collect();
    // The input alone on the first row.
    let mut tiles = vec![GrayTile::from_array(slice.gray.view(), "input")?];
    tiles.extend((1..8).map(|_| GrayTile::new(vec![255], 1, 1, "").expect("1×1")));
    for (block, (index, _)) in pools.into_iter().enumerate() {
        let (_, kept) = model.forward_keeping(&images, Pass::Eval, index)?;
        let activation = kept.index_axis(Axis(0), 0).to_owned();
        tiles.extend(feature_map_tiles(
            &activation,
            &format!("block {}", block + 1),
            8,
        )?);
    }
    draw_image_grid(
        out_dir.join("feature_maps.png"),
        &tiles,
        8,
        96,
        &format!("{}: 8 channels after each block's max pool", caption(slice)),
    )
}

/// `misclassified.png`: up to 24 wrong test slices, most confident first. Returns how many
/// slices were wrong.
fn draw_misclassified(scored: &[Scored], out_dir: &Path) -> Result<usize> {
    let mut wrong: Vec<&Scored> = scored
        .iter()
        .filter(|s| s.predicted != s.row.label.index())
        .collect();
    let count = wrong.len();
    let path = out_dir.join("misclassified.png");
    if wrong.is_empty() {
        let _ = std::fs::remove_file(&path);
        return Ok(0);
    }
    wrong.sort_by(|a, b| b.probabilities[b.predicted].total_cmp(&a.probabilities[a.predicted]));
    let tiles: Vec<GrayTile> = wrong
        .iter()
        .take(24)
        .map(|s| GrayTile::from_array(s.gray.view(), caption(s)))
        .collect::<Result<_>>()?;
    draw_image_grid(
        &path,
        &tiles,
        6,
        160,
        &format!("{count} misclassified test slices (true → predicted, probability), most confident first"),
    )?;
    Ok(count)
}

/// `localisation.csv`: one row per test slice with a known sac region; the Grad-CAM peak in
/// the original slice's pixels.
fn write_localisation_csv(
    out_dir: &Path,
    scored: &[Scored],
    localised: &[(usize, Localisation, (usize, usize))],
    size: usize,
) -> Result<()> {
    let mut text = String::from(
        "study_id,series_id,instance_number,class,predicted,peak_row,peak_col,in_region,mass_share\n",
    );
    for (i, l, original) in localised {
        let s = &scored[*i];
        let peak = to_original(l.peak, size, *original);
        text += &format!(
            "{},{},{},{},{},{:.1},{:.1},{},{}\n",
            s.row.study_id,
            s.row.series_id,
            s.row.instance_number,
            s.row.label.csv_name(),
            Severity::from_index(s.predicted).map_or("?", |p| p.csv_name()),
            peak.0,
            peak.1,
            l.hit,
            l.mass_share.map_or(String::new(), |m| format!("{m:.4}"))
        );
    }
    write_atomic(out_dir.join("localisation.csv"), text.as_bytes())
}

/// Pointing game, mean mass share and mean chance of some slices (`None` for none).
fn summarise(slices: &[&Localisation]) -> Option<LocalisationSummary> {
    if slices.is_empty() {
        return None;
    }
    let n = slices.len() as f64;
    let shares: Vec<f64> = slices.iter().filter_map(|l| l.mass_share).collect();
    Some(LocalisationSummary {
        slices: slices.len(),
        pointing_game: slices.iter().filter(|l| l.hit).count() as f64 / n,
        mass_share: (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64),
        chance: slices.iter().map(|l| l.chance).sum::<f64>() / n,
    })
}
