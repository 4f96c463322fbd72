//! One synthetic study: the plan (every random choice, made up front from the study's own
//! seed) and its rendering into DICOM files and CSV rows.
//!
//! A study has a Sagittal T1 and a Sagittal T2/STIR series and one Axial T2 series (two in some
//! studies), the axial series holding one short, tilted stack per disc level.

use super::axial::{render_axial, AxialSliceSpec, LevelAnatomy, PatientAnatomy};
use super::dicom_writer::{write_slice, PixelEncoding, SliceTags};
use super::geometry::{add, scale, Plane, Spine};
use super::grading::{sample_recorded_grade, severity_of_area, AreaDistribution};
use super::kaggle_csv::{CoordinateRow, TrainRow, TruthRow};
use super::mr_signal::Acquisition;
use super::sagittal::{render_sagittal, T1, T2};
use super::SynthConfig;
use crate::error::Result;
use crate::rsna::Severity;
use crate::seed::{path_seed, splitmix64};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// A deterministic DICOM UID under the `2.25` (UUID-derived) root.
fn uid(seed: u64, parts: &[u64]) -> String {
    let hi = path_seed(seed, parts);
    let lo = splitmix64(hi ^ 0x5DEE_CE66);
    format!("2.25.{}", ((hi as u128) << 64 | lo as u128) >> 2)
}

/// Which of the three RSNA series types a series is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    /// `Sagittal T1`.
    SagittalT1,
    /// `Sagittal T2/STIR`.
    SagittalT2,
    /// `Axial T2`.
    AxialT2,
}

impl SeriesKind {
    /// The `series_description` written in `train_series_descriptions.csv`.
    pub fn description(self) -> &'static str {
        match self {
            SeriesKind::SagittalT1 => "Sagittal T1",
            SeriesKind::SagittalT2 => "Sagittal T2/STIR",
            SeriesKind::AxialT2 => crate::rsna::AXIAL_T2,
        }
    }
}

/// One slice of a series.
#[derive(Clone, Debug)]
pub struct SlicePlan {
    /// `InstanceNumber` (also the file name).
    pub instance_number: u32,
    /// Geometry.
    pub plane: Plane,
    /// Nominal slice thickness (mm).
    pub thickness: f64,
    /// Level index for axial slices.
    pub level: Option<usize>,
    /// Distance from the disc plane (mm, + towards the head) for axial slices.
    pub offset_mm: f64,
    /// Anatomy coordinates (mm) of the image centre, for axial slices.
    pub centre_mm: (f64, f64),
}

/// One series.
#[derive(Clone, Debug)]
pub struct SeriesPlan {
    /// The RSNA `series_id`.
    pub series_id: u64,
    /// `SeriesNumber`.
    pub number: u32,
    /// Sagittal T1, Sagittal T2/STIR or Axial T2.
    pub kind: SeriesKind,
    /// RLE Lossless or native.
    pub encoding: PixelEncoding,
    /// Intensity scale, noise and bias field.
    pub acquisition: Acquisition,
    /// The slices, in instance-number order.
    pub slices: Vec<SlicePlan>,
    /// Whether `SliceLocation` is written.
    pub has_location: bool,
    /// Whether `SliceThickness` is written.
    pub has_thickness: bool,
    /// Whether this series carries label points (the first axial series, both sagittals).
    pub labelled: bool,
}

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

