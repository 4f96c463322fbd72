//! The `lumbar` subcommands, one module each. Every module exposes `Args` (clap) and
//! `run(&Args) -> Result<()>`; `src/main.rs` only dispatches.

pub mod synth;
