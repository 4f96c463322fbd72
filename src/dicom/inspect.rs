//! `lumbar inspect`: the tags the pipeline uses, as `name: value` lines.

use super::header::SliceHeader;

/// The attributes of `header` the pipeline relies on, as `(name, value)` pairs in reading
/// order; a missing attribute shows as `(missing)`. The geometry-derived slice normal and
/// `IPP · normal` position are appended, as the level assignment uses them.
pub fn describe(header: &SliceHeader) -> Vec<(String, String)> {
    fn show<T: std::fmt::Debug>(v: &Option<T>) -> String {
        match v {
            Some(v) => format!("{v:?}").trim_matches('"').to_string(),
            None => "(missing)".to_string(),
        }
    }
    let syntax_name = match header.transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => " (Implicit VR Little Endian)",
        "1.2.840.10008.1.2.1" => " (Explicit VR Little Endian)",
        "1.2.840.10008.1.2.2" => " (Explicit VR Big Endian)",
        "1.2.840.10008.1.2.5" => " (RLE Lossless)",
        _ => "",
    };
    let normal = header.normal();
    let position = normal.and_then(|n| header.position_along(n));
    vec![
        ("File".into(), header.path.display().to_string()),
        (
            "TransferSyntaxUID".into(),
            format!("{}{syntax_name}", header.transfer_syntax),
        ),
        ("Modality".into(), show(&header.modality)),
        ("SeriesDescription".into(), show(&header.series_description)),
        ("InstanceNumber".into(), show(&header.instance_number)),
        ("Rows".into(), header.rows.to_string()),
        ("Columns".into(), header.columns.to_string()),
        ("PixelSpacing".into(), show(&header.pixel_spacing)),
        ("SliceThickness".into(), show(&header.slice_thickness)),
        ("BitsAllocated".into(), show(&header.bits_allocated)),
        ("BitsStored".into(), show(&header.bits_stored)),
        (
            "PhotometricInterpretation".into(),
            show(&header.photometric_interpretation),
        ),
        ("RescaleSlope".into(), show(&header.rescale_slope)),
        ("RescaleIntercept".into(), show(&header.rescale_intercept)),
        ("ImagePositionPatient".into(), show(&header.image_position)),
        (
            "ImageOrientationPatient".into(),
            show(&header.image_orientation),
        ),
        ("SliceLocation".into(), show(&header.slice_location)),
        ("slice normal (row × col)".into(), show(&normal)),
        ("position = IPP · normal (mm)".into(), show(&position)),
        (
            "axial".into(),
            if header.is_axial() { "yes" } else { "no" }.into(),
        ),
    ]
}
