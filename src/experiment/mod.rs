//! The study as one job: [`run()`](run::run) goes from the RSNA-layout folder to a trained, evaluated
//! model and a report; [`evaluation`] scores the test split; [`report`] writes what people read.

pub mod evaluation;
pub mod predict;
pub mod report;
pub mod resolution_study;
pub mod run;

pub use run::{run, RunConfig};
