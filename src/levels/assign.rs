//! Naming every axial slice with its intervertebral disc level, in the two protocols.
//!
//! **Honest (default), per series.** A series may hold several stacks, one per disc, each
//! tilted to follow that disc. We
//! 1. group the slices into stacks by orientation (normals within [`STACK_ANGLE_DEG`]),
//! 2. put every slice on one axis: the mean stack normal, turned to point to the head (+z in
//!    DICOM patient coordinates), and the slice position is `centre · axis`, where `centre`
//!    is the centre of the image in patient space (`ImagePositionPatient` is the top-left
//!    pixel: on a stack tilted by 15° the corner sits ≈ 25 mm off the centre along z, which
//!    is most of the gap between two discs, so the corner cannot be used across stacks),
//! 3. cluster the positions with K-Means (k = 5) and name the clusters by descending position:
//!    the most cranial is L1/L2, the most caudal L5/S1.
//!
//! A series with fewer than 5 distinct positions cannot be split into 5 levels: it is skipped
//! with a warning (its slices get no level). So is a slice without position or orientation.
//!
//! A series that is one **continuous stack** (one orientation, evenly spaced slices over more
//! than 60 mm, see [`super::continuous`]) has no clusters to find: step 3 is replaced by
//! locating the five discs on the axis (from the sagittal label points when the caller has
//! them, else from the K-Means centres) and the reach rule, which leaves the slices between
//! discs without a level.
//!
//! **Paper.** The authors' method, kept so the book can show why it fails: one K-Means
//! (k = 5) over the `SliceLocation` of every slice of every study, centres sorted ascending and
//! named L1/L2 … L5/S1. Each series has its own origin, and ascending z runs from the feet to the
//! head, so the names are mostly wrong. A slice without `SliceLocation` falls back to the z of
//! its `ImagePositionPatient`.

use super::continuous::{complete_discs, is_continuous, kmeans_discs, levels_by_reach};
use super::kmeans::kmeans_1d;
use super::sagittal::DiscPoints;
use crate::dicom::SliceHeader;
use crate::error::Result;
use crate::rsna::Level;
use crate::seed::stream_seed;

/// Two slices belong to the same stack if their normals differ by less than this angle.
pub const STACK_ANGLE_DEG: f64 = 1.0;

/// Lloyd iteration limit for both protocols (1-D K-Means with 5 centres converges in a few).
const MAX_ITERATIONS: usize = 300;

/// The honest level assignment of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesLevels {
    /// Per input slice, its level (`None` if it could not be placed).
    pub levels: Vec<Option<Level>>,
    /// Per input slice, its position along the series axis in mm (+ = cranial).
    pub positions: Vec<Option<f64>>,
    /// Number of stacks (distinct orientations) found in the series.
    pub stacks: usize,
    /// Whether the series is one continuous stack (levels by the reach rule).
    pub continuous: bool,
    /// Slices of a continuous stack left without a level because they lie between discs.
    pub between_discs: usize,
    /// Why some or all slices got no level, if so.
    pub warning: Option<String>,
}

// ANCHOR: image_centre
/// The centre of the image in patient coordinates (mm): `ImagePositionPatient` moved half the
/// image along the row and column directions. Falls back to `ImagePositionPatient` itself when
/// `PixelSpacing` is missing.
pub fn image_centre(header: &SliceHeader) -> Option<[f64; 3]> {
    let p = header.image_position?;
    let (Some(o), Some(spacing)) = (header.image_orientation, header.pixel_spacing) else {
        return Some(p);
    };
    // PixelSpacing = [distance between rows, distance between columns].
    let along_row = (header.columns as f64 - 1.0) / 2.0 * spacing[1];
    let along_col = (header.rows as f64 - 1.0) / 2.0 * spacing[0];
    Some([
        p[0] + o[0] * along_row + o[3] * along_col,
        p[1] + o[1] * along_row + o[4] * along_col,
        p[2] + o[2] * along_row + o[5] * along_col,
    ])
}
// ANCHOR_END: image_centre

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Turn `n` so that it points to the head (non-negative z component).
fn headward(n: [f64; 3]) -> [f64; 3] {
    if n[2] < 0.0 {
        [-n[0], -n[1], -n[2]]
    } else {
        n
    }
}

/// Group slice normals into stacks: returns, per slice, a stack index, and the stack normals.
/// Slices without a normal get `None`.
pub fn group_stacks(normals: &[Option<[f64; 3]>]) -> (Vec<Option<usize>>, Vec<[f64; 3]>) {
    let cos_tolerance = STACK_ANGLE_DEG.to_radians().cos();
    let mut stacks: Vec<[f64; 3]> = Vec::new();
    let membership = normals
        .iter()
        .map(|n| {
            let n = headward((*n)?);
            let found = stacks.iter().position(|s| dot(*s, n) >= cos_tolerance);
            Some(found.unwrap_or_else(|| {
                stacks.push(n);
                stacks.len() - 1
            }))
        })
        .collect();
    (membership, stacks)
}

