//! The disc centres of each study in patient space, from the spinal canal points that
//! `train_label_coordinates.csv` places on a sagittal slice at every level.
//!
//! A point is `(series, instance, x, y)`: pixel column `x` and row `y` of one slice. With that
//! slice's `ImagePositionPatient` \\(\mathbf{p}\\) (the centre of the first pixel),
//! `ImageOrientationPatient` (row direction \\(\mathbf{r}\\), column direction
//! \\(\mathbf{c}\\)) and `PixelSpacing` \\((\Delta_r, \Delta_c)\\) (between rows, between
//! columns), the point in patient coordinates (DICOM PS3.3 C.7.6.2.1.1) is
//! \\(\mathbf{p} + x \Delta_c \mathbf{r} + y \Delta_r \mathbf{c}\\). The series of a study
//! share one frame of reference, so these points can be projected on an axial stack's normal.

use crate::dicom::{read_header, SliceHeader};
use crate::rsna::{LabelCoordinate, RsnaLayout};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// The disc centres of one study in patient coordinates (mm), L1/L2 … L5/S1; `None` where the
/// study has no usable spinal canal point.
pub type DiscPoints = [Option<[f64; 3]>; 5];

/// The patient-space position (mm) of pixel column `x`, row `y` of a slice, or `None` if its
/// header lacks the position, orientation or pixel spacing.
pub fn pixel_to_patient(header: &SliceHeader, x: f64, y: f64) -> Option<[f64; 3]> {
    let (p, o, spacing) = (
        header.image_position?,
        header.image_orientation?,
        header.pixel_spacing?,
    );
    let (along_row, along_col) = (x * spacing[1], y * spacing[0]);
    Some(std::array::from_fn(|k| {
        p[k] + o[k] * along_row + o[3 + k] * along_col
    }))
}

/// Whether a label point is a spinal canal one (placed on a sagittal T2 slice at the disc).
fn is_spinal_canal(point: &LabelCoordinate) -> bool {
    point
        .condition
        .trim()
        .eq_ignore_ascii_case("spinal canal stenosis")
}

/// The disc points of every study among `points` (rows of `train_label_coordinates.csv`) with
/// spinal canal points, reading the header of each slice they lie on (in parallel; the file is
/// `<series folder>/<instance>.dcm`, as in the RSNA layout). Several points for one level are
/// averaged. Returns the points and the warnings: one line counting the points that could not
/// be placed (unreadable file, geometry tags missing, or an axial slice), with the first such
/// file, or none.
pub fn study_disc_points<'a>(
    layout: &RsnaLayout,
    points: impl IntoIterator<Item = &'a LabelCoordinate>,
) -> (HashMap<u64, DiscPoints>, Vec<String>) {
    let canal: Vec<&LabelCoordinate> = points.into_iter().filter(|p| is_spinal_canal(p)).collect();
    // Each slice's header is read once, however many points lie on it.
    let mut files: BTreeMap<(u64, u64, i64), Option<SliceHeader>> = canal
        .iter()
        .map(|p| ((p.study_id, p.series_id, p.instance_number), None))
        .collect();
    let keys: Vec<(u64, u64, i64)> = files.keys().copied().collect();
    let headers: Vec<Option<SliceHeader>> = keys
        .par_iter()
        .map(|&(study, series, instance)| {
            let path = layout
                .series_dir(study, series)
                .join(format!("{instance}.dcm"));
            read_header(&path).ok().filter(|h| !h.is_axial())
        })
        .collect();
    for (key, header) in keys.into_iter().zip(headers) {
        files.insert(key, header);
    }
    let mut sums: HashMap<u64, [([f64; 3], usize); 5]> = HashMap::new();
    let (mut unplaced, mut first_unplaced) = (0, None);
    for p in canal {
        let key = (p.study_id, p.series_id, p.instance_number);
        let placed = files[&key]
            .as_ref()
            .and_then(|h| pixel_to_patient(h, p.x, p.y));
        let Some(point) = placed else {
            unplaced += 1;
            first_unplaced.get_or_insert(key);
            continue;
        };
        let (sum, count) =
            &mut sums.entry(p.study_id).or_insert([([0.0; 3], 0); 5])[p.level as usize];
        for (s, v) in sum.iter_mut().zip(point) {
            *s += v;
        }
        *count += 1;
    }
    let discs = sums
        .into_iter()
        .map(|(study, levels)| {
            let points =
                levels.map(|(sum, count)| (count > 0).then(|| sum.map(|s| s / count as f64)));
            (study, points)
        })
        .collect();
    let warnings = first_unplaced
        .map(|(study, series, instance)| {
            format!(
                "{unplaced} spinal canal point(s) of train_label_coordinates.csv could not be placed \
                 in patient space (file unreadable, geometry tags missing, or not a sagittal slice), \
                 first {}; continuous stacks of those studies use the remaining discs",
                layout
                    .series_dir(study, series)
                    .join(format!("{instance}.dcm"))
                    .display()
            )
        })
        .into_iter()
        .collect();
    (discs, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pixel_lands_where_the_geometry_puts_it() {
        // A sagittal slice: rows run posterior (+y), columns run to the feet (−z).
        let header = SliceHeader {
            path: "x.dcm".into(),
            transfer_syntax: String::new(),
            instance_number: Some(1),
            image_position: Some([5.0, -100.0, 150.0]),
            image_orientation: Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]),
            slice_location: None,
            slice_thickness: None,
            pixel_spacing: Some([0.5, 0.8]),
            rows: 64,
            columns: 64,
            bits_allocated: None,
            bits_stored: None,
            photometric_interpretation: None,
            rescale_slope: None,
            rescale_intercept: None,
            modality: None,
            series_description: None,
        };
        assert!(!header.is_axial());
        let p = pixel_to_patient(&header, 10.0, 20.0).unwrap();
        assert_eq!(p, [5.0, -100.0 + 10.0 * 0.8, 150.0 - 20.0 * 0.5]);
        let missing = SliceHeader {
            pixel_spacing: None,
            ..header
        };
        assert!(pixel_to_patient(&missing, 1.0, 1.0).is_none());
    }
}
