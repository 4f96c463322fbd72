//! The study at several input sizes (chapter 11, Table 11.1 and Figure 11.4): one row per
//! finished run, read from what the run wrote (`metrics.json`, `history.json`), plus how many
//! pixels wide the dural sac is in the prepared images of that size (`sac_regions.csv`).
//!
//! The book keeps these files of its four runs (32², 64², 128², 256²; honest protocol, seed 42,
//! batch 32) in `book/data/resolution-study/<N>px/`, so its table and figure can be drawn again
//! without the hours the 256² run takes: `cargo run --release --example 11_network_trained --
//! --collect-resolution-study runs data/prepared` copies them there from finished runs.

use super::report::RunMetrics;
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::metrics::bootstrap::{percentile, Interval};
use crate::metrics::{MODERATE, SEVERE};
use crate::plot::resolution_study::{MetricPoint, StudyPoint};
use crate::prepare::sac_regions::read_sac_regions;
use crate::train::History;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::Path;

/// The file of a study folder that holds the sac width ([`SacWidth`]).
pub const SAC_WIDTH_FILE: &str = "sac_width.json";

/// How wide the dural sac is in the prepared images of one size: the median over the slices
/// of `sac_regions.csv` of the region's width (twice its half-width across the columns), in
/// pixels of the resized image.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SacWidth {
    /// Median width, pixels.
    pub median_px: f64,
    /// Slices it is the median of.
    pub slices: usize,
}

impl SacWidth {
    /// The median width over `prepared_dir/sac_regions.csv`; an error when the folder has no
    /// such file or the file has no row.
    pub fn of_prepared(prepared_dir: &Path) -> Result<SacWidth> {
        let regions = read_sac_regions(prepared_dir)?.ok_or_else(|| {
            Error::invalid(format!(
                "{}: no sac_regions.csv (prepare writes it; an older prepared folder has none)",
                prepared_dir.display()
            ))
        })?;
        let widths: Vec<f64> = regions.values().map(|r| 2.0 * r.half_cols).collect();
        let median_px = median(&widths).ok_or_else(|| {
            Error::invalid(format!(
                "{}: sac_regions.csv has no region",
                prepared_dir.display()
            ))
        })?;
        Ok(SacWidth {
            median_px,
            slices: widths.len(),
        })
    }
}

/// The median of `values` (the mean of the two middle ones for an even count: the 0.5
/// [`percentile`]); `None` when empty. NaN sorts last.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile(&sorted, 0.5)
}

/// A test metric and its 95 % bootstrap interval over the test studies (`None` when the run
/// has none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The metric on the whole test split.
    pub value: f64,
    /// Its interval.
    pub interval: Option<Interval>,
}

/// One row of the study: one run at one input size.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolutionRow {
    /// Input side, pixels.
    pub image_size: usize,
    /// The sac's width at this size, when known.
    pub sac_width: Option<SacWidth>,
    /// Median training seconds of one epoch (`history.json`'s `train_seconds`).
    pub seconds_per_epoch: f64,
    /// The fastest and slowest epoch, seconds (epochs that shared the machine are slower).
    pub epoch_seconds_range: (f64, f64),
    /// Epochs trained.
    pub epochs_run: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Wall time of training, seconds.
    pub training_seconds: f64,
    /// Test accuracy.
    pub accuracy: Estimate,
    /// Test macro-F1.
    pub macro_f1: Estimate,
    /// Test recall of Moderate.
    pub moderate_recall: Estimate,
    /// Test recall of Severe.
    pub severe_recall: Estimate,
    /// RSNA 2024 score (lower is better).
    pub rsna_score: Estimate,
    /// Test slices and studies.
    pub test_images: usize,
    /// Test studies.
    pub test_studies: usize,
}

impl ResolutionRow {
    /// The row of the run in `dir` (`metrics.json` and `history.json` as `lumbar run` writes
    /// them; `sac_width.json` when present). Errors name the file that is missing or wrong.
    pub fn read(dir: &Path) -> Result<ResolutionRow> {
        let metrics_path = dir.join("metrics.json");
        let text =
            std::fs::read_to_string(&metrics_path).map_err(|e| Error::io(&metrics_path, e))?;
        let m: RunMetrics = serde_json::from_str(&text).map_err(|e| {
            Error::format(metrics_path.display(), format!("not a run's metrics: {e}"))
        })?;
        let history = History::load_json(&dir.join("history.json"))?;
        let seconds: Vec<f64> = history.epochs.iter().map(|e| e.train_seconds).collect();
        let seconds_per_epoch = median(&seconds).ok_or_else(|| {
            Error::invalid(format!("{}: history.json has no epoch", dir.display()))
        })?;
        let fastest = seconds.iter().copied().fold(f64::INFINITY, f64::min);
        let slowest = seconds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sac_path = dir.join(SAC_WIDTH_FILE);
        let sac_width = if sac_path.is_file() {
            let text = std::fs::read_to_string(&sac_path).map_err(|e| Error::io(&sac_path, e))?;
            Some(
                serde_json::from_str(&text).map_err(|e| {
                    Error::format(sac_path.display(), format!("not a sac width: {e}"))
                })?,
            )
        } else {
            None
        };
        let report = &m.test.report;
        let ci = m.test.ci95.as_ref();
        let class = |c: usize| -> Result<Estimate> {
            let metrics = report.classes.get(c).ok_or_else(|| {
                Error::format(
                    metrics_path.display(),
                    format!("no class {c} in the report"),
                )
            })?;
            Ok(Estimate {
                value: metrics.recall,
                interval: ci.and_then(|ci| ci.classes.get(c)).and_then(|c| c.recall),
            })
        };
        Ok(ResolutionRow {
            image_size: m.image_size,
            sac_width,
            seconds_per_epoch,
            epoch_seconds_range: (fastest, slowest),
            epochs_run: m.training.epochs_run,
            best_epoch: m.training.best_epoch,
            training_seconds: m.training.seconds,
            accuracy: Estimate {
                value: report.accuracy,
                interval: ci.and_then(|ci| ci.accuracy),
            },
            macro_f1: Estimate {
                value: report.macro_avg.f1,
                interval: ci.and_then(|ci| ci.macro_f1),
            },
            moderate_recall: class(MODERATE)?,
            severe_recall: class(SEVERE)?,
            rsna_score: Estimate {
                value: m.test.rsna.score,
                interval: ci.and_then(|ci| ci.rsna_score),
            },
            test_images: m.test.images,
            test_studies: m.test.studies,
        })
    }
}

