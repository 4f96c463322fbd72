//! `lumbar summary`: print the article's network as a Keras-style table.

use super::whole_number::whole_number;
use crate::error::Result;
use crate::model::memory::{available_bytes, ensure_fits, estimate};
use crate::model::paper_cnn;
use crate::model::paper_cnn::MIN_IMAGE_SIZE;

/// Arguments of `lumbar summary`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Input height and width in pixels (the article used 256; at least 32).
    #[arg(long, default_value_t = 256, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the image size", MIN_IMAGE_SIZE as u32))]
    pub image_size: usize,
}

impl Default for Args {
    fn default() -> Self {
        Args { image_size: 256 }
    }
}

/// Build the network for `--image-size` and print its summary, after checking that its
/// weights fit in the available memory.
pub fn run(args: &Args) -> Result<()> {
    ensure_fits(
        estimate(args.image_size, 1).network_bytes(),
        available_bytes(),
        &format!("--image-size {}", args.image_size),
        "the network's weights",
    )?;
    let model = paper_cnn(args.image_size, 0)?;
    print!("{}", model.summary()?);
    Ok(())
}
