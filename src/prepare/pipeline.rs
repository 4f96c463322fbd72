//! The stages of `lumbar prepare`, in order: metadata → series → DICOM headers → levels →
//! labels → PNG → split and balance → manifest and summary.
//!
//! Nothing is held in memory per pixel beyond one slice per worker: headers are read first (in
//! parallel, stopping before the pixel data), levels are assigned from them, and only the kept
//! slices are decoded and written as PNGs.

use super::augment::Augmentation;
use super::image_ops::{slice_to_u8, write_gray_png};
use super::input_digest::input_digest;
use super::manifest::{write_augmented, write_manifest, AugmentedRow, ManifestRow};
use super::sac_regions::write_sac_regions;
use super::split::{split_by_study, split_images, Split};
use super::staging::OutputFolders;
use super::summary::{LevelAgreement, PrepareSummary, SkippedFile};
use crate::atomic_write::write_atomic;
use crate::dicom::{read_header, read_slice, SliceHeader};
use crate::error::{Error, Result};
use crate::levels::assign::{assign_paper_levels, assign_series_levels_with_discs, paper_position};
use crate::levels::{study_disc_points, DiscPoints};
use crate::rsna::records::{read_label_coordinates, read_series_descriptions, read_train_labels};
use crate::rsna::{LabelCoordinate, Level, RsnaLayout, SeriesDescription, Severity, StudyLabels};
use crate::seed::stream_seed;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::config::PrepareConfig;
pub use super::protocol::Protocol;

/// Seed streams, so that each random choice has its own sub-seed.
/// (The augmentation's stream is [`super::augment::STREAM_AUGMENT`], 2.)
const STREAM_SPLIT: u64 = 1;
const STREAM_LEVELS: u64 = 3;

/// The seed the honest protocol passes to [`assign_series_levels_with_discs`] in a run seeded with
/// `seed` (with the series id as `series_key`); `lumbar predict` uses it to place slices
/// exactly as `prepare` did.
pub fn honest_level_seed(seed: u64) -> u64 {
    stream_seed(seed, STREAM_LEVELS)
}

/// One axial slice met during the run.
#[derive(Debug, Clone)]
struct Slice {
    study_id: u64,
    series_id: u64,
    instance: i64,
    header: SliceHeader,
    level: Option<Level>,
    position: Option<f64>,
}

/// Collects warnings; prints them at once when verbose.
struct Warnings {
    verbose: bool,
    all: Vec<String>,
}

impl Warnings {
    fn push(&mut self, message: String) {
        if self.verbose {
            eprintln!("warning: {message}");
        }
        self.all.push(message);
    }
}

/// What a stage's progress bar shows: `   png [=====>    ] 1200/2713 files  85.3/s  eta 18s`
/// (the rate and the estimated time left follow the recent pace).
const STAGE_BAR_TEMPLATE: &str =
    "{prefix:>10} [{bar:40}] {pos}/{len} files  {per_sec:1}  eta {eta}";

