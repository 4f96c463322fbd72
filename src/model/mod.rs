//! The study's model: the article's network ([`paper_cnn()`](paper_cnn::paper_cnn)), saving and loading it
//! ([`checkpoint`]), and inference ([`predict`](mod@predict)).

pub mod checkpoint;
pub mod flops;
pub mod memory;
pub mod paper_cnn;
pub mod predict;

pub use checkpoint::{load_model, load_weights, save_model};
pub use paper_cnn::{paper_cnn, Architecture};
pub use predict::{argmax_rows, predict};
