//! The DICOM attributes the pipeline uses, read into one plain struct.
//!
//! Any of them may be missing in real files (the RSNA download comes from many scanners and sites;
//! chapter 2 of the book lists the quirks), so all optional ones are
//! `Option`s; only the image matrix (`Rows`, `Columns`) is required to decode pixels.

use super::lengths::check_element_lengths;
use crate::error::{Error, Result};
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use std::path::{Path, PathBuf};

/// The header of one DICOM slice: geometry, matrix, pixel encoding and descriptive tags.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SliceHeader {
    /// The file this header was read from.
    pub path: PathBuf,
    /// Transfer syntax UID, e.g. `1.2.840.10008.1.2.5` (RLE Lossless).
    pub transfer_syntax: String,
    /// (0020,0013) Instance Number.
    pub instance_number: Option<i64>,
    /// (0020,0032) Image Position (Patient): the centre of the first (top-left) pixel, mm.
    pub image_position: Option<[f64; 3]>,
    /// (0020,0037) Image Orientation (Patient): row direction cosines, then column ones.
    pub image_orientation: Option<[f64; 6]>,
    /// (0020,1041) Slice Location, mm (scanner-defined; often missing in the RSNA files).
    pub slice_location: Option<f64>,
    /// (0018,0050) Slice Thickness, mm.
    pub slice_thickness: Option<f64>,
    /// (0028,0030) Pixel Spacing: row spacing, column spacing, mm.
    pub pixel_spacing: Option<[f64; 2]>,
    /// (0028,0010) Rows.
    pub rows: u32,
    /// (0028,0011) Columns.
    pub columns: u32,
    /// (0028,0100) Bits Allocated.
    pub bits_allocated: Option<u16>,
    /// (0028,0101) Bits Stored.
    pub bits_stored: Option<u16>,
    /// (0028,0004) Photometric Interpretation, e.g. `MONOCHROME2`.
    pub photometric_interpretation: Option<String>,
    /// (0028,1053) Rescale Slope of the modality LUT (1 when absent).
    pub rescale_slope: Option<f64>,
    /// (0028,1052) Rescale Intercept of the modality LUT (0 when absent).
    pub rescale_intercept: Option<f64>,
    /// (0008,0060) Modality, e.g. `MR`.
    pub modality: Option<String>,
    /// (0008,103E) Series Description.
    pub series_description: Option<String>,
}

