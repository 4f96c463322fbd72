//! `lumbar inspect IN.dcm`: print the DICOM tags the pipeline uses.

use std::path::PathBuf;

/// Arguments of `lumbar inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The DICOM file to inspect.
    pub input: PathBuf,
}

/// Print one `name: value` line per attribute.
pub fn run(args: &Args) -> crate::Result<()> {
    let header = crate::dicom::read_header(&args.input)?;
    let lines = crate::dicom::inspect::describe(&header);
    let width = lines
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    for (name, value) in lines {
        println!("{name:<width$}  {value}");
    }
    Ok(())
}