/// Assign levels to the slices of one series (honest protocol, see the module doc) when no
/// disc points are known: a continuous stack falls back to the K-Means centres, with a warning.
/// `series_key` (e.g. the series id) varies the K-Means seed between series.
pub fn assign_series_levels(
    headers: &[&SliceHeader],
    seed: u64,
    series_key: u64,
) -> Result<SeriesLevels> {
    assign_series_levels_with_discs(headers, seed, series_key, None)
}

/// [`assign_series_levels`], with the study's disc centres in patient space (from the sagittal
/// label points, [`super::sagittal::study_disc_points`]) for a continuous stack. They are not
/// used on a series of short stacks, where K-Means finds the stacks.
pub fn assign_series_levels_with_discs(
    headers: &[&SliceHeader],
    seed: u64,
    series_key: u64,
    discs: Option<&DiscPoints>,
) -> Result<SeriesLevels> {
    let normals: Vec<Option<[f64; 3]>> = headers.iter().map(|h| h.normal()).collect();
    let (membership, stacks) = group_stacks(&normals);
    let mut result = SeriesLevels {
        levels: vec![None; headers.len()],
        positions: vec![None; headers.len()],
        stacks: stacks.len(),
        continuous: false,
        between_discs: 0,
        warning: None,
    };
    if stacks.is_empty() {
        result.warning = Some("no slice has an orientation".into());
        return Ok(result);
    }
    // The series axis: mean of the stack normals, weighted by slices, pointing to the head.
    let mut axis = [0.0; 3];
    for stack in membership.iter().flatten() {
        for (a, s) in axis.iter_mut().zip(stacks[*stack]) {
            *a += s;
        }
    }
    let length = dot(axis, axis).sqrt();
    let axis = axis.map(|a| a / length);
    for (i, header) in headers.iter().enumerate() {
        if membership[i].is_some() {
            result.positions[i] = image_centre(header).map(|c| dot(c, axis));
        }
    }
    let placed: Vec<(usize, f64)> = result
        .positions
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (i, p)))
        .collect();
    let mut distinct: Vec<i64> = placed
        .iter()
        .map(|(_, p)| (p * 10.0).round() as i64)
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < Level::ALL.len() {
        result.warning = Some(format!(
            "only {} distinct slice positions, need at least 5 to find 5 levels; series skipped",
            distinct.len()
        ));
        return Ok(result);
    }
    if placed.len() < headers.len() {
        result.warning = Some(format!(
            "{} slice(s) without position or orientation got no level",
            headers.len() - placed.len()
        ));
    }
    let values: Vec<f64> = placed.iter().map(|(_, p)| *p).collect();
    let kmeans_seed = stream_seed(seed, series_key);
    if stacks.len() == 1 && is_continuous(&values) {
        result.continuous = true;
        let along = discs.and_then(|d| complete_discs(d.map(|p| p.map(|p| dot(p, axis)))));
        let disc_positions = match along {
            Some(positions) => positions,
            None => {
                let why = "one continuous stack and fewer than 2 disc points from the sagittal \
                           labels: discs placed at the K-Means centres of the stack (less reliable)";
                result.warning = Some(match result.warning.take() {
                    Some(w) => format!("{w}; {why}"),
                    None => why.to_string(),
                });
                kmeans_discs(&values, kmeans_seed, MAX_ITERATIONS)?
            }
        };
        for ((i, _), level) in placed.iter().zip(levels_by_reach(&values, &disc_positions)) {
            result.levels[*i] = level;
            result.between_discs += usize::from(level.is_none());
        }
        return Ok(result);
    }
    let fit = kmeans_1d(&values, 5, kmeans_seed, MAX_ITERATIONS)?;
    let names = names_by_centre(&fit.centres.column(0).to_vec(), true);
    for ((i, _), cluster) in placed.iter().zip(&fit.assignment) {
        result.levels[*i] = Some(names[*cluster]);
    }
    Ok(result)
}

// ANCHOR: names_by_centre
/// Name clusters from their centres: sorted descending (`cranial_first`, the honest naming:
/// highest position = L1/L2) or ascending (the paper's naming). Returns the level of each
/// cluster index.
fn names_by_centre(centres: &[f64], cranial_first: bool) -> Vec<Level> {
    let mut order: Vec<usize> = (0..centres.len()).collect();
    order.sort_by(|&a, &b| centres[a].total_cmp(&centres[b]));
    if cranial_first {
        order.reverse();
    }
    let mut names = vec![Level::L1L2; centres.len()];
    for (rank, cluster) in order.into_iter().enumerate() {
        names[cluster] = Level::ALL[rank];
    }
    names
}
// ANCHOR_END: names_by_centre

// ANCHOR: paper_levels
/// The value the paper clusters for one slice: `SliceLocation`, or the z of
/// `ImagePositionPatient` when it is missing.
pub fn paper_position(header: &SliceHeader) -> Option<f64> {
    header
        .slice_location
        .or_else(|| header.image_position.map(|p| p[2]))
}

