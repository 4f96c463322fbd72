//! What `lumbar prepare` did, counted: printed as a table and saved as `summary.json`.

use super::input_digest::InputDigest;
use super::protocol::Protocol;
use super::split::Split;
use crate::rsna::Severity;
use std::fmt::Write;

/// A file that was skipped, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SkippedFile {
    /// The file.
    pub path: String,
    /// The reason (the decoder's or parser's message).
    pub reason: String,
}

/// How often the level assignment agrees with the subarticular points of
/// `train_label_coordinates.csv`, which name the slice of each level in an axial series.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LevelAgreement {
    /// (series, instance, level) points found on slices we read.
    pub checked: usize,
    /// Of those, how many got the same level from the clustering.
    pub agreed: usize,
}

impl LevelAgreement {
    /// `agreed / checked`, or `None` if nothing could be checked.
    pub fn fraction(&self) -> Option<f64> {
        (self.checked > 0).then(|| self.agreed as f64 / self.checked as f64)
    }
}

/// Counts of one `lumbar prepare` run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrepareSummary {
    /// `honest` or `paper`.
    pub protocol: Protocol,
    /// The seed used.
    pub seed: u64,
    /// Side of the square PNGs.
    pub image_size: usize,
    /// Rows of `train.csv`.
    pub studies_in_csv: usize,
    /// `Axial T2` series listed in `train_series_descriptions.csv`.
    pub axial_series: usize,
    /// Series skipped as a whole (folder missing, not axial, too few positions to find 5 levels).
    pub series_skipped: usize,
    /// `.dcm` files found in the selected series.
    pub files_found: usize,
    /// Files that could not be read or decoded (corrupt, truncated, unsupported), skipped.
    pub files_skipped: Vec<SkippedFile>,
    /// Slices dropped because their orientation is not axial.
    pub slices_not_axial: usize,
    /// Slices dropped because no level could be assigned (including `slices_between_discs`).
    pub slices_without_level: usize,
    /// Axial series found to be one continuous stack (honest protocol).
    #[serde(default)]
    pub continuous_series: usize,
    /// Slices of continuous stacks dropped because they lie between discs, through a vertebral
    /// body (part of `slices_without_level`).
    #[serde(default)]
    pub slices_between_discs: usize,
    /// Slices dropped because their study's label at their level is missing.
    pub slices_missing_label: usize,
    /// Slices dropped because another file of the series has the same instance number.
    pub slices_duplicate_instance: usize,
    /// Slices written as PNGs and listed in the manifest.
    pub slices_kept: usize,
    /// Of the kept slices, those whose PNG an interrupted run with the same inputs had
    /// already written (not decoded again).
    #[serde(default)]
    pub slices_reused: usize,
    /// Kept slices per split and class: `[split][label]` with splits train, val, test.
    pub originals: [[usize; 3]; 3],
    /// Augmented images per split and class, same indexing.
    pub augmented: [[usize; 3]; 3],
    /// Agreement of the levels with the label coordinates.
    pub level_agreement: LevelAgreement,
    /// Studies per split (train, val, test).
    pub studies_per_split: [usize; 3],
    /// Every warning issued (skipped series, files, classes absent from a split).
    pub warnings: Vec<String>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
    /// Wall-clock seconds of the main stages, in order (headers, decode + png, split + augment).
    pub stage_seconds: Vec<(String, f64)>,
    /// DICOM files read per second over the two reading passes (headers, then pixels).
    pub files_per_second: f64,
    /// The fingerprint of the inputs and settings this output was made from.
    #[serde(default)]
    pub input_digest: InputDigest,
}

