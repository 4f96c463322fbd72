//! The series of a study and their slices, as planned: what kind each series is, how its files
//! are stored, and where each slice lies.

use super::dicom_writer::PixelEncoding;
use super::geometry::Plane;
use super::mr_signal::Acquisition;

/// Which of the three RSNA series types a series is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    /// `Sagittal T1`.
    SagittalT1,
    /// `Sagittal T2/STIR`.
    SagittalT2,
    /// `Axial T2`.
    AxialT2,
}

impl SeriesKind {
    /// The `series_description` written in `train_series_descriptions.csv`.
    pub fn description(self) -> &'static str {
        match self {
            SeriesKind::SagittalT1 => "Sagittal T1",
            SeriesKind::SagittalT2 => "Sagittal T2/STIR",
            SeriesKind::AxialT2 => crate::rsna::AXIAL_T2,
        }
    }
}

/// One slice of a series.
#[derive(Clone, Debug)]
pub struct SlicePlan {
    /// `InstanceNumber` (also the file name).
    pub instance_number: u32,
    /// Geometry.
    pub plane: Plane,
    /// Nominal slice thickness (mm).
    pub thickness: f64,
    /// Level index of an axial slice at a disc: within
    /// [`DISC_REACH_MM`](crate::levels::continuous::DISC_REACH_MM) of it. `None` for sagittal
    /// slices and for the slices of a continuous stack that pass through a vertebral body.
    pub level: Option<usize>,
    /// Axial slices: the disc nearest the slice, whose anatomy is drawn on it (the same as
    /// `level` when that is set). `None` for sagittal slices.
    pub nearest_disc: Option<usize>,
    /// Axial slices: distance from the nearest disc (mm, + towards the head), along the disc
    /// normal for a short stack, along the stack normal at the canal for a continuous stack.
    pub offset_mm: f64,
    /// Anatomy coordinates (mm) of the image centre, for axial slices.
    pub centre_mm: (f64, f64),
}

/// One series.
#[derive(Clone, Debug)]
pub struct SeriesPlan {
    /// The RSNA `series_id`.
    pub series_id: u64,
    /// `SeriesNumber`.
    pub number: u32,
    /// Sagittal T1, Sagittal T2/STIR or Axial T2.
    pub kind: SeriesKind,
    /// RLE Lossless or native.
    pub encoding: PixelEncoding,
    /// Intensity scale, noise and bias field.
    pub acquisition: Acquisition,
    /// The slices, in instance-number order.
    pub slices: Vec<SlicePlan>,
    /// Whether `SliceLocation` is written.
    pub has_location: bool,
    /// Whether `SliceThickness` is written.
    pub has_thickness: bool,
    /// Whether this series carries label points (the first axial series, both sagittals).
    pub labelled: bool,
    /// Whether this axial series is one continuous stack (from above L1/L2 to below L5/S1)
    /// rather than one short stack per disc. `false` for sagittal series.
    pub continuous: bool,
}