/// The paper protocol: one global K-Means (k = 5) over [`paper_position`] of all `headers`
/// (every slice of every study), centres named in ascending order L1/L2 … L5/S1.
/// Slices with no position get `None`; fewer than 5 distinct values is an error.
pub fn assign_paper_levels(headers: &[&SliceHeader], seed: u64) -> Result<Vec<Option<Level>>> {
    let positions: Vec<Option<f64>> = headers.iter().map(|h| paper_position(h)).collect();
    let values: Vec<f64> = positions.iter().flatten().copied().collect();
    let fit = kmeans_1d(&values, 5, stream_seed(seed, u64::MAX), MAX_ITERATIONS)?;
    let names = names_by_centre(&fit.centres.column(0).to_vec(), false);
    let mut clusters = fit.assignment.into_iter();
    Ok(positions
        .iter()
        .map(|p| p.map(|_| names[clusters.next().expect("one cluster per value")]))
        .collect())
}
// ANCHOR_END: paper_levels

#[cfg(test)]
mod tests {
    use super::*;

    /// An axial slice tilted by `tilt_deg` about the x axis whose image centre is at `centre`.
    fn slice(centre: [f64; 3], tilt_deg: f64) -> SliceHeader {
        let t = tilt_deg.to_radians();
        let row = [1.0, 0.0, 0.0];
        let col = [0.0, t.cos(), -t.sin()];
        let (rows, cols, spacing) = (64u32, 64u32, 3.0);
        let half = (rows as f64 - 1.0) / 2.0 * spacing;
        let ipp = [
            centre[0] - row[0] * half - col[0] * half,
            centre[1] - row[1] * half - col[1] * half,
            centre[2] - row[2] * half - col[2] * half,
        ];
        SliceHeader {
            path: "x.dcm".into(),
            transfer_syntax: String::new(),
            instance_number: None,
            image_position: Some(ipp),
            image_orientation: Some([row[0], row[1], row[2], col[0], col[1], col[2]]),
            slice_location: Some(centre[2]),
            slice_thickness: None,
            pixel_spacing: Some([spacing, spacing]),
            rows,
            columns: cols,
            bits_allocated: None,
            bits_stored: None,
            photometric_interpretation: None,
            rescale_slope: None,
            rescale_intercept: None,
            modality: None,
            series_description: None,
        }
    }

    #[test]
    fn centre_of_a_tilted_slice_is_recovered() {
        let s = slice([10.0, -5.0, 42.0], 17.0);
        let c = image_centre(&s).unwrap();
        for (a, b) in c.iter().zip([10.0, -5.0, 42.0]) {
            assert!((a - b).abs() < 1e-9);
        }
        assert!(s.is_axial());
    }

    #[test]
    fn honest_names_tilted_stacks_cranial_first() {
        // Five stacks 36 mm apart, each tilted differently, 3 slices 4 mm apart; listed in a
        // scrambled order.
        let tilts = [-18.0, -8.0, 0.0, 9.0, 20.0];
        let mut headers = Vec::new();
        let mut truth = Vec::new();
        for (level, tilt) in tilts.iter().enumerate() {
            let z = 200.0 - 36.0 * level as f64; // level 0 (L1/L2) is the most cranial
            for k in -1..=1 {
                let n = slice([0.0, 0.0, 0.0], *tilt).normal().unwrap();
                let c = [
                    n[0] * 4.0 * k as f64,
                    n[1] * 4.0 * k as f64,
                    z + n[2] * 4.0 * k as f64,
                ];
                headers.push(slice(c, *tilt));
                truth.push(Level::ALL[level]);
            }
        }
        let order = [7, 2, 14, 0, 9, 11, 4, 1, 13, 6, 3, 12, 8, 10, 5];
        let shuffled: Vec<&SliceHeader> = order.iter().map(|&i| &headers[i]).collect();
        let result = assign_series_levels(&shuffled, 1, 99).unwrap();
        assert_eq!(result.stacks, 5);
        for (j, &i) in order.iter().enumerate() {
            assert_eq!(result.levels[j], Some(truth[i]), "slice {i}");
        }
    }

    #[test]
    fn too_few_positions_skip_the_series() {
        let headers = [slice([0.0, 0.0, 1.0], 0.0), slice([0.0, 0.0, 5.0], 0.0)];
        let refs: Vec<&SliceHeader> = headers.iter().collect();
        let result = assign_series_levels(&refs, 0, 0).unwrap();
        assert!(result.levels.iter().all(Option::is_none));
        assert!(result.warning.is_some());
    }

    #[test]
    fn paper_names_ascending_so_the_top_is_l5_s1() {
        let headers: Vec<SliceHeader> = (0..5)
            .flat_map(|l| (0..3).map(move |k| slice([0.0, 0.0, 100.0 * l as f64 + k as f64], 0.0)))
            .collect();
        let refs: Vec<&SliceHeader> = headers.iter().collect();
        let levels = assign_paper_levels(&refs, 3).unwrap();
        assert_eq!(levels[0], Some(Level::L1L2)); // lowest z, i.e. the most caudal
        assert_eq!(levels[14], Some(Level::L5S1)); // highest z, i.e. the most cranial
    }
}
