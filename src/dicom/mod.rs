//! Reading DICOM slices: the header attributes the pipeline uses, pixel decoding (native and
//! RLE Lossless, pure Rust, modality LUT applied), and the `inspect` / `convert` helpers.

pub mod convert;
pub mod header;
pub mod inspect;
pub mod lengths;
pub mod pixels;
pub mod validate;

pub use header::{read_header, SliceHeader};
pub use pixels::{read_slice, DicomSlice};
