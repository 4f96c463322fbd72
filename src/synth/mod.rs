//! A synthetic dataset in the RSNA 2024 layout, graded by the clinical criterion.
//!
//! The real RSNA download cannot ship with the crate, so [`generate`](fn@generate) writes a dataset
//! that a reader cannot tell apart from it by format (`train.csv`, `train_series_descriptions.csv`,
//! `train_label_coordinates.csv`, `train_images/<study>/<series>/<instance>.dcm`, RLE-compressed
//! 12-bit MR images with oblique geometry and the quirks of the real files), whose axial T2 images
//! carry the sign radiologists grade central canal stenosis by: the **dural-sac area**. Normal/Mild
//! ≥ 100 mm², Moderate 75–100 mm², Severe < 75 mm², with graders who misjudge the area a little, so
//! the best achievable accuracy is known ([`BayesCeiling`]).
//!
//! It also writes `synth_truth.csv`, the answer key the real data lacks (per axial slice: level,
//! sac area, labels, position), and `synth_gallery.png` (one axial slice per grade).
//!
//! Modules, in the order a reader meets them: [`config`] (the settings), [`grading`] (areas and
//! labels), [`geometry`] (where slices are), [`shapes`] and [`axial`] (the phantom),
//! [`mr_signal`] (noise and bias), [`sagittal`], [`rle_encoder`] and [`dicom_writer`] (the
//! files), [`kaggle_csv`]; then one study from plan to files: [`study`] (anatomy and grades),
//! [`series`] and [`slice_planning`] (its series and where their slices lie), [`render`] (the
//! pixels), [`csv_rows`] (answer key and label points) and [`study_files`] (the DICOM files);
//! then the dataset: [`outputs`] (the file names and the output folder), [`mod@generate`] (plan
//! and write every study), [`summary`] and [`summary_file`] (what was made), and [`gallery`].

pub mod axial;
pub mod config;
pub mod csv_rows;
pub mod dicom_writer;
pub mod gallery;
pub mod generate;
pub mod geometry;
pub mod grading;
pub mod kaggle_csv;
pub mod mr_signal;
pub mod outputs;
pub mod render;
pub mod rle_encoder;
pub mod sagittal;
pub mod series;
pub mod shapes;
pub mod slice_planning;
pub mod study;
pub mod study_files;
pub mod summary;
pub mod summary_file;

pub use config::SynthConfig;
pub use generate::{generate, plan_studies};
pub use grading::{severity_of_area, BayesCeiling, Prevalence, RSNA_PREVALENCE};
pub use outputs::{GALLERY_FILE, OUTPUTS, TRUTH_FILE};
pub use summary::SynthSummary;
