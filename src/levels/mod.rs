//! Intervertebral disc levels of axial slices: a hand-written K-Means and the two level
//! assignment protocols (honest per-series geometry, and the paper's global clustering).

pub mod assign;
pub mod kmeans;

pub use assign::{assign_paper_levels, assign_series_levels, SeriesLevels};
pub use kmeans::{kmeans, kmeans_1d, kmeans_restarts, KMeansFit};
