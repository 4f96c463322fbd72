//! What the book's chapter examples (`examples/NN_<topic>.rs`) share: where their figures go,
//! the tiny CI mode (`LUMBAR_BOOK_TINY=1`), and the synthetic dataset most of them start from.
//!
//! At full size an example writes its figures into `book/src/figures/`, the PNGs the chapter
//! shows. With `LUMBAR_BOOK_TINY=1` (what `bash .ci/book.sh` sets) it runs in a few seconds
//! and writes them to a temporary folder instead, so a check never overwrites the committed
//! figures.

use crate::error::Result;
use crate::plot::image_grid::{draw_image_grid, GrayTile};
use std::path::{Path, PathBuf};

/// The environment variable that selects the tiny size used by CI (`LUMBAR_BOOK_TINY=1`).
pub const TINY_VAR: &str = "LUMBAR_BOOK_TINY";

/// Whether the examples run at CI size: true when `LUMBAR_BOOK_TINY` is exactly `1`.
pub fn tiny() -> bool {
    std::env::var(TINY_VAR).is_ok_and(|v| v == "1")
}

/// The folder figures go to: `book/src/figures/` of this crate at full size,
/// `<temp>/lumbar-book-tiny/` in tiny mode. It is created when the first figure is written.
pub fn figure_dir() -> PathBuf {
    if tiny() {
        std::env::temp_dir().join("lumbar-book-tiny")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("book/src/figures")
    }
}

/// Where the figure `name` (e.g. `"07-gflops.png"`) is written: `figure_dir()/name`.
pub fn figure_path(name: &str) -> PathBuf {
    figure_dir().join(name)
}

/// Print where a figure went (`figure written: <path>`), so the reader knows which file the
/// chapter shows.
pub fn announce(path: &Path) {
    println!("figure written: {}", path.display());
}

/// Generate a synthetic RSNA-layout dataset of `config` into `<temp>/lumbar-book/<name>`
/// (replacing an earlier one there) and return the folder. The examples of Part I use it so
/// that they need no download.
pub fn synth_dataset(name: &str, config: &crate::synth::SynthConfig) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join("lumbar-book").join(name);
    crate::synth::generate(config, &dir, true, false)?;
    Ok(dir)
}

/// Draw `tiles` as an image grid (see [`draw_image_grid`]: `columns` columns of
/// `tile_size`-pixel tiles under `title`) at `figure_path(name)`, and announce it.
pub fn save_grid(
    name: &str,
    tiles: &[GrayTile],
    columns: usize,
    tile_size: u32,
    title: &str,
) -> Result<()> {
    let path = figure_path(name);
    draw_image_grid(&path, tiles, columns, tile_size, title)?;
    announce(&path);
    Ok(())
}
