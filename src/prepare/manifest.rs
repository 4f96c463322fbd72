//! The prepared dataset on disk: `manifest.csv` (one row per kept slice, with its PNG),
//! `augmented.csv` (one row per balancing copy: which PNG it is drawn from and how — the copy
//! itself is made on the fly when a batch needs it), and loaders that turn them into training
//! inputs.

use super::augment::{augment_seed, Augmentation};
use super::image_ops::{read_gray_png, resize_bilinear};
use super::split::Split;
use crate::atomic_write::write_atomic_with;
use crate::csv_lines::LineIndex;
use crate::error::{Error, Result};
use crate::rsna::{Level, Severity};
use ndarray::{Array3, Array4, ArrayView2, Axis};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Header of `manifest.csv`, exactly as the issue specifies.
pub const MANIFEST_HEADER: &str =
    "study_id,series_id,instance_number,level,label,label_name,position_mm,split,path";
/// Header of `augmented.csv`.
pub const AUGMENTED_HEADER: &str = "draw,source_path,label,label_name,split,augmentation";

/// One kept slice: where it comes from, its level and label, its split and its PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestRow {
    /// Study id.
    pub study_id: u64,
    /// Series id.
    pub series_id: u64,
    /// Instance number of the slice (from the header, or the file name when missing).
    pub instance_number: i64,
    /// Assigned disc level.
    pub level: Level,
    /// The study's spinal canal stenosis grade at that level.
    pub label: Severity,
    /// Slice position in mm used for the level (honest: along the series axis, + = cranial;
    /// paper: `SliceLocation`).
    pub position_mm: f64,
    /// Train, val or test.
    pub split: Split,
    /// PNG path relative to the output folder, e.g. `png/Severe/1_2_3.png`.
    pub path: String,
}

/// One balancing copy of a kept slice: the Keras augmentation of its PNG, drawn when a batch
/// needs it (see [`crate::train::StreamedDataset`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentedRow {
    /// The copy's number in the balancing plan: its random draw (the `draw` of its
    /// [`Augmentation`]).
    pub draw: u64,
    /// The original PNG it is made from (relative path, as in the manifest).
    pub source_path: String,
    /// Its class (that of the source).
    pub label: Severity,
    /// Its split.
    pub split: Split,
    /// Drawn once (the article's protocol, whose copies are split like images) or afresh every
    /// epoch (the honest protocol's training copies).
    pub augmentation: Augmentation,
}

fn csv_error(path: &Path, e: std::io::Error) -> Error {
    Error::io(path, e)
}

/// Write `manifest.csv` atomically (the whole file is replaced, so re-running never
/// duplicates rows).
pub fn write_manifest(path: &Path, rows: &[ManifestRow]) -> Result<()> {
    write_atomic_with(path, |file| {
        let mut out = std::io::BufWriter::new(file);
        writeln!(out, "{MANIFEST_HEADER}")?;
        for r in rows {
            writeln!(
                out,
                "{},{},{},{},{},{},{:.3},{},{}",
                r.study_id,
                r.series_id,
                r.instance_number,
                r.level.name(),
                r.label.index(),
                r.label.csv_name(),
                r.position_mm,
                r.split.name(),
                r.path
            )?;
        }
        out.flush()
    })
}

/// Write `augmented.csv` atomically.
pub fn write_augmented(path: &Path, rows: &[AugmentedRow]) -> Result<()> {
    write_atomic_with(path, |file| {
        let mut out = std::io::BufWriter::new(file);
        writeln!(out, "{AUGMENTED_HEADER}")?;
        for r in rows {
            writeln!(
                out,
                "{},{},{},{},{},{}",
                r.draw,
                r.source_path,
                r.label.index(),
                r.label.csv_name(),
                r.split.name(),
                r.augmentation.csv_word()
            )?;
        }
        out.flush()
    })
}

/// Read a CSV with a known header into string records, naming file and line on errors.
pub(super) fn read_records(path: &Path, header: &str) -> Result<Vec<(u64, csv::StringRecord)>> {
    let text = std::fs::read(path).map_err(|e| csv_error(path, e))?;
    let lines = LineIndex::new(&text);
    let mut reader = csv::Reader::from_reader(std::io::Cursor::new(text));
    let found = reader
        .headers()
        .map_err(|e| Error::format(format!("{}:1", path.display()), e.to_string()))?
        .iter()
        .collect::<Vec<_>>()
        .join(",");
    if found != header {
        return Err(Error::format(
            format!("{}:1", path.display()),
            format!("expected header `{header}`, found `{found}`"),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| lines.line_of(p.byte()));
            Error::format(format!("{}:{line}", path.display()), e.to_string())
        })?;
        let line = record.position().map_or(0, |p| lines.line_of(p.byte()));
        rows.push((line, record));
    }
    Ok(rows)
}

fn bad(path: &Path, line: u64, what: &str, value: &str) -> Error {
    Error::format(
        format!("{}:{line}", path.display()),
        format!("bad {what}: `{value}`"),
    )
}

fn parse_label(path: &Path, line: u64, text: &str) -> Result<Severity> {
    text.parse::<usize>()
        .ok()
        .and_then(Severity::from_index)
        .ok_or_else(|| bad(path, line, "label", text))
}

fn parse_split(path: &Path, line: u64, text: &str) -> Result<Split> {
    Split::parse(text).ok_or_else(|| bad(path, line, "split", text))
}

