//! The two vocabularies of the RSNA 2024 labels: severities and intervertebral disc levels.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A spinal canal stenosis grade: the crate's one class type, numbered as in the article's
/// Table 1 (Moderate 0, Normal/Mild 1, Severe 2).
///
/// The numbers are the alphabetical order of the class folders (`Moderate`, `Normal_Mild`,
/// `Severe`) that Keras' `image_dataset_from_directory` turns into labels 0, 1, 2; the
/// network's three outputs, the confusion matrices and every `[_; 3]` array indexed by class
/// use this order ([`Severity::index`], [`Severity::ALL`]). The clinical order from mild to
/// severe is [`Severity::MILDEST_FIRST`] ([`Severity::rank`]): the synthetic dataset, which
/// grades by the dural-sac area, keeps its per-grade numbers in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Severity {
    /// Label 0: dural sac area 75–100 mm².
    Moderate = 0,
    /// Label 1: dural sac area ≥ 100 mm² (the majority class).
    NormalMild = 1,
    /// Label 2: dural sac area < 75 mm².
    Severe = 2,
}

impl Severity {
    /// Number of classes (3).
    pub const COUNT: usize = 3;

    /// All severities in class-index order (Table 1: Moderate, Normal/Mild, Severe).
    pub const ALL: [Severity; Severity::COUNT] =
        [Severity::Moderate, Severity::NormalMild, Severity::Severe];

    /// All severities from mildest to most severe (Normal/Mild, Moderate, Severe): the order of
    /// the dural-sac area scale, largest area first. `MILDEST_FIRST[s.rank()] == s`.
    pub const MILDEST_FIRST: [Severity; Severity::COUNT] =
        [Severity::NormalMild, Severity::Moderate, Severity::Severe];

    /// The class index of Table 1 (Moderate 0, Normal/Mild 1, Severe 2): the network output and
    /// the `label` column of `manifest.csv`. `ALL[s.index()] == s`.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The severity with class index `index`, if it is 0, 1 or 2.
    pub fn from_index(index: usize) -> Option<Severity> {
        Severity::ALL.get(index).copied()
    }

    /// Position on the clinical scale: Normal/Mild 0, Moderate 1, Severe 2 (see
    /// [`Severity::MILDEST_FIRST`]).
    pub const fn rank(self) -> usize {
        match self {
            Severity::NormalMild => 0,
            Severity::Moderate => 1,
            Severity::Severe => 2,
        }
    }

    /// The Kaggle string, as written in the RSNA CSVs (`Normal/Mild`, `Moderate`, `Severe`);
    /// also the display name in tables, reports and figures.
    pub const fn csv_name(self) -> &'static str {
        match self {
            Severity::Moderate => "Moderate",
            Severity::NormalMild => "Normal/Mild",
            Severity::Severe => "Severe",
        }
    }

    /// The class folder name of the article's PNG layout: `Moderate`, `Normal_Mild`, `Severe`
    /// (the Kaggle string with `/`, which cannot appear in a folder name, as `_`).
    pub const fn folder_name(self) -> &'static str {
        match self {
            Severity::Moderate => "Moderate",
            Severity::NormalMild => "Normal_Mild",
            Severity::Severe => "Severe",
        }
    }

    /// The severity whose folder name is `name` (inverse of [`Severity::folder_name`]).
    pub fn from_folder_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.folder_name() == name)
    }

    /// Parse a Kaggle string (`Normal/Mild`, `Moderate`, `Severe`; surrounding spaces are
    /// ignored). Any other text is an error that names it.
    pub fn parse(text: &str) -> Result<Severity> {
        let trimmed = text.trim();
        Severity::ALL
            .into_iter()
            .find(|s| s.csv_name() == trimmed)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown severity {text:?} (expected Normal/Mild, Moderate or Severe)"
                ))
            })
    }

    /// Parse a `train.csv` cell: `Ok(None)` for an empty (missing) cell, `Ok(Some(_))` for a
    /// grade, an error naming the text for anything else.
    pub fn parse_cell(text: &str) -> Result<Option<Severity>> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            Severity::parse(text).map(Some)
        }
    }
}

