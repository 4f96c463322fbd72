//! The `lumbar` subcommands, one module each. Every module exposes `Args` (clap) and
//! `run(&Args) -> Result<()>`; `src/main.rs` only dispatches. [`whole_number`] is the parser
//! every whole-number flag shares.

pub mod bench;
pub mod convert;
pub mod evaluate;
pub mod explain;
pub mod inspect;
pub mod predict;
pub mod prepare;
pub mod run;
pub mod summary;
pub mod synth;
pub mod whole_number;
