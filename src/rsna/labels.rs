//! The two vocabularies of the RSNA 2024 labels: severities and intervertebral disc levels.

use std::fmt;

/// A spinal canal stenosis grade, numbered as in the article's Table 1.
///
/// The numbers are the alphabetical order of the class folders (`Moderate`, `Normal_Mild`,
/// `Severe`) that Keras' `image_dataset_from_directory` turns into labels 0, 1, 2.
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
    /// All severities in label order (0, 1, 2).
    pub const ALL: [Severity; 3] = [Severity::Moderate, Severity::NormalMild, Severity::Severe];

    /// Parse a `train.csv` cell: `Some(Some(_))` for a grade, `Some(None)` for an empty (missing)
    /// cell, `None` for any other text (an error for the caller to report).
    pub fn parse_cell(text: &str) -> Option<Option<Severity>> {
        match text.trim() {
            "" => Some(None),
            "Normal/Mild" => Some(Some(Severity::NormalMild)),
            "Moderate" => Some(Some(Severity::Moderate)),
            "Severe" => Some(Some(Severity::Severe)),
            _ => None,
        }
    }

    /// The integer class label of Table 1 (Moderate 0, Normal/Mild 1, Severe 2).
    pub fn label(self) -> u8 {
        self as u8
    }

    /// The severity with integer label `label`, if it is 0, 1 or 2.
    pub fn from_label(label: u8) -> Option<Severity> {
        Severity::ALL.get(label as usize).copied()
    }

    /// The class folder name of the article's PNG layout: `Moderate`, `Normal_Mild`, `Severe`.
    pub fn folder_name(self) -> &'static str {
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

    /// The text used in the RSNA CSVs: `Normal/Mild`, `Moderate`, `Severe`.
    pub fn csv_name(self) -> &'static str {
        match self {
            Severity::Moderate => "Moderate",
            Severity::NormalMild => "Normal/Mild",
            Severity::Severe => "Severe",
        }
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
    pub fn name(self) -> &'static str {
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
        assert_eq!(
            Severity::parse_cell("Moderate"),
            Some(Some(Severity::Moderate))
        );
        assert_eq!(Severity::Moderate.label(), 0);
        assert_eq!(
            Severity::parse_cell("Normal/Mild")
                .unwrap()
                .unwrap()
                .label(),
            1
        );
        assert_eq!(Severity::parse_cell("Severe").unwrap().unwrap().label(), 2);
        assert_eq!(Severity::parse_cell(""), Some(None));
        assert_eq!(Severity::parse_cell("mild"), None);
        for s in Severity::ALL {
            assert_eq!(Severity::from_folder_name(s.folder_name()), Some(s));
            assert_eq!(Severity::from_label(s.label()), Some(s));
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