impl Estimate {
    /// What the figure draws of it.
    pub fn point(&self) -> MetricPoint {
        MetricPoint {
            value: self.value,
            interval: self.interval.map(|i| (i.low, i.high)),
        }
    }
}

impl ResolutionRow {
    /// What Figure 11.4 shows of this run (metrics in the order of the figure's legend).
    pub fn study_point(&self) -> StudyPoint {
        StudyPoint {
            image_size: self.image_size,
            sac_width_px: self.sac_width.map(|w| w.median_px),
            seconds_per_epoch: self.seconds_per_epoch,
            metrics: [
                self.accuracy.point(),
                self.macro_f1.point(),
                self.moderate_recall.point(),
                self.severe_recall.point(),
            ],
        }
    }
}

/// Every study row under `root`: one per sub-folder holding a `metrics.json`, sorted by input
/// size. An error when `root` cannot be read or a run folder is incomplete.
pub fn read_study(root: &Path) -> Result<Vec<ResolutionRow>> {
    let entries = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
    let mut rows = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(root, e))?.path();
        if path.join("metrics.json").is_file() {
            rows.push(ResolutionRow::read(&path)?);
        }
    }
    rows.sort_by_key(|r| r.image_size);
    Ok(rows)
}

/// Copy what the study needs of the finished run `run_dir` (its `metrics.json`,
/// `history.json` and `history.csv`) into `dest`, with the sac width of `prepared_dir` when
/// given; each file written atomically, nothing else of the run (no weights, no figures).
pub fn collect_run(run_dir: &Path, prepared_dir: Option<&Path>, dest: &Path) -> Result<()> {
    // Read first, so that an unfinished run is refused before anything is written.
    ResolutionRow::read(run_dir)?;
    std::fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    for name in ["metrics.json", "history.json", "history.csv"] {
        let from = run_dir.join(name);
        let bytes = std::fs::read(&from).map_err(|e| Error::io(&from, e))?;
        write_atomic(dest.join(name), &bytes)?;
    }
    if let Some(prepared) = prepared_dir {
        let width = SacWidth::of_prepared(prepared)?;
        let json = serde_json::to_string_pretty(&width)
            .map_err(|e| Error::invalid(format!("sac width to JSON: {e}")))?;
        write_atomic(dest.join(SAC_WIDTH_FILE), json.as_bytes())?;
    }
    Ok(())
}

/// `0.972 (0.93–1.00)`: the value with three decimals and its interval with two; the value
/// alone without an interval.
pub fn estimate_cell(e: &Estimate) -> String {
    match e.interval {
        Some(i) => format!("{:.3} ({:.2}–{:.2})", e.value, i.low, i.high),
        None => format!("{:.3}", e.value),
    }
}

/// A duration in seconds as the table shows it: `28 s` below five minutes, `9.3 min` below two
/// hours, `2.3 h` from there.
pub fn duration_cell(seconds: f64) -> String {
    if seconds < 300.0 {
        format!("{seconds:.0} s")
    } else if seconds < 2.0 * 3600.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// Table 11.1 as Markdown: one line per row, the columns of the chapter.
pub fn markdown_table(rows: &[ResolutionRow]) -> String {
    let mut out = String::from(
        "| input | sac width (median, px) | time per epoch (median) | epochs (best) | training | accuracy | macro-F1 | Moderate recall | Severe recall | RSNA score |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let sac = r
            .sac_width
            .map_or_else(|| "—".to_string(), |s| format!("{:.1}", s.median_px));
        let _ = writeln!(
            out,
            "| {n}² | {sac} | {epoch} | {run} ({best}) | {train} | {acc} | {f1} | {moderate} | {severe} | {rsna} |",
            n = r.image_size,
            epoch = duration_cell(r.seconds_per_epoch),
            run = r.epochs_run,
            best = r.best_epoch,
            train = duration_cell(r.training_seconds),
            acc = estimate_cell(&r.accuracy),
            f1 = estimate_cell(&r.macro_f1),
            moderate = estimate_cell(&r.moderate_recall),
            severe = estimate_cell(&r.severe_recall),
            rsna = estimate_cell(&r.rsna_score),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration_cell(28.4), "28 s");
        assert_eq!(duration_cell(150.0), "150 s");
        assert_eq!(duration_cell(540.0), "9.0 min");
        assert_eq!(duration_cell(3.0 * 3600.0), "3.0 h");
    }

    #[test]
    fn a_folder_without_metrics_is_refused_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("lumbar-study-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = ResolutionRow::read(&dir).unwrap_err().to_string();
        assert!(err.contains("metrics.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