/// Read `manifest.csv` back.
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestRow>> {
    read_records(path, MANIFEST_HEADER)?
        .into_iter()
        .map(|(line, r)| {
            let num = |i: usize, what: &str| -> Result<i64> {
                r[i].parse().map_err(|_| bad(path, line, what, &r[i]))
            };
            Ok(ManifestRow {
                study_id: num(0, "study_id")? as u64,
                series_id: num(1, "series_id")? as u64,
                instance_number: num(2, "instance_number")?,
                level: Level::parse(&r[3]).ok_or_else(|| bad(path, line, "level", &r[3]))?,
                label: parse_label(path, line, &r[4])?,
                position_mm: r[6]
                    .parse()
                    .map_err(|_| bad(path, line, "position_mm", &r[6]))?,
                split: parse_split(path, line, &r[7])?,
                path: r[8].to_string(),
            })
        })
        .collect()
}

/// Read `augmented.csv` back.
pub fn read_augmented(path: &Path) -> Result<Vec<AugmentedRow>> {
    read_records(path, AUGMENTED_HEADER)?
        .into_iter()
        .map(|(line, r)| {
            let draw: u64 = r[0].parse().map_err(|_| bad(path, line, "draw", &r[0]))?;
            let augmentation = Augmentation::from_csv_word(&r[5], draw)
                .filter(|a| *a != Augmentation::None)
                .ok_or_else(|| bad(path, line, "augmentation (fixed or per-epoch)", &r[5]))?;
            Ok(AugmentedRow {
                draw,
                source_path: r[1].to_string(),
                label: parse_label(path, line, &r[2])?,
                split: parse_split(path, line, &r[4])?,
                augmentation,
            })
        })
        .collect()
}

/// One image ready for training: its PNG, its class, and the augmentation that makes a copy
/// from it (none for an original slice).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledImage {
    /// Absolute (or `out`-joined) PNG path: the slice itself, or the slice a copy is made from.
    pub path: PathBuf,
    /// Its class ([`Severity::index`] is the network's label, Table 1 numbering).
    pub label: Severity,
    /// [`Augmentation::None`] for an original slice.
    pub augmentation: Augmentation,
}

/// A prepared dataset split three ways; what the training code consumes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreparedDataset {
    /// Training images: originals plus the augmented copies that balance the classes.
    pub train: Vec<LabelledImage>,
    /// Validation images (honest protocol: originals only).
    pub val: Vec<LabelledImage>,
    /// Test images (honest protocol: originals only).
    pub test: Vec<LabelledImage>,
    /// The seed the copies' augmentations are drawn from (from the preparation's seed).
    pub augment_seed: u64,
}

impl PreparedDataset {
    /// The images of one split.
    pub fn split(&self, split: Split) -> &[LabelledImage] {
        match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
            Split::Test => &self.test,
        }
    }
}

/// The `summary.json` of a folder written by `lumbar prepare` (its settings and counts).
pub fn read_prepare_summary(out_dir: &Path) -> Result<super::PrepareSummary> {
    let summary_path = out_dir.join("summary.json");
    let text = std::fs::read_to_string(&summary_path).map_err(|e| Error::io(&summary_path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::format(
            summary_path.display(),
            format!("not a preparation summary: {e}"),
        )
    })
}

/// Load the split lists of a folder written by `lumbar prepare` (`manifest.csv` and, if
/// present, `augmented.csv`), in file order, with paths joined to `out_dir`, and the seed of the
/// augmentations (from `summary.json`).
pub fn load_prepared(out_dir: &Path) -> Result<PreparedDataset> {
    let summary = read_prepare_summary(out_dir)?;
    let mut data = PreparedDataset {
        augment_seed: augment_seed(summary.seed),
        ..PreparedDataset::default()
    };
    let mut push = |split: Split, image: LabelledImage| match split {
        Split::Train => data.train.push(image),
        Split::Val => data.val.push(image),
        Split::Test => data.test.push(image),
    };
    for row in read_manifest(&out_dir.join("manifest.csv"))? {
        push(
            row.split,
            LabelledImage {
                path: out_dir.join(&row.path),
                label: row.label,
                augmentation: Augmentation::None,
            },
        );
    }
    let augmented = out_dir.join("augmented.csv");
    if augmented.exists() {
        for row in read_augmented(&augmented)? {
            push(
                row.split,
                LabelledImage {
                    path: out_dir.join(&row.source_path),
                    label: row.label,
                    augmentation: row.augmentation,
                },
            );
        }
    }
    Ok(data)
}

/// Read PNGs into an NHWC batch `[n, size, size, 3]` of `f32` in `[0, 1]`, as Keras'
/// `image_dataset_from_directory` loads them: grayscale replicated to RGB, bilinear resize to
/// `size × size` if needed, values scaled by 1/255. Reads in parallel; order is kept.
pub fn load_images(paths: &[PathBuf], size: usize) -> Result<Array4<f32>> {
    if size == 0 {
        return Err(Error::invalid("load_images: image size must be positive"));
    }
    let images: Vec<_> = paths
        .par_iter()
        .map(|p| Ok(network_input(read_gray_png(p)?.view(), size)))
        .collect::<Result<_>>()?;
    let mut batch = Array4::zeros((paths.len(), size, size, 3));
    for (mut out, img) in batch.axis_iter_mut(Axis(0)).zip(&images) {
        out.assign(img);
    }
    Ok(batch)
}

/// One 8-bit grayscale image as the network sees it, `[size, size, 3]` in `[0, 1]`: bilinear
/// resize to `size × size` if needed, grayscale replicated to RGB, values scaled by 1/255
/// (what [`load_images`] does to each PNG; `lumbar predict` does it to each slice).
pub fn network_input(gray: ArrayView2<u8>, size: usize) -> Array3<f32> {
    let gray = gray.mapv(f32::from);
    let scaled = resize_bilinear(gray.view(), size, size) / 255.0;
    let mut out = Array3::zeros((size, size, 3));
    for c in 0..3 {
        out.index_axis_mut(Axis(2), c).assign(&scaled);
    }
    out
}
