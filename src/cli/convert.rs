//! `lumbar convert IN.dcm OUT.png`: one DICOM slice to a PNG (native size, min-max to 0–255).

use std::path::PathBuf;

/// Arguments of `lumbar convert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The DICOM file to read.
    pub input: PathBuf,
    /// The PNG file to write.
    pub output: PathBuf,
}

/// Convert and say what was written.
pub fn run(args: &Args) -> crate::Result<()> {
    let (rows, cols) = crate::dicom::convert::convert_file(&args.input, &args.output)?;
    println!(
        "wrote {} ({cols}×{rows}, min-max to 0–255)",
        args.output.display()
    );
    Ok(())
}
