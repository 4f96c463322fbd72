//! The pixels of a study's slices, a pure function of its plan: the axial phantom with noise and
//! bias, and the sagittal images.

use super::axial::{render_axial, AxialSliceSpec};
use super::sagittal::{render_sagittal, T1, T2};
use super::series::{SeriesKind, SeriesPlan, SlicePlan};
use super::study::StudyPlan;
use crate::seed::path_seed;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Stored 12-bit pixels of one axial slice, and what the truth file says about it.
pub struct RenderedAxial {
    /// `rows × cols` stored values.
    pub pixels: Vec<u16>,
    /// The rendered slice (tissue, sac mask, areas, landmarks).
    pub slice: super::axial::AxialSlice,
}

impl StudyPlan {
    /// Render axial slice `slice` of series `series` (pure function of the plan).
    pub fn render_axial_slice(
        &self,
        series: &SeriesPlan,
        slice: &SlicePlan,
        noise: bool,
    ) -> RenderedAxial {
        let level = slice
            .nearest_disc
            .expect("axial slices have a nearest disc");
        let spec = AxialSliceSpec {
            patient: &self.patient,
            level: &self.levels[level],
            offset_mm: slice.offset_mm,
            rows: slice.plane.rows,
            cols: slice.plane.cols,
            spacing_mm: slice.plane.spacing,
            centre_mm: slice.centre_mm,
            rotation: self.rotation,
        };
        let rendered = render_axial(&spec);
        let mut rng = StdRng::seed_from_u64(path_seed(
            self.seed,
            &[2, series.series_id, slice.instance_number as u64],
        ));
        let pixels = series.acquisition.to_stored(
            &rendered.tissue,
            spec.rows,
            spec.cols,
            spec.spacing_mm,
            noise,
            &mut rng,
        );
        RenderedAxial {
            pixels,
            slice: rendered,
        }
    }

    /// The stored 12-bit pixels of any slice of the study, exactly as written to its file
    /// (a pure function of the plan: tests decode the files and compare).
    pub fn stored_pixels(&self, series: &SeriesPlan, slice: &SlicePlan) -> Vec<u16> {
        let contrast = match series.kind {
            SeriesKind::AxialT2 => return self.render_axial_slice(series, slice, true).pixels,
            SeriesKind::SagittalT1 => T1,
            SeriesKind::SagittalT2 => T2,
        };
        let tissue = render_sagittal(&self.spine, &self.levels, &slice.plane, contrast);
        let mut unused = StdRng::seed_from_u64(0);
        series.acquisition.to_stored(
            &tissue,
            slice.plane.rows,
            slice.plane.cols,
            slice.plane.spacing,
            false,
            &mut unused,
        )
    }
}
