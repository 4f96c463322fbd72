//! `lumbar summary`: print the article's network as a Keras-style table.

use crate::error::Result;
use crate::model::paper_cnn;

/// Arguments of `lumbar summary`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Input height and width in pixels (the article used 256).
    #[arg(long, default_value_t = 256)]
    pub image_size: usize,
}

impl Default for Args {
    fn default() -> Self {
        Args { image_size: 256 }
    }
}

/// Build the network for `--image-size` and print its summary.
pub fn run(args: &Args) -> Result<()> {
    let model = paper_cnn(args.image_size, 0)?;
    print!("{}", model.summary()?);
    Ok(())
}