impl FromStr for Severity {
    type Err = Error;

    /// Same as [`Severity::parse`].
    fn from_str(text: &str) -> Result<Severity> {
        Severity::parse(text)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.csv_name())
    }
}

/// One of the five lumbar intervertebral disc levels, cranial (L1/L2) to caudal (L5/S1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Level {
    /// Between vertebrae L1 and L2 (the most cranial).
    L1L2 = 0,
    /// Between L2 and L3.
    L2L3 = 1,
    /// Between L3 and L4.
    L3L4 = 2,
    /// Between L4 and L5.
    L4L5 = 3,
    /// Between L5 and the sacrum (the most caudal).
    L5S1 = 4,
}

impl Level {
    /// All levels from cranial to caudal; `Level::ALL[i] as usize == i`.
    pub const ALL: [Level; 5] = [
        Level::L1L2,
        Level::L2L3,
        Level::L3L4,
        Level::L4L5,
        Level::L5S1,
    ];

    /// The name used in `train_label_coordinates.csv` and in our manifest: `L1/L2` … `L5/S1`.
    pub const fn name(self) -> &'static str {
        ["L1/L2", "L2/L3", "L3/L4", "L4/L5", "L5/S1"][self as usize]
    }

    /// The suffix of the `train.csv` columns: `l1_l2` … `l5_s1`.
    pub fn column_suffix(self) -> &'static str {
        ["l1_l2", "l2_l3", "l3_l4", "l4_l5", "l5_s1"][self as usize]
    }

    /// Parse `L1/L2` … `L5/S1` (case-insensitive); `None` for anything else.
    pub fn parse(text: &str) -> Option<Level> {
        let text = text.trim();
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(text))
    }

    /// The level at index `i` (0 = L1/L2), if `i < 5`.
    pub fn from_index(i: usize) -> Option<Level> {
        Level::ALL.get(i).copied()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_1_mapping() {
        assert_eq!(Severity::parse("Moderate").unwrap().index(), 0);
        assert_eq!(Severity::parse(" Normal/Mild ").unwrap().index(), 1);
        assert_eq!(Severity::parse("Severe").unwrap().index(), 2);
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            assert_eq!(s.index(), i);
            assert_eq!(Severity::from_index(i), Some(s));
            assert_eq!(Severity::parse(s.csv_name()).unwrap(), s);
            assert_eq!(s.to_string().parse::<Severity>().unwrap(), s);
            assert_eq!(Severity::from_folder_name(s.folder_name()), Some(s));
        }
        assert_eq!(Severity::from_index(3), None);
        assert_eq!(Severity::NormalMild.folder_name(), "Normal_Mild");
    }

    #[test]
    fn mildest_first_is_the_clinical_scale() {
        assert_eq!(
            Severity::MILDEST_FIRST.map(Severity::csv_name),
            ["Normal/Mild", "Moderate", "Severe"]
        );
        for (rank, s) in Severity::MILDEST_FIRST.into_iter().enumerate() {
            assert_eq!(s.rank(), rank);
        }
    }

    #[test]
    fn bad_severity_text_is_an_error_naming_it() {
        assert_eq!(Severity::parse_cell("").unwrap(), None);
        assert_eq!(Severity::parse_cell("  ").unwrap(), None);
        assert_eq!(
            Severity::parse_cell("Severe").unwrap(),
            Some(Severity::Severe)
        );
        for bad in ["mild", "Normal_Mild", "severe", "2"] {
            let message = Severity::parse_cell(bad).unwrap_err().to_string();
            assert!(message.contains(&format!("{bad:?}")), "{message}");
        }
    }

    #[test]
    fn level_names_round_trip() {
        for (i, l) in Level::ALL.into_iter().enumerate() {
            assert_eq!(Level::parse(l.name()), Some(l));
            assert_eq!(l as usize, i);
        }
        assert_eq!(Level::parse("l4/l5"), Some(Level::L4L5));
        assert_eq!(Level::parse("L6/L7"), None);
    }
}
