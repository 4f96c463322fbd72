//! The disc centres of each study in patient space, from the spinal canal points that
//! `train_label_coordinates.csv` places on a sagittal slice at every level. Where a level has no
//! canal point (its label is missing), the mean of its left and right neural foraminal points
//! stands in: they lie at the same disc, either side of the canal (Sagittal T1).
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

/// Which sagittal points a level's disc centre is taken from, in order of preference (the
/// value indexes the sums).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `Spinal Canal Stenosis`: the canal at the disc (Sagittal T2/STIR).
    Canal = 0,
    /// `Left/Right Neural Foraminal Narrowing`: the foramina at the disc (Sagittal T1).
    Foramina = 1,
}

/// The source of a label point, or `None` for the subarticular (axial) points.
fn source(point: &LabelCoordinate) -> Option<Source> {
    let condition = point.condition.trim().to_ascii_lowercase();
    if condition == "spinal canal stenosis" {
        Some(Source::Canal)
    } else if condition.ends_with("neural foraminal narrowing") {
        Some(Source::Foramina)
    } else {
        None
    }
}

/// The disc points of every study among `points` (rows of `train_label_coordinates.csv`),
/// reading the header of each sagittal slice they lie on (in parallel; the file is
/// `<series folder>/<instance>.dcm`, as in the RSNA layout). A level's disc is the mean of its
/// spinal canal points, or if it has none the mean of its foraminal points. Returns the points
/// and the warnings: one line counting the points that could not be placed (unreadable file,
/// geometry tags missing, or an axial slice), with the first such file, or none.
pub fn study_disc_points<'a>(
    layout: &RsnaLayout,
    points: impl IntoIterator<Item = &'a LabelCoordinate>,
) -> (HashMap<u64, DiscPoints>, Vec<String>) {
    let sagittal: Vec<(&LabelCoordinate, Source)> = points
        .into_iter()
        .filter_map(|p| Some((p, source(p)?)))
        .collect();
    // Each slice's header is read once, however many points lie on it.
    let mut files: BTreeMap<(u64, u64, i64), Option<SliceHeader>> = sagittal
        .iter()
        .map(|(p, _)| ((p.study_id, p.series_id, p.instance_number), None))
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
    // Per study, level and source: the sum of the points and their count.
    type Sums = [[([f64; 3], usize); 2]; 5];
    let mut sums: HashMap<u64, Sums> = HashMap::new();
    let (mut unplaced, mut first_unplaced) = (0, None);
    for (p, source) in sagittal {
        let key = (p.study_id, p.series_id, p.instance_number);
        let placed = files[&key]
            .as_ref()
            .and_then(|h| pixel_to_patient(h, p.x, p.y));
        let Some(point) = placed else {
            unplaced += 1;
            first_unplaced.get_or_insert(key);
            continue;
        };
        let slot = source as usize;
        let (sum, count) = &mut sums.entry(p.study_id).or_default()[p.level as usize][slot];
        for (s, v) in sum.iter_mut().zip(point) {
            *s += v;
        }
        *count += 1;
    }
    let mean = |(sum, count): ([f64; 3], usize)| (count > 0).then(|| sum.map(|s| s / count as f64));
    let discs = sums
        .into_iter()
        .map(|(study, levels)| {
            let points = levels.map(|[canal, foramina]| mean(canal).or_else(|| mean(foramina)));
            (study, points)
        })
        .collect();
    let warnings = first_unplaced
        .map(|(study, series, instance)| {
            format!(
                "{unplaced} sagittal point(s) of train_label_coordinates.csv could not be placed \
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
