//! One synthetic study: its plan, every random choice made up front from the study's own seed
//! (the spine, the body build, the canal area and grades at each level, the series).
//!
//! A study has a Sagittal T1 and a Sagittal T2/STIR series and one Axial T2 series (two in some
//! studies), the axial series holding one short, tilted stack per disc level. The series types
//! are in [`super::series`], where their slices go in [`super::slice_planning`], the pixels in
//! [`super::render`], the CSV rows in [`super::csv_rows`] and the files in
//! [`super::study_files`].

pub use super::series::{SeriesKind, SeriesPlan, SlicePlan};

use super::axial::{LevelAnatomy, PatientAnatomy};
use super::geometry::Spine;
use super::grading::{sample_recorded_grade, AreaDistribution};
use super::slice_planning::{plan_axial, plan_sagittal};
use super::SynthConfig;
use crate::rsna::Severity;
use crate::seed::path_seed;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Every random choice of one study.
#[derive(Clone, Debug)]
pub struct StudyPlan {
    /// The RSNA `study_id`.
    pub study_id: u64,
    /// The study's own seed.
    pub seed: u64,
    /// Patient rotation about the body axis (radians).
    pub rotation: f64,
    /// Disc levels in patient coordinates.
    pub spine: Spine,
    /// Body build.
    pub patient: PatientAnatomy,
    /// The canal at each level.
    pub levels: [LevelAnatomy; 5],
    /// `train.csv` labels `[condition][level]` (condition 0 is spinal canal stenosis).
    pub labels: [[Option<Severity>; 5]; 5],
    /// The series.
    pub series: Vec<SeriesPlan>,
}

/// A grade for the other four conditions, mostly Normal/Mild, more often abnormal next to a
/// stenotic canal.
fn other_grade(canal: Severity, rng: &mut impl Rng) -> Severity {
    let abnormal = match canal {
        Severity::NormalMild => 0.15,
        Severity::Moderate => 0.4,
        Severity::Severe => 0.55,
    };
    if rng.random::<f64>() >= abnormal {
        Severity::NormalMild
    } else if rng.random::<f64>() < 0.75 {
        Severity::Moderate
    } else {
        Severity::Severe
    }
}

impl StudyPlan {
    /// Make every random choice of study number `index` (ids come from the caller, who keeps
    /// them unique).
    pub fn new(config: &SynthConfig, index: usize, study_id: u64, series_ids: &[u64]) -> StudyPlan {
        let seed = path_seed(config.seed, &[1, index as u64]);
        let mut rng = StdRng::seed_from_u64(seed);
        let spine = Spine::sample(&mut rng);
        let patient = PatientAnatomy::sample(&mut rng);
        let mut labels = [[None; 5]; 5];
        let levels: [LevelAnatomy; 5] = std::array::from_fn(|i| {
            let area = AreaDistribution::new(config.prevalence[i]).sample(&mut rng);
            let recorded = sample_recorded_grade(area, config.grader_sd_mm2, &mut rng);
            for (condition, row) in labels.iter_mut().enumerate() {
                let grade = if condition == 0 {
                    recorded
                } else {
                    other_grade(recorded, &mut rng)
                };
                if rng.random::<f64>() >= config.missing_label_rate {
                    row[i] = Some(grade);
                }
            }
            LevelAnatomy::sample(area, &mut rng)
        });
        let rotation = rng.random_range(-6.0f64..6.0).to_radians();
        let mut series = Vec::new();
        let mut ids = series_ids.iter().copied();
        for (number, kind) in [SeriesKind::SagittalT1, SeriesKind::SagittalT2]
            .into_iter()
            .enumerate()
        {
            let id = ids.next().expect("caller provides enough series ids");
            series.push(plan_sagittal(
                config,
                &spine,
                kind,
                id,
                number as u32 + 1,
                &mut rng,
            ));
        }
        let axial_count = if rng.random::<f64>() < config.second_axial_rate {
            2
        } else {
            1
        };
        for k in 0..axial_count {
            let id = ids.next().expect("caller provides enough series ids");
            series.push(plan_axial(
                config,
                &spine,
                id,
                3 + k as u32,
                k == 0,
                &mut rng,
            ));
        }
        StudyPlan {
            study_id,
            seed,
            rotation,
            spine,
            patient,
            levels,
            labels,
            series,
        }
    }
}