fn stage_bar(verbose: bool, len: usize, stage: &'static str) -> ProgressBar {
    if !verbose {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template(STAGE_BAR_TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(stage);
    bar
}

/// Run the whole pipeline (see the module doc) and write into `config.out_dir`:
/// `png/<class>/<study>_<series>_<instance>.png`, `augmented/<class>/…` (if balancing),
/// `manifest.csv`, `augmented.csv`, `summary.json` and the marker `lumbar-prepare.json`.
/// Returns the counts.
///
/// The output is built in the sibling folder `<out>.partial` and swapped in whole at the end
/// (see [`super::staging`]), so a run that fails leaves an earlier output untouched. A run
/// interrupted and started again with the same inputs and settings
/// ([`super::input_digest`](mod@super::input_digest)) reuses the PNGs it had written.
///
/// Bad DICOM files and non-axial series are skipped with a warning and counted; a CSV error,
/// a folder not in the RSNA layout, an unwritable output, an `--out` folder holding files
/// that `prepare` did not write, or a run that keeps no slice at all is an error.
pub fn run(config: &PrepareConfig) -> Result<PrepareSummary> {
    let start = Instant::now();
    config.validate()?;
    let mut warnings = Warnings {
        verbose: config.verbose,
        all: Vec::new(),
    };
    let folders = OutputFolders::new(&config.out_dir)?;
    if let Some(recovered) = folders.recover()? {
        warnings.push(recovered);
    }
    let digest = input_digest(config)?;
    if folders.open_staging(&digest)? && config.verbose {
        eprintln!(
            "resuming the interrupted preparation in {} (same inputs and settings)",
            folders.staging.display()
        );
    }
    // Every stage below writes into the staging folder.
    let staged = PrepareConfig {
        out_dir: folders.staging.clone(),
        ..config.clone()
    };
    let mut summary = PrepareSummary {
        protocol: config.protocol,
        seed: config.seed,
        image_size: config.image_size,
        input_digest: digest,
        ..Default::default()
    };
    let csvs = read_csvs(&staged, &mut summary)?;
    let files = axial_series_files(&csvs, &mut summary, &mut warnings);
    let mut series = read_slice_headers(&files, &staged, &mut summary, &mut warnings);
    drop_non_axial_and_duplicates(&mut series, &mut summary, &mut warnings);
    assign_levels(&mut series, &csvs, &staged, &mut summary, &mut warnings)?;
    summary.level_agreement = level_agreement(&series, &csvs.coordinates);
    let kept = label_slices(series, &csvs.labels, &mut summary, &mut warnings);
    let mut rows = write_pngs(&kept, &staged, &mut summary, &mut warnings)?;
    if rows.is_empty() {
        folders.discard_staging()?;
        return Err(Error::invalid(format!(
            "no slice was kept from {}: {}; {} was left as it was",
            config.data_dir.display(),
            summary.why_nothing_kept(),
            config.out_dir.display()
        )));
    }
    // Files read per second over the two stages so far, which read DICOM files: every header,
    // then the pixels of every kept slice not reused from an interrupted run.
    let reading_seconds: f64 = summary.stage_seconds.iter().map(|(_, t)| t).sum();
    let read_files = summary.files_found + summary.slices_kept - summary.slices_reused;
    summary.files_per_second = read_files as f64 / reading_seconds.max(1e-9);
    let balance_start = Instant::now();
    let augmented = split_and_balance(&mut rows, &staged)?;
    count_splits(&rows, &augmented, &mut summary, &mut warnings);
    summary.stage_seconds.push((
        "split + balance plan".into(),
        balance_start.elapsed().as_secs_f64(),
    ));
    write_manifests(&staged.out_dir, &rows, &augmented)?;
    let series_sizes: HashMap<(u64, u64), (usize, usize)> = kept
        .iter()
        .map(|(slice, _)| {
            let (h, w) = (slice.header.rows as usize, slice.header.columns as usize);
            ((slice.study_id, slice.series_id), (h, w))
        })
        .collect();
    let regions = write_sac_regions(
        &config.data_dir,
        &staged.out_dir,
        &rows,
        config.image_size,
        &csvs.coordinates,
        &series_sizes,
    )?;
    if regions.is_none() {
        warnings.push(
            "synth_truth.csv does not record the dural sac's extent (made by an older lumbar synth): \
             no sac_regions.csv, so `lumbar explain` cannot measure localisation; regenerate the \
             dataset with `lumbar synth --overwrite`"
                .into(),
        );
    }
    summary.warnings = warnings.all;
    summary.seconds = start.elapsed().as_secs_f64();
    write_summary(&staged.out_dir, &summary)?;
    folders.swap_in()?;
    Ok(summary)
}

/// What the three CSV files say, as the later stages use it.
struct CsvInputs {
    /// The dataset folder's layout (where each series' DICOM files are).
    layout: RsnaLayout,
    /// `train.csv`: the labels of each study, by study id.
    labels: HashMap<u64, StudyLabels>,
    /// `train_series_descriptions.csv`.
    descriptions: Vec<SeriesDescription>,
    /// `train_label_coordinates.csv` (to check the level assignment against).
    coordinates: Vec<LabelCoordinate>,
}

/// Stage 1, metadata: open the RSNA layout and read its three CSV files.
fn read_csvs(config: &PrepareConfig, summary: &mut PrepareSummary) -> Result<CsvInputs> {
    let layout = RsnaLayout::open(&config.data_dir)?;
    let labels: HashMap<u64, StudyLabels> = read_train_labels(&layout.train_csv())?
        .into_iter()
        .map(|s| (s.study_id, s))
        .collect();
    summary.studies_in_csv = labels.len();
    let descriptions = read_series_descriptions(&layout.series_descriptions_csv())?;
    let coordinates = read_label_coordinates(&layout.label_coordinates_csv())?;
    Ok(CsvInputs {
        layout,
        labels,
        descriptions,
        coordinates,
    })
}

/// Stage 2, series: every Axial T2 series (a study may have several, see
/// [`SeriesDescription::is_axial_t2`]) and its DICOM files as `(study, series, path)`. A series
/// whose folder cannot be listed is skipped with a warning.
fn axial_series_files(
    csvs: &CsvInputs,
    summary: &mut PrepareSummary,
    warnings: &mut Warnings,
) -> Vec<(u64, u64, PathBuf)> {
    let mut axial: Vec<(u64, u64)> = csvs
        .descriptions
        .iter()
        .filter(|d| d.is_axial_t2())
        .map(|d| (d.study_id, d.series_id))
        .collect();
    axial.sort_unstable();
    axial.dedup();
    summary.axial_series = axial.len();
    let mut files: Vec<(u64, u64, PathBuf)> = Vec::new();
    for &(study, series) in &axial {
        match csvs.layout.series_files(study, series) {
            Ok(list) => files.extend(list.into_iter().map(|p| (study, series, p))),
            Err(e) => {
                summary.series_skipped += 1;
                warnings.push(format!("series {study}/{series} skipped: {e}"));
            }
        }
    }
    summary.files_found = files.len();
    files
}

/// Stage 3, DICOM headers: read the header of every file in parallel (order kept), stopping
/// before the pixel data, and group the slices by series. An unreadable file, or one with
/// neither an `InstanceNumber` nor a numeric file name, is skipped and counted.
fn read_slice_headers(
    files: &[(u64, u64, PathBuf)],
    config: &PrepareConfig,
    summary: &mut PrepareSummary,
    warnings: &mut Warnings,
) -> BTreeMap<(u64, u64), Vec<Slice>> {
    let read_start = Instant::now();
    let bar = stage_bar(config.verbose, files.len(), "headers");
    let headers: Vec<Result<SliceHeader>> = files
        .par_iter()
        .map(|(_, _, path)| {
            let header = read_header(path);
            bar.inc(1);
            header
        })
        .collect();
    bar.finish_and_clear();
    summary
        .stage_seconds
        .push(("headers".into(), read_start.elapsed().as_secs_f64()));
    let mut slices = Vec::new();
    for ((study_id, series_id, path), header) in files.iter().zip(headers) {
        let header = match header {
            Ok(h) => h,
            Err(e) => {
                skip_file(summary, warnings, path, &reason(&e));
                continue;
            }
        };
        let from_name = path.file_stem().and_then(|s| s.to_str()?.parse().ok());
        let Some(instance) = header.instance_number.or(from_name) else {
            skip_file(
                summary,
                warnings,
                path,
                "no InstanceNumber and the file name is not a number",
            );
            continue;
        };
        slices.push(Slice {
            study_id: *study_id,
            series_id: *series_id,
            instance,
            header,
            level: None,
            position: None,
        });
    }
    group_by_series(slices)
}

/// Stage 4, levels: give every slice a disc level and a position, by the protocol's rule
/// (honest: from each series' own geometry, continuous stacks with the discs of the sagittal
/// label points; paper: one global K-Means on `SliceLocation`).
fn assign_levels(
    series: &mut BTreeMap<(u64, u64), Vec<Slice>>,
    csvs: &CsvInputs,
    config: &PrepareConfig,
    summary: &mut PrepareSummary,
    warnings: &mut Warnings,
) -> Result<()> {
    match config.protocol {
        Protocol::Honest => {
            let studies: HashSet<u64> = series.keys().map(|&(study, _)| study).collect();
            let in_run = csvs
                .coordinates
                .iter()
                .filter(|c| studies.contains(&c.study_id));
            let (discs, disc_warnings) = study_disc_points(&csvs.layout, in_run);
            disc_warnings.into_iter().for_each(|w| warnings.push(w));
            assign_honest(series, &discs, config.seed, summary, warnings)
        }
        Protocol::Paper => assign_paper(series, config.seed),
    }
}

/// Stage 5, labels: each slice gets its study's spinal canal grade at its level; slices with
/// no level or no label there are dropped and counted. The kept slices are ordered by study,
/// series, then position from cranial to caudal.
fn label_slices(
    series: BTreeMap<(u64, u64), Vec<Slice>>,
    labels: &HashMap<u64, StudyLabels>,
    summary: &mut PrepareSummary,
    warnings: &mut Warnings,
) -> Vec<(Slice, Severity)> {
    let mut kept: Vec<(Slice, Severity)> = Vec::new();
    for slice in series.into_values().flatten() {
        let Some(level) = slice.level else {
            summary.slices_without_level += 1;
            continue;
        };
        match labels.get(&slice.study_id).and_then(|s| s.at(level)) {
            Some(label) => kept.push((slice, label)),
            None => summary.slices_missing_label += 1,
        }
    }
    if summary.slices_missing_label > 0 {
        warnings.push(format!(
            "{} slice(s) dropped: their study has no spinal canal label at their level",
            summary.slices_missing_label
        ));
    }
    kept.sort_by(|(a, _), (b, _)| {
        (a.study_id, a.series_id)
            .cmp(&(b.study_id, b.series_id))
            .then(
                b.position
                    .unwrap_or(0.0)
                    .total_cmp(&a.position.unwrap_or(0.0)),
            )
            .then(a.instance.cmp(&b.instance))
    });
    kept
}

/// Stage 6, PNGs: decode the kept slices and write their PNGs in parallel
/// ([`write_slice_png`]); returns one manifest row per PNG (split still `train`). A PNG that
/// an interrupted run with the same inputs already wrote is kept as it is (PNGs are written
/// atomically, so one that exists is complete) and counted as reused. A slice whose pixels
/// cannot be decoded is skipped and counted.
fn write_pngs(
    kept: &[(Slice, Severity)],
    config: &PrepareConfig,
    summary: &mut PrepareSummary,
    warnings: &mut Warnings,
) -> Result<Vec<ManifestRow>> {
    let pixel_start = Instant::now();
    let already_written = files_under(&config.out_dir, "png");
    let reused: Vec<bool> = kept
        .iter()
        .map(|(slice, label)| already_written.contains(&png_path(slice, *label)))
        .collect();
    summary.slices_reused = reused.iter().filter(|r| **r).count();
    let bar = stage_bar(config.verbose, kept.len(), "png");
    bar.set_position(summary.slices_reused as u64);
    bar.reset_eta();
    let written: Vec<Result<std::result::Result<String, String>>> = kept
        .par_iter()
        .zip(&reused)
        .map(|((slice, label), &reused)| {
            if reused {
                return Ok(Ok(png_path(slice, *label)));
            }
            let result = write_slice_png(slice, *label, &config.out_dir, config.image_size);
            bar.inc(1);
            result
        })
        .collect();
    bar.finish_and_clear();
    let pixel_seconds = pixel_start.elapsed().as_secs_f64();
    let mut rows = Vec::new();
    for ((slice, label), result) in kept.iter().zip(written) {
        match result? {
            Ok(path) => rows.push(ManifestRow {
                study_id: slice.study_id,
                series_id: slice.series_id,
                instance_number: slice.instance,
                level: slice.level.expect("kept slices have a level"),
                label: *label,
                position_mm: slice.position.unwrap_or(f64::NAN),
                split: Split::Train,
                path,
            }),
            Err(why) => skip_file(summary, warnings, &slice.header.path, &why),
        }
    }
    summary.slices_kept = rows.len();
    summary
        .stage_seconds
        .push(("decode + png".into(), pixel_seconds));
    Ok(rows)
}

// ANCHOR: split_and_balance
/// Stage 7, split and balance: set each row's split and write the augmented copies that
/// balance the classes (honest: split by study, then augment the training split only; paper:
/// augment everything, then split the images).
fn split_and_balance(
    rows: &mut [ManifestRow],
    config: &PrepareConfig,
) -> Result<Vec<AugmentedRow>> {
    let split_seed = stream_seed(config.seed, STREAM_SPLIT);
    match config.protocol {
        Protocol::Honest => {
            let mut by_study: BTreeMap<u64, Vec<Severity>> = BTreeMap::new();
            for r in rows.iter() {
                by_study.entry(r.study_id).or_default().push(r.label);
            }
            let splits = split_by_study(&by_study, &config.fractions, split_seed)?;
            for r in rows.iter_mut() {
                r.split = splits[&r.study_id];
            }
            let train: Vec<usize> = (0..rows.len())
                .filter(|&i| rows[i].split == Split::Train)
                .collect();
            Ok(if config.balance {
                augment_to_balance(rows, &train, config.protocol)
            } else {
                Vec::new()
            })
        }
        Protocol::Paper => {
            let all: Vec<usize> = (0..rows.len()).collect();
            let mut augmented = if config.balance {
                augment_to_balance(rows, &all, config.protocol)
            } else {
                Vec::new()
            };
            let splits = split_images(rows.len() + augmented.len(), &config.fractions, split_seed)?;
            for (r, s) in rows.iter_mut().zip(&splits) {
                r.split = *s;
            }
            for (a, s) in augmented.iter_mut().zip(&splits[rows.len()..]) {
                a.split = *s;
            }
            Ok(augmented)
        }
    }
}
// ANCHOR_END: split_and_balance

/// Stage 8a, manifests: write `manifest.csv` and `augmented.csv`.
fn write_manifests(out_dir: &Path, rows: &[ManifestRow], augmented: &[AugmentedRow]) -> Result<()> {
    write_manifest(&out_dir.join("manifest.csv"), rows)?;
    write_augmented(&out_dir.join("augmented.csv"), augmented)
}

/// Stage 8b, summary: write the counts as `summary.json`.
fn write_summary(out_dir: &Path, summary: &PrepareSummary) -> Result<()> {
    let json = serde_json::to_string_pretty(summary)
        .map_err(|e| Error::invalid(format!("cannot serialise the summary: {e}")))?;
    write_atomic(out_dir.join("summary.json"), json.as_bytes())
}

/// The message of an error without its location (the caller names the file itself).
fn reason(error: &Error) -> String {
    match error {
        Error::Format { message, .. } => message.clone(),
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

fn skip_file(summary: &mut PrepareSummary, warnings: &mut Warnings, path: &Path, reason: &str) {
    warnings.push(format!("skipped {}: {reason}", path.display()));
    summary.files_skipped.push(SkippedFile {
        path: path.display().to_string(),
        reason: reason.to_string(),
    });
}

fn group_by_series(slices: Vec<Slice>) -> BTreeMap<(u64, u64), Vec<Slice>> {
    let mut series: BTreeMap<(u64, u64), Vec<Slice>> = BTreeMap::new();
    for s in slices {
        series.entry((s.study_id, s.series_id)).or_default().push(s);
    }
    series
}

/// Stage 3 (check): skip series with no axial slice (by [`SliceHeader::is_axial`]), drop
/// non-axial slices of mixed series, and drop a slice whose instance number repeats one
/// already seen in its series (its PNG name would clash).
fn drop_non_axial_and_duplicates(
    series: &mut BTreeMap<(u64, u64), Vec<Slice>>,
    summary: &mut PrepareSummary,
    warnings: &mut Warnings,
) {
    for ((study, series_id), slices) in series.iter_mut() {
        let total = slices.len();
        // Each reason with its count, e.g. `6 × no ImageOrientationPatient (0020,0037)`.
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        slices.retain(|s| match s.header.not_axial_reason() {
            None => true,
            Some(reason) => {
                *reasons.entry(reason).or_default() += 1;
                false
            }
        });
        let why = reasons
            .iter()
            .map(|(reason, n)| format!("{n} × {reason}"))
            .collect::<Vec<_>>()
            .join("; ");
        let dropped = total - slices.len();
        summary.slices_not_axial += dropped;
        if slices.is_empty() && total > 0 {
            summary.series_skipped += 1;
            warnings.push(format!(
                "series {study}/{series_id} skipped: no axial slice ({why})"
            ));
        } else if dropped > 0 {
            warnings.push(format!(
                "series {study}/{series_id}: {dropped} non-axial slice(s) dropped ({why})"
            ));
        }
        let mut seen = HashSet::new();
        let before = slices.len();
        slices.retain(|s| seen.insert(s.instance));
        if slices.len() < before {
            summary.slices_duplicate_instance += before - slices.len();
            warnings.push(format!(
                "series {study}/{series_id}: {} slice(s) with a repeated instance number dropped",
                before - slices.len()
            ));
        }
    }
}

fn assign_honest(
    series: &mut BTreeMap<(u64, u64), Vec<Slice>>,
    discs: &HashMap<u64, DiscPoints>,
    seed: u64,
    summary: &mut PrepareSummary,
    warnings: &mut Warnings,
) -> Result<()> {
    let seed = honest_level_seed(seed);
    let results: Vec<_> = series
        .par_iter()
        .map(|(&(study, series_id), slices)| {
            let headers: Vec<&SliceHeader> = slices.iter().map(|s| &s.header).collect();
            assign_series_levels_with_discs(&headers, seed, series_id, discs.get(&study))
        })
        .collect();
    for (((study, series_id), slices), result) in series.iter_mut().zip(results) {
        if slices.is_empty() {
            continue;
        }
        let result = result?;
        if let Some(w) = &result.warning {
            warnings.push(format!("series {study}/{series_id}: {w}"));
        }
        if result.levels.iter().all(Option::is_none) {
            summary.series_skipped += 1;
        }
        summary.continuous_series += usize::from(result.continuous);
        summary.slices_between_discs += result.between_discs;
        for ((slice, level), position) in slices.iter_mut().zip(result.levels).zip(result.positions)
        {
            slice.level = level;
            slice.position = position;
        }
    }
    Ok(())
}

fn assign_paper(series: &mut BTreeMap<(u64, u64), Vec<Slice>>, seed: u64) -> Result<()> {
    let headers: Vec<&SliceHeader> = series.values().flatten().map(|s| &s.header).collect();
    if headers.is_empty() {
        return Ok(());
    }
    let levels = assign_paper_levels(&headers, stream_seed(seed, STREAM_LEVELS))?;
    for (slice, level) in series.values_mut().flatten().zip(levels) {
        slice.position = paper_position(&slice.header);
        slice.level = level;
    }
    Ok(())
}

/// Stage 4 (check): compare the levels with the subarticular points of
/// `train_label_coordinates.csv`.
fn level_agreement(
    series: &BTreeMap<(u64, u64), Vec<Slice>>,
    coordinates: &[LabelCoordinate],
) -> LevelAgreement {
    let assigned: HashMap<(u64, i64), Option<Level>> = series
        .values()
        .flatten()
        .map(|s| ((s.series_id, s.instance), s.level))
        .collect();
    let points: HashSet<(u64, i64, Level)> = coordinates
        .iter()
        .filter(|c| c.is_subarticular())
        .map(|c| (c.series_id, c.instance_number, c.level))
        .collect();
    let mut agreement = LevelAgreement::default();
    for (series_id, instance, level) in points {
        if let Some(assigned) = assigned.get(&(series_id, instance)) {
            agreement.checked += 1;
            if *assigned == Some(level) {
                agreement.agreed += 1;
            }
        }
    }
    agreement
}

// ANCHOR: write_slice_png
/// The PNG of a kept slice, relative to the output folder:
/// `png/<class>/<study>_<series>_<instance>.png`.
fn png_path(slice: &Slice, label: Severity) -> String {
    format!(
        "png/{}/{}_{}_{}.png",
        label.folder_name(),
        slice.study_id,
        slice.series_id,
        slice.instance
    )
}

/// Decode a slice, min-max it to 8 bits, resize it and write its PNG; returns the path
/// relative to `out_dir`, or (inner `Err`) why the DICOM file is skipped. Failing to write the
/// PNG is an error of the whole run (outer `Err`).
fn write_slice_png(
    slice: &Slice,
    label: Severity,
    out_dir: &Path,
    size: usize,
) -> Result<std::result::Result<String, String>> {
    let decoded = match read_slice(&slice.header.path) {
        Ok(decoded) => decoded,
        Err(e) => return Ok(Err(reason(&e))),
    };
    let resized = slice_to_u8(decoded.pixels.view(), size);
    let relative = png_path(slice, label);
    write_gray_png(&out_dir.join(&relative), resized.view())?;
    Ok(Ok(relative))
}
// ANCHOR_END: write_slice_png

/// Plan the copies that balance the rows `pool` (indices into `rows`): every class present
/// reaches the majority count, class `c` with `n` images getting `max − n` copies made from
/// its images in turn. Copy `k` of the plan draws its augmentation with number `k` — once
/// (the article's protocol, whose copies are then split like images) or afresh every epoch
/// (the honest protocol's training copies). Nothing is written: a batch makes each copy from
/// its source PNG when it needs it. Copies are marked `train`.
fn augment_to_balance(
    rows: &[ManifestRow],
    pool: &[usize],
    protocol: Protocol,
) -> Vec<AugmentedRow> {
    // ANCHOR: balance_plan
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); 3];
    for &i in pool {
        by_class[rows[i].label.index()].push(i);
    }
    let majority = by_class.iter().map(Vec::len).max().unwrap_or(0);
    let mut plan: Vec<usize> = Vec::new(); // source row of each copy
    for class in &by_class {
        if class.is_empty() {
            continue;
        }
        for j in 0..majority - class.len() {
            plan.push(class[j % class.len()]);
        }
    }
    // ANCHOR_END: balance_plan
    plan.into_iter()
        .enumerate()
        .map(|(k, source)| {
            let draw = k as u64;
            AugmentedRow {
                draw,
                source_path: rows[source].path.clone(),
                label: rows[source].label,
                split: Split::Train, // the paper protocol re-splits afterwards
                augmentation: match protocol {
                    Protocol::Honest => Augmentation::PerEpoch { draw },
                    Protocol::Paper => Augmentation::Fixed { draw },
                },
            }
        })
        .collect()
}

fn count_splits(
    rows: &[ManifestRow],
    augmented: &[AugmentedRow],
    summary: &mut PrepareSummary,
    warnings: &mut Warnings,
) {
    for r in rows {
        summary.originals[r.split as usize][r.label.index()] += 1;
    }
    for a in augmented {
        summary.augmented[a.split as usize][a.label.index()] += 1;
    }
    let mut studies: [HashSet<u64>; 3] = Default::default();
    for r in rows {
        studies[r.split as usize].insert(r.study_id);
    }
    summary.studies_per_split = studies.map(|s| s.len());
    for split in Split::ALL {
        for class in Severity::ALL {
            let present = summary.originals[split as usize][class.index()] > 0;
            let anywhere = rows.iter().any(|r| r.label == class);
            if anywhere && !present {
                warnings.push(format!(
                    "class {} has no original image in the {} split",
                    class.csv_name(),
                    split.name()
                ));
            }
        }
    }
}

/// The files (not folders) under `dir/folder/<class>/`, as paths relative to `dir` (`folder/<class>/<name>`);
/// empty if the folder does not exist.
fn files_under(dir: &Path, folder: &str) -> HashSet<String> {
    let mut files = HashSet::new();
    let Ok(classes) = std::fs::read_dir(dir.join(folder)) else {
        return files;
    };
    for class in classes.flatten() {
        let class_name = class.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(class.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if file.file_type().is_ok_and(|t| t.is_file()) {
                let name = file.file_name().to_string_lossy().into_owned();
                files.insert(format!("{folder}/{class_name}/{name}"));
            }
        }
    }
    files
}
