//! The RSNA 2024 Lumbar Spine dataset as the Kaggle download lays it out (the competition's Data page):
//! typed CSV records, the label mapping of the article's Table 1, and the folder layout.

pub mod labels;
pub mod layout;
pub mod records;

pub use labels::{Level, Severity};
pub use layout::RsnaLayout;
pub use records::{LabelCoordinate, SeriesDescription, StudyLabels, AXIAL_T2};