impl SliceHeader {
    /// Read the attributes from an opened DICOM object. Fails only if `Rows`/`Columns` are
    /// missing or a present attribute has an unreadable value.
    pub fn from_object(path: &Path, obj: &DefaultDicomObject) -> Result<SliceHeader> {
        let shown = path.display();
        let text = |tag| -> Option<String> {
            obj.get(tag)
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim().trim_end_matches('\0').to_string())
                .filter(|s| !s.is_empty())
        };
        let number = |tag| -> Option<f64> { text(tag).and_then(|s| s.parse::<f64>().ok()) };
        let numbers =
            |tag| -> Option<Vec<f64>> { obj.get(tag).and_then(|e| e.to_multi_float64().ok()) };
        let uint = |tag, name: &str| -> Result<Option<u32>> {
            match obj.get(tag) {
                None => Ok(None),
                Some(e) => e
                    .to_int::<u32>()
                    .map(Some)
                    .map_err(|err| Error::format(&shown, format!("unreadable {name}: {err}"))),
            }
        };
        // A bit count is a US value: one above 65535 is a corrupt element, never truncated.
        let bits = |value: Option<u32>, name: &str| -> Result<Option<u16>> {
            value
                .map(|v| {
                    u16::try_from(v).map_err(|_| {
                        Error::format(
                            &shown,
                            format!("{name} is {v}, not a bit count (at most 65535)"),
                        )
                    })
                })
                .transpose()
        };
        let rows = uint(tags::ROWS, "Rows")?
            .ok_or_else(|| Error::format(&shown, "missing Rows (0028,0010)"))?;
        let columns = uint(tags::COLUMNS, "Columns")?
            .ok_or_else(|| Error::format(&shown, "missing Columns (0028,0011)"))?;
        Ok(SliceHeader {
            path: path.to_path_buf(),
            transfer_syntax: obj
                .meta()
                .transfer_syntax()
                .trim_end_matches('\0')
                .to_string(),
            instance_number: text(tags::INSTANCE_NUMBER).and_then(|s| s.parse().ok()),
            image_position: numbers(tags::IMAGE_POSITION_PATIENT).and_then(|v| v.try_into().ok()),
            image_orientation: numbers(tags::IMAGE_ORIENTATION_PATIENT)
                .and_then(|v| v.try_into().ok()),
            slice_location: number(tags::SLICE_LOCATION),
            slice_thickness: number(tags::SLICE_THICKNESS),
            pixel_spacing: numbers(tags::PIXEL_SPACING).and_then(|v| v.try_into().ok()),
            rows,
            columns,
            bits_allocated: bits(
                uint(tags::BITS_ALLOCATED, "Bits Allocated")?,
                "Bits Allocated (0028,0100)",
            )?,
            bits_stored: bits(
                uint(tags::BITS_STORED, "Bits Stored")?,
                "Bits Stored (0028,0101)",
            )?,
            photometric_interpretation: text(tags::PHOTOMETRIC_INTERPRETATION),
            rescale_slope: number(tags::RESCALE_SLOPE),
            rescale_intercept: number(tags::RESCALE_INTERCEPT),
            modality: text(tags::MODALITY),
            series_description: text(tags::SERIES_DESCRIPTION),
        })
    }

    // ANCHOR: normal
    /// The unit normal of the slice plane, `row × column` of `ImageOrientationPatient`.
    /// For an axial slice with the usual orientation it points to the head (+z).
    /// `None` without an orientation or with degenerate (parallel/zero) direction cosines.
    pub fn normal(&self) -> Option<[f64; 3]> {
        let o = self.image_orientation?;
        let (r, c) = ([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
        let n = [
            r[1] * c[2] - r[2] * c[1],
            r[2] * c[0] - r[0] * c[2],
            r[0] * c[1] - r[1] * c[0],
        ];
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        (len > 1e-6).then(|| [n[0] / len, n[1] / len, n[2] / len])
    }
    // ANCHOR_END: normal

    /// Whether the slice is axial: its normal is closer to the patient z axis (feet–head) than
    /// to x or y. Unknown (no orientation) counts as not axial. This checks the geometry of
    /// each slice of a series first chosen by its CSV description
    /// ([`SeriesDescription::is_axial_t2`](crate::rsna::SeriesDescription::is_axial_t2)).
    pub fn is_axial(&self) -> bool {
        self.not_axial_reason().is_none()
    }

    /// Why [`is_axial`](Self::is_axial) is false, in words for a warning, or `None` for an
    /// axial slice: `no ImageOrientationPatient (0020,0037)` when the tag is missing (or not
    /// six numbers), `ImageOrientationPatient (0020,0037) has parallel or zero direction
    /// cosines` when it gives no plane, `orientation is not axial` otherwise.
    pub fn not_axial_reason(&self) -> Option<String> {
        if self.image_orientation.is_none() {
            return Some("no ImageOrientationPatient (0020,0037)".into());
        }
        let Some(n) = self.normal() else {
            return Some(
                "ImageOrientationPatient (0020,0037) has parallel or zero direction cosines".into(),
            );
        };
        let axial = n[2].abs() >= n[0].abs() && n[2].abs() >= n[1].abs();
        (!axial).then(|| "orientation is not axial".into())
    }

    // ANCHOR: position_along
    /// Position of the slice along `direction` (a unit vector): `ImagePositionPatient · direction`,
    /// in mm. This is the robust slice position; `SliceLocation` may be missing or defined
    /// differently by each scanner.
    pub fn position_along(&self, direction: [f64; 3]) -> Option<f64> {
        let p = self.image_position?;
        Some(p[0] * direction[0] + p[1] * direction[1] + p[2] * direction[2])
    }
    // ANCHOR_END: position_along
}

/// Check that `path` is a non-empty regular file we may read, before the DICOM parser sees it,
/// so that the error keeps the operating system's reason (permission denied, a dangling link,
/// no such file) and a FIFO or device named `x.dcm` is refused instead of blocking forever;
/// and that no element declares more bytes than the file holds
/// ([`check_element_lengths`]), which the parser would allocate before failing.
pub fn check_readable_file(path: &Path) -> Result<()> {
    // `metadata` follows symbolic links: a dangling one fails here with "No such file".
    let metadata = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !metadata.is_file() {
        return Err(Error::format(
            path.display(),
            "not a regular file (a folder, FIFO or device), so not a DICOM file",
        ));
    }
    if metadata.len() == 0 {
        return Err(Error::format(path.display(), "empty file (0 bytes)"));
    }
    // Opening reports a permission problem with the system's own words.
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // A corrupt length field would make the parser allocate gigabytes before failing.
    check_element_lengths(std::io::BufReader::new(file), metadata.len())
        .map_err(|reason| Error::format(path.display(), reason))
}

/// Open a DICOM Part-10 file, mapping any failure to an error naming the file and the reason.
pub fn open_dicom(path: &Path) -> Result<DefaultDicomObject> {
    check_readable_file(path)?;
    OpenFileOptions::new()
        .open_file(path)
        .map_err(|e| Error::format(path.display(), format!("not a readable DICOM file: {e}")))
}

/// Read only the header of `path` (parsing stops before the pixel data, so it is cheap).
pub fn read_header(path: &Path) -> Result<SliceHeader> {
    check_readable_file(path)?;
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .map_err(|e| Error::format(path.display(), format!("not a readable DICOM file: {e}")))?;
    SliceHeader::from_object(path, &obj)
}
