//! Intervertebral disc levels of axial slices: a hand-written K-Means and the two level
//! assignment protocols (honest per-series geometry, and the paper's global clustering), with
//! the rule for continuous axial stacks and the disc centres it takes from the sagittal label
//! points.

pub mod assign;
pub mod continuous;
pub mod kmeans;
pub mod sagittal;

pub use assign::{
    assign_paper_levels, assign_series_levels, assign_series_levels_with_discs, SeriesLevels,
};
pub use kmeans::{kmeans, kmeans_1d, kmeans_restarts, KMeansFit};
pub use sagittal::{study_disc_points, DiscPoints};