impl PrepareSummary {
    /// The summary as a printable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "protocol {}, seed {}, image size {}",
            self.protocol, self.seed, self.image_size
        );
        let _ = writeln!(
            s,
            "{:<44}{:>10}",
            "studies in train.csv", self.studies_in_csv
        );
        let _ = writeln!(s, "{:<44}{:>10}", "Axial T2 series", self.axial_series);
        let _ = writeln!(s, "{:<44}{:>10}", "series skipped", self.series_skipped);
        let _ = writeln!(s, "{:<44}{:>10}", "DICOM files found", self.files_found);
        let _ = writeln!(
            s,
            "{:<44}{:>10}",
            "files skipped (unreadable)",
            self.files_skipped.len()
        );
        let _ = writeln!(
            s,
            "{:<44}{:>10}",
            "slices dropped: not axial", self.slices_not_axial
        );
        let _ = writeln!(
            s,
            "{:<44}{:>10}",
            "slices dropped: no level", self.slices_without_level
        );
        // Only the honest protocol tells continuous stacks apart (the paper's names every slice).
        if self.protocol == Protocol::Honest {
            let _ = writeln!(
                s,
                "{:<44}{:>10}",
                format!(
                    "  of them between discs ({} continuous)",
                    self.continuous_series
                ),
                self.slices_between_discs
            );
        }
        let _ = writeln!(
            s,
            "{:<44}{:>10}",
            "slices dropped: label missing", self.slices_missing_label
        );
        let _ = writeln!(
            s,
            "{:<44}{:>10}",
            "slices dropped: duplicate instance", self.slices_duplicate_instance
        );
        let _ = writeln!(s, "{:<44}{:>10}", "slices kept", self.slices_kept);
        let reused = self.slices_reused;
        if reused > 0 {
            let _ = writeln!(
                s,
                "{:<44}{:>10}",
                "PNGs reused from an interrupted run", reused
            );
        }
        match self.level_agreement.fraction() {
            Some(f) => {
                let _ = writeln!(
                    s,
                    "{:<44}{:>9.1}%  ({}/{})",
                    "levels agreeing with label coordinates",
                    100.0 * f,
                    self.level_agreement.agreed,
                    self.level_agreement.checked
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "{:<44}{:>10}",
                    "levels agreeing with label coordinates", "n/a"
                );
            }
        }
        // One column per class in class order, each wide enough for its name.
        let width = |class: Severity| class.csv_name().len().max(10) + 2;
        let _ = write!(s, "\n{:<8}{:>8}", "split", "studies");
        for class in Severity::ALL {
            let _ = write!(s, "{:>w$}", class.csv_name(), w = width(class));
        }
        let _ = writeln!(s, "{:>12}", "augmented");
        for split in Split::ALL {
            let i = split as usize;
            let (o, a) = (self.originals[i], self.augmented[i]);
            let _ = write!(s, "{:<8}{:>8}", split.name(), self.studies_per_split[i]);
            for class in Severity::ALL {
                let c = class.index();
                let cell = format!("{}+{}", o[c], a[c]);
                let _ = write!(s, "{cell:>w$}", w = width(class));
            }
            let _ = writeln!(s, "{:>12}", a.iter().sum::<usize>());
        }
        let _ = writeln!(s, "(originals+augmented per class)");
        let stages: Vec<String> = self
            .stage_seconds
            .iter()
            .map(|(name, t)| format!("{name} {t:.1} s"))
            .collect();
        let _ = writeln!(
            s,
            "{:.1} s ({}), {:.0} DICOM files/s",
            self.seconds,
            stages.join(", "),
            self.files_per_second
        );
        s
    }

    /// Why no slice was kept, from the counts: every non-zero reason a file or slice was
    /// dropped, the unreadable files grouped by reason (the three most frequent), e.g.
    /// `"40 DICOM files found; 40 unreadable (bad magic ×38, truncated ×2)"`.
    pub fn why_nothing_kept(&self) -> String {
        let mut reasons = vec![format!(
            "{} DICOM file(s) found in {} Axial T2 series",
            self.files_found, self.axial_series
        )];
        if !self.files_skipped.is_empty() {
            // Grouped by the reason with the file's own path taken out of it.
            let mut by_reason: Vec<(String, usize)> = Vec::new();
            for file in &self.files_skipped {
                let reason = file.reason.replace(&file.path, "…");
                match by_reason.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, n)) => *n += 1,
                    None => by_reason.push((reason, 1)),
                }
            }
            by_reason.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
            let mut shown: Vec<String> = by_reason
                .iter()
                .take(3)
                .map(|(reason, n)| format!("{reason} ×{n}"))
                .collect();
            if by_reason.len() > 3 {
                shown.push("…".into());
            }
            reasons.push(format!(
                "{} unreadable ({})",
                self.files_skipped.len(),
                shown.join("; ")
            ));
        }
        for (n, what) in [
            (self.series_skipped, "series skipped"),
            (self.slices_not_axial, "slice(s) not axial"),
            (self.slices_without_level, "slice(s) without a level"),
            (
                self.slices_missing_label,
                "slice(s) without a label at their level",
            ),
            (
                self.slices_duplicate_instance,
                "slice(s) with a repeated instance number",
            ),
        ] {
            if n > 0 {
                reasons.push(format!("{n} {what}"));
            }
        }
        reasons.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_honest_table_counts_slices_between_discs() {
        let honest = PrepareSummary {
            continuous_series: 2,
            slices_between_discs: 30,
            ..Default::default()
        };
        assert!(honest
            .table()
            .contains("  of them between discs (2 continuous)              30"));
        let paper = PrepareSummary {
            protocol: Protocol::Paper,
            ..honest
        };
        assert!(!paper.table().contains("between discs"));
    }
}
