//! Training the model the way Keras does: batches from a [`Dataset`], the [`fit()`](fit::fit) loop
//! with Adam and [`EarlyStopping`], the per-epoch [`History`], a [`Progress`] display, and the
//! [`resume_state`] saved after every epoch.

pub mod dataset;
pub mod early_stopping;
pub mod fit;
pub mod history;
pub mod prefetch;
pub mod progress;
pub mod resume_state;
pub mod streamed;

pub use dataset::{Dataset, InMemoryDataset};
pub use early_stopping::EarlyStopping;
pub use fit::{evaluate, fit, Evaluation, FitConfig};
pub use history::{EpochRecord, History};
pub use prefetch::{for_each_batch, LoaderWait};
pub use progress::Progress;
pub use streamed::StreamedDataset;