/// Pick a matrix size in `range` (inclusive, steps of 32 when the range allows it), smaller
/// sizes more often (P(smallest) ≈ 0.45 for five sizes) to keep the dataset compact.
fn pick_matrix(range: (usize, usize), rng: &mut impl Rng) -> usize {
    let (lo, hi) = range;
    if hi <= lo {
        return lo;
    }
    let steps = (hi - lo) / 32;
    if steps == 0 {
        rng.random_range(lo..=hi)
    } else {
        let u: f64 = rng.random::<f64>();
        lo + 32 * (((steps + 1) as f64 * u * u) as usize).min(steps)
    }
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

/// Plan a sagittal series: parallel slices across the spine, rows running head to feet.
fn plan_sagittal(
    config: &SynthConfig,
    spine: &Spine,
    kind: SeriesKind,
    series_id: u64,
    number: u32,
    rng: &mut impl Rng,
) -> SeriesPlan {
    let mean = |axis: usize| {
        spine
            .discs
            .iter()
            .map(|d| d.canal_centre[axis])
            .sum::<f64>()
            / 5.0
    };
    let count = rng.random_range(config.sagittal_slices.0..=config.sagittal_slices.1);
    let gap = rng.random_range(3.3..4.3);
    let matrix = pick_matrix(config.sagittal_matrix, rng);
    let fov = rng.random_range(280.0..320.0);
    let centre_y = mean(1) - 25.0 + rng.random_range(-8.0..8.0);
    let centre_z = mean(2) + rng.random_range(-10.0..10.0);
    let slices = (0..count)
        .map(|k| {
            let x = mean(0) + (k as f64 - (count as f64 - 1.0) / 2.0) * gap;
            SlicePlan {
                instance_number: k as u32 + 1,
                plane: Plane::centred(
                    [x, centre_y, centre_z],
                    [0.0, 1.0, 0.0],
                    [0.0, 0.0, -1.0],
                    fov / matrix as f64,
                    matrix,
                    matrix,
                ),
                thickness: gap * 0.9,
                level: None,
                offset_mm: 0.0,
                centre_mm: (0.0, 0.0),
            }
        })
        .collect();
    SeriesPlan {
        series_id,
        number,
        kind,
        encoding: pick_encoding(config, rng),
        // A flat field: the simple sagittal images stay piecewise constant and compress well.
        acquisition: Acquisition {
            bias_gradient: (0.0, 0.0),
            bias_bump: ((0.0, 0.0), 100.0, 0.0),
            ..Acquisition::sample(rng)
        },
        slices,
        has_location: rng.random::<f64>() >= config.missing_tag_rate,
        has_thickness: rng.random::<f64>() >= config.missing_tag_rate,
        labelled: true,
    }
}

fn pick_encoding(config: &SynthConfig, rng: &mut impl Rng) -> PixelEncoding {
    if rng.random::<f64>() < config.rle_rate {
        PixelEncoding::RleLossless
    } else {
        PixelEncoding::Native
    }
}

/// Plan an axial T2 series: a short stack of slices in each disc plane, L1/L2 first (unless
/// the series has the "instance numbers not in position order" quirk).
fn plan_axial(
    config: &SynthConfig,
    spine: &Spine,
    series_id: u64,
    number: u32,
    labelled: bool,
    rng: &mut impl Rng,
) -> SeriesPlan {
    let base_matrix = pick_matrix(config.axial_matrix, rng);
    let mixed_matrix = rng.random::<f64>() < config.mixed_matrix_rate;
    // Field of view: mostly in the lower part of the range, so the canal is not tiny.
    let (fov_lo, fov_hi) = config.axial_fov_mm;
    let fov = fov_lo + (fov_hi - fov_lo) * rng.random::<f64>().powi(2);
    let thickness = rng.random_range(3.5..4.5);
    let centre_mm = (
        rng.random_range(-12.0..12.0),
        -15.0 + rng.random_range(-12.0..12.0),
    );
    let mut stacks: Vec<Vec<SlicePlan>> = (0..5)
        .map(|level| {
            let disc = &spine.discs[level];
            let matrix = if mixed_matrix {
                pick_matrix(config.axial_matrix, rng)
            } else {
                base_matrix
            };
            let count = rng.random_range(config.slices_per_level.0..=config.slices_per_level.1);
            let gap = thickness * rng.random_range(1.0..1.1);
            let shift = rng.random_range(-1.0..1.0);
            (0..count)
                .map(|k| {
                    // Cranial first: the offset decreases with k.
                    let offset = ((count as f64 - 1.0) / 2.0 - k as f64) * gap + shift;
                    let centre = add(
                        add(disc.canal_centre, scale(disc.normal, offset)),
                        add(
                            scale(disc.left, centre_mm.0),
                            scale(disc.posterior, centre_mm.1),
                        ),
                    );
                    SlicePlan {
                        instance_number: 0,
                        plane: Plane::centred(
                            centre,
                            disc.left,
                            disc.posterior,
                            fov / matrix as f64,
                            matrix,
                            matrix,
                        ),
                        thickness,
                        level: Some(level),
                        offset_mm: offset,
                        centre_mm,
                    }
                })
                .collect()
        })
        .collect();
    if rng.random::<f64>() < config.unordered_instance_rate {
        if rng.random::<bool>() {
            stacks.shuffle(rng);
        } else {
            stacks.reverse();
            stacks.iter_mut().for_each(|s| s.reverse());
        }
    }
    let mut slices: Vec<SlicePlan> = stacks.into_iter().flatten().collect();
    for (i, s) in slices.iter_mut().enumerate() {
        s.instance_number = i as u32 + 1;
    }
    SeriesPlan {
        series_id,
        number,
        kind: SeriesKind::AxialT2,
        encoding: pick_encoding(config, rng),
        acquisition: Acquisition::sample(rng),
        slices,
        has_location: rng.random::<f64>() >= config.missing_tag_rate,
        has_thickness: rng.random::<f64>() >= config.missing_tag_rate,
        labelled,
    }
}

/// Everything a study contributes to the CSV files.
pub struct StudyOutput {
    /// Its `train.csv` row.
    pub train: TrainRow,
    /// Its `train_series_descriptions.csv` rows.
    pub series: Vec<(u64, u64, &'static str)>,
    /// Its `train_label_coordinates.csv` rows.
    pub coordinates: Vec<CoordinateRow>,
    /// Its `synth_truth.csv` rows (one per axial slice).
    pub truth: Vec<TruthRow>,
    /// DICOM files written.
    pub files: usize,
    /// Bytes of DICOM written.
    pub bytes: u64,
}

/// The path of one image: `train_images/<study_id>/<series_id>/<instance_number>.dcm`.
pub fn image_path(root: &Path, study_id: u64, series_id: u64, instance: u32) -> std::path::PathBuf {
    root.join("train_images")
        .join(study_id.to_string())
        .join(series_id.to_string())
        .join(format!("{instance}.dcm"))
}

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
        let level = slice.level.expect("axial slices belong to a level");
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

    /// Render and write every file of the study under `root`, returning its CSV rows.
    pub fn write(&self, root: &Path) -> Result<StudyOutput> {
        let study_uid = uid(self.seed, &[10]);
        let frame_uid = uid(self.seed, &[11]);
        let patient_id = self.study_id.to_string();
        let mut coordinates = Vec::new();
        let mut truth = Vec::new();
        let mut files = 0;
        let mut bytes = 0;
        for series in &self.series {
            let series_uid = uid(self.seed, &[12, series.series_id]);
            for slice in &series.slices {
                let pixels = if series.kind == SeriesKind::AxialT2 {
                    let rendered = self.render_axial_slice(series, slice, true);
                    self.axial_rows(series, slice, &rendered, &mut truth, &mut coordinates);
                    rendered.pixels
                } else {
                    self.stored_pixels(series, slice)
                };
                let sop_uid = uid(
                    self.seed,
                    &[13, series.series_id, slice.instance_number as u64],
                );
                let tags = SliceTags {
                    patient_id: &patient_id,
                    study_uid: &study_uid,
                    series_uid: &series_uid,
                    sop_uid: &sop_uid,
                    frame_uid: &frame_uid,
                    series_number: series.number,
                    instance_number: slice.instance_number,
                    plane: &slice.plane,
                    slice_thickness: series.has_thickness.then_some(slice.thickness),
                    slice_location: series.has_location.then(|| slice.plane.location()),
                };
                let path = image_path(root, self.study_id, series.series_id, slice.instance_number);
                bytes += write_slice(&path, &tags, &pixels, series.encoding)?;
                files += 1;
            }
            if series.kind != SeriesKind::AxialT2 {
                self.sagittal_points(series, &mut coordinates);
            }
        }
        coordinates.sort_by_key(|c| (c.condition, c.level, c.series_id));
        Ok(StudyOutput {
            train: TrainRow {
                study_id: self.study_id,
                labels: self.labels,
            },
            series: self
                .series
                .iter()
                .map(|s| (self.study_id, s.series_id, s.kind.description()))
                .collect(),
            coordinates,
            truth,
            files,
            bytes,
        })
    }

    /// The truth row of an axial slice, and the subarticular points of the slice nearest each
    /// disc in the labelled axial series.
    fn axial_rows(
        &self,
        series: &SeriesPlan,
        slice: &SlicePlan,
        rendered: &RenderedAxial,
        truth: &mut Vec<TruthRow>,
        coordinates: &mut Vec<CoordinateRow>,
    ) {
        let level = slice.level.expect("axial slices belong to a level");
        let anatomy = &self.levels[level];
        truth.push(TruthRow {
            study_id: self.study_id,
            series_id: series.series_id,
            instance_number: slice.instance_number,
            level,
            offset_mm: slice.offset_mm,
            position_mm: slice.plane.point(
                (slice.plane.cols as f64 - 1.0) / 2.0,
                (slice.plane.rows as f64 - 1.0) / 2.0,
            )[2],
            sac_area_mm2: rendered.slice.sac_area_mm2,
            level_area_mm2: anatomy.sac_area_mm2,
            area_grade: severity_of_area(anatomy.sac_area_mm2),
            label: self.labels[0][level],
            rows: slice.plane.rows,
            columns: slice.plane.cols,
            spacing_mm: slice.plane.spacing,
            sac_x: rendered.slice.sac_centre_px.0,
            sac_y: rendered.slice.sac_centre_px.1,
        });
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
    fn sagittal_points(&self, series: &SeriesPlan, coordinates: &mut Vec<CoordinateRow>) {
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
