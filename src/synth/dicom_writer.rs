//! Writing one synthetic slice as a DICOM Part-10 file, the way the RSNA files are stored:
//! MR Image Storage, 16-bit MONOCHROME2 with 12 bits stored, the geometry tags a reader needs,
//! and either **RLE Lossless** (encapsulated: an empty basic offset table, then one fragment)
//! or native Explicit VR Little Endian pixel data.
//!
//! As in the Kaggle download, `Modality` and `SeriesDescription` are not written, and
//! `SliceLocation` / `SliceThickness` can be left out ([`SliceTags`]).

use super::geometry::Plane;
use super::rle_encoder::encode_rle_frame_u16;
use crate::error::{Error, Result};
use dicom_core::value::{PixelFragmentSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use std::path::Path;

/// How the pixel data of a file is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelEncoding {
    /// RLE Lossless (`1.2.840.10008.1.2.5`), encoded by [`super::rle_encoder`].
    RleLossless,
    /// Explicit VR Little Endian (`1.2.840.10008.1.2.1`), pixels stored as they are.
    Native,
}

impl PixelEncoding {
    /// The transfer syntax UID.
    pub fn transfer_syntax(self) -> &'static str {
        match self {
            PixelEncoding::RleLossless => uids::RLE_LOSSLESS,
            PixelEncoding::Native => uids::EXPLICIT_VR_LITTLE_ENDIAN,
        }
    }
}

/// Identity and geometry of one slice, as written into its DICOM tags.
#[derive(Clone, Debug)]
pub struct SliceTags<'a> {
    /// `PatientID` (we use the RSNA study id, as the Kaggle files do).
    pub patient_id: &'a str,
    /// `StudyInstanceUID`.
    pub study_uid: &'a str,
    /// `SeriesInstanceUID`.
    pub series_uid: &'a str,
    /// `SOPInstanceUID`.
    pub sop_uid: &'a str,
    /// `FrameOfReferenceUID` (one per study: all series share patient coordinates).
    pub frame_uid: &'a str,
    /// `SeriesNumber`.
    pub series_number: u32,
    /// `InstanceNumber`.
    pub instance_number: u32,
    /// Position, orientation, spacing and size.
    pub plane: &'a Plane,
    /// `SliceThickness` (mm), or `None` to leave the tag out.
    pub slice_thickness: Option<f64>,
    /// `SliceLocation` (mm), or `None` to leave the tag out.
    pub slice_location: Option<f64>,
}

/// Format a number as a DICOM decimal string (at most 16 characters).
pub fn decimal_string(x: f64) -> String {
    for decimals in (0..=6).rev() {
        let s = format!("{x:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        let s = if s == "-0" { "0".to_string() } else { s };
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{x:.0}")
}

fn strings(values: impl IntoIterator<Item = String>) -> PrimitiveValue {
    PrimitiveValue::Strs(values.into_iter().collect())
}

/// Build the complete Part-10 file bytes for one 12-bit slice of `plane.rows × plane.cols`.
pub fn encode_slice(
    tags_in: &SliceTags,
    pixels: &[u16],
    encoding: PixelEncoding,
) -> Result<Vec<u8>> {
    let plane = tags_in.plane;
    if pixels.len() != plane.rows * plane.cols {
        return Err(Error::shape(
            format!("DICOM slice {}", tags_in.sop_uid),
            [plane.rows, plane.cols],
            pixels.len(),
        ));
    }
    let mut obj = InMemDicomObject::new_empty();
    let mut put = |tag, vr, value: PrimitiveValue| {
        obj.put(DataElement::new(tag, vr, value));
    };
    put(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE.into());
    put(tags::SOP_INSTANCE_UID, VR::UI, tags_in.sop_uid.into());
    put(tags::PATIENT_ID, VR::LO, tags_in.patient_id.into());
    put(tags::STUDY_INSTANCE_UID, VR::UI, tags_in.study_uid.into());
    put(tags::SERIES_INSTANCE_UID, VR::UI, tags_in.series_uid.into());
    put(
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        tags_in.frame_uid.into(),
    );
    put(
        tags::SERIES_NUMBER,
        VR::IS,
        tags_in.series_number.to_string().into(),
    );
    put(
        tags::INSTANCE_NUMBER,
        VR::IS,
        tags_in.instance_number.to_string().into(),
    );
    put(
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        strings(plane.position.iter().map(|&v| decimal_string(v))),
    );
    put(
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        strings(
            plane
                .row_dir
                .iter()
                .chain(plane.col_dir.iter())
                .map(|&v| decimal_string(v)),
        ),
    );
    put(
        tags::PIXEL_SPACING,
        VR::DS,
        strings([decimal_string(plane.spacing), decimal_string(plane.spacing)]),
    );
    if let Some(thickness) = tags_in.slice_thickness {
        put(
            tags::SLICE_THICKNESS,
            VR::DS,
            decimal_string(thickness).into(),
        );
    }
    if let Some(location) = tags_in.slice_location {
        put(
            tags::SLICE_LOCATION,
            VR::DS,
            decimal_string(location).into(),
        );
    }
    put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16));
    put(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2".into(),
    );
    put(tags::ROWS, VR::US, PrimitiveValue::from(plane.rows as u16));
    put(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(plane.cols as u16),
    );
    put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16));
    put(tags::BITS_STORED, VR::US, PrimitiveValue::from(12u16));
    put(tags::HIGH_BIT, VR::US, PrimitiveValue::from(11u16));
    put(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(0u16),
    );
    match encoding {
        PixelEncoding::Native => {
            put(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16(pixels.iter().copied().collect()),
            );
        }
        PixelEncoding::RleLossless => {
            let fragment = encode_rle_frame_u16(pixels, plane.rows, plane.cols);
            let sequence = PixelFragmentSequence::new(Vec::<u32>::new(), vec![fragment]);
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                Value::PixelSequence(sequence),
            ));
        }
    }
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(encoding.transfer_syntax()))
        .map_err(|e| Error::format(tags_in.sop_uid, format!("DICOM meta table: {e}")))?;
    let mut bytes = Vec::with_capacity(pixels.len() * 2 + 2048);
    file.write_all(&mut bytes)
        .map_err(|e| Error::format(tags_in.sop_uid, format!("DICOM encoding: {e}")))?;
    Ok(bytes)
}

/// Encode one slice and write it to `path` atomically (no truncated `.dcm` is ever visible).
/// Returns the file size in bytes.
pub fn write_slice(
    path: &Path,
    tags_in: &SliceTags,
    pixels: &[u16],
    encoding: PixelEncoding,
) -> Result<u64> {
    let bytes = encode_slice(tags_in, pixels, encoding)?;
    write_without_sync(path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// Write `bytes` to a temporary sibling and rename it over `path`, creating parent folders.
///
/// This is [`crate::atomic_write::write_atomic`] without its `fsync`: a killed or failing run
/// never leaves a truncated `.dcm` (the rename is atomic), but the thousands of image files of
/// a dataset are not each forced to disk, which would take longer than generating them. The
/// CSV files, written last, do go through `write_atomic`.
pub fn write_without_sync(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_fit_16_characters() {
        assert_eq!(decimal_string(0.5), "0.5");
        assert_eq!(decimal_string(-0.0), "0");
        assert_eq!(decimal_string(4.0), "4");
        assert!(decimal_string(-123.456_789_123_4).len() <= 16);
        assert!(decimal_string(-0.999_999_999_9).len() <= 16);
    }
}
