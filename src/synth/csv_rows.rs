//! The CSV rows a study's slices yield besides its `train.csv` row: the answer-key row of each
//! axial slice (`synth_truth.csv`) and the label points (`train_label_coordinates.csv`).

use super::geometry::add;
use super::grading::severity_of_area;
use super::kaggle_csv::{CoordinateRow, TruthRow};
use super::render::RenderedAxial;
use super::series::{SeriesKind, SeriesPlan, SlicePlan};
use super::study::StudyPlan;

impl StudyPlan {
    /// The truth row of an axial slice, and the subarticular points of the slice nearest each
    /// disc in the labelled axial series (short stacks and continuous stacks alike).
    pub(super) fn axial_rows(
        &self,
        series: &SeriesPlan,
        slice: &SlicePlan,
        rendered: &RenderedAxial,
        truth: &mut Vec<TruthRow>,
        coordinates: &mut Vec<CoordinateRow>,
    ) {
        let level_area = slice.level.map(|l| self.levels[l].sac_area_mm2);
        truth.push(TruthRow {
            study_id: self.study_id,
            series_id: series.series_id,
            instance_number: slice.instance_number,
            level: slice.level,
            offset_mm: slice.offset_mm,
            position_mm: slice.plane.point(
                (slice.plane.cols as f64 - 1.0) / 2.0,
                (slice.plane.rows as f64 - 1.0) / 2.0,
            )[2],
            sac_area_mm2: rendered.slice.sac_area_mm2,
            level_area_mm2: level_area,
            area_grade: level_area.map(severity_of_area),
            label: slice.level.and_then(|l| self.labels[0][l]),
            rows: slice.plane.rows,
            columns: slice.plane.cols,
            spacing_mm: slice.plane.spacing,
            sac_x: rendered.slice.sac_centre_px.0,
            sac_y: rendered.slice.sac_centre_px.1,
            sac_half_x: rendered.slice.sac_half_px.0,
            sac_half_y: rendered.slice.sac_half_px.1,
        });
        // As in the real data, one slice per level carries the points: the one nearest the disc.
        let Some(level) = slice.level else { return };
        let nearest = series
            .slices
            .iter()
            .filter(|s| s.level == Some(level))
            .min_by(|a, b| a.offset_mm.abs().total_cmp(&b.offset_mm.abs()))
            .map(|s| s.instance_number);
        if series.labelled && nearest == Some(slice.instance_number) {
            for (side, condition) in [(0, 3), (1, 4)] {
                if self.labels[condition][level].is_some() {
                    let (x, y) = rendered.slice.recesses_px[side];
                    coordinates.push(CoordinateRow {
                        study_id: self.study_id,
                        series_id: series.series_id,
                        instance_number: slice.instance_number,
                        condition,
                        level,
                        x,
                        y,
                    });
                }
            }
        }
    }

    /// Label points on a sagittal series: the canal at each disc on the T2 series (middle
    /// slice), the left and right foramina on the T1 series.
    pub(super) fn sagittal_points(
        &self,
        series: &SeriesPlan,
        coordinates: &mut Vec<CoordinateRow>,
    ) {
        for (level, disc) in self.spine.discs.iter().enumerate() {
            let targets: Vec<(usize, [f64; 3])> = match series.kind {
                SeriesKind::SagittalT2 => vec![(0, disc.canal_centre)],
                _ => vec![
                    (1, add(disc.canal_centre, [18.0, -6.0, 0.0])),
                    (2, add(disc.canal_centre, [-18.0, -6.0, 0.0])),
                ],
            };
            for (condition, point) in targets {
                if self.labels[condition][level].is_none() {
                    continue;
                }
                let nearest = series.slices.iter().min_by(|a, b| {
                    let da = (a.plane.position[0] - point[0]).abs();
                    let db = (b.plane.position[0] - point[0]).abs();
                    da.total_cmp(&db)
                });
                if let Some(slice) = nearest {
                    let (x, y) = slice.plane.pixel_of(point);
                    coordinates.push(CoordinateRow {
                        study_id: self.study_id,
                        series_id: series.series_id,
                        instance_number: slice.instance_number,
                        condition,
                        level,
                        x,
                        y,
                    });
                }
            }
        }
    }
}
