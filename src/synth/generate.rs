//! The top level: plan every study of the dataset, then render and write them in parallel, with
//! the CSV files, the answer key, the gallery and the summary.

use super::outputs::{prepare_output, TRUTH_FILE};
use super::study::{SeriesKind, StudyPlan};
use super::{
    gallery, grading, kaggle_csv, severity_of_area, summary_file, SynthConfig, SynthSummary,
};
use crate::error::Result;
use crate::seed::path_seed;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::Path;

/// `count` distinct ids in Kaggle's range, drawn from `rng`.
fn unique_ids(count: usize, rng: &mut StdRng, taken: &mut HashSet<u64>) -> Vec<u64> {
    let mut ids = Vec::with_capacity(count);
    while ids.len() < count {
        let id = rng.random_range(1_000_000u64..4_294_967_295);
        if taken.insert(id) {
            ids.push(id);
        }
    }
    ids
}

/// Make every random choice of the dataset (ids, anatomy, areas, labels, geometry) without
/// drawing anything: cheap, and what [`generate`](fn@generate) renders. Studies come in
/// ascending `study_id`.
pub fn plan_studies(config: &SynthConfig) -> Result<Vec<StudyPlan>> {
    config.validate()?;
    let mut rng = StdRng::seed_from_u64(path_seed(config.seed, &[0]));
    let mut taken = HashSet::new();
    let mut study_ids = unique_ids(config.studies, &mut rng, &mut taken);
    study_ids.sort_unstable();
    let series_ids: Vec<Vec<u64>> = (0..config.studies)
        .map(|_| unique_ids(4, &mut rng, &mut taken))
        .collect();
    Ok((0..config.studies)
        .into_par_iter()
        .map(|i| StudyPlan::new(config, i, study_ids[i], &series_ids[i]))
        .collect())
}

/// Write the synthetic dataset described by `config` into `out` (see the module docs) with its
/// `synth_summary.json`, in parallel, with a progress bar on standard error when `progress`. The same config always
/// produces byte-identical files, whatever the number of threads.
pub fn generate(
    config: &SynthConfig,
    out: &Path,
    overwrite: bool,
    progress: bool,
) -> Result<SynthSummary> {
    config.validate()?;
    prepare_output(out, overwrite)?;
    let plans = plan_studies(config)?;
    let bar = if progress {
        let bar = indicatif::ProgressBar::new(plans.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "synth {bar:40} {pos}/{len} studies [{elapsed_precise} < {eta_precise}]",
            )
            .expect("the progress template is valid"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let outputs = plans
        .par_iter()
        .map(|plan| {
            let output = plan.write(out);
            bar.inc(1);
            output
        })
        .collect::<Result<Vec<_>>>()?;
    bar.finish_and_clear();

    let train_rows: Vec<_> = outputs.iter().map(|o| o.train.clone()).collect();
    kaggle_csv::write_train(&out.join("train.csv"), &train_rows)?;
    let series: Vec<_> = outputs
        .iter()
        .flat_map(|o| o.series.iter().copied())
        .collect();
    kaggle_csv::write_series(&out.join("train_series_descriptions.csv"), &series)?;
    let coordinates: Vec<_> = outputs
        .iter()
        .flat_map(|o| o.coordinates.iter().copied())
        .collect();
    kaggle_csv::write_coordinates(&out.join("train_label_coordinates.csv"), &coordinates)?;
    let truth: Vec<_> = outputs
        .iter()
        .flat_map(|o| o.truth.iter().cloned())
        .collect();
    kaggle_csv::write_truth(&out.join(TRUTH_FILE), &truth)?;

    let mut slice_counts = [0; 3];
    let mut labelled_areas = Vec::new();
    for row in &truth {
        if let (Some(label), Some(area)) = (row.label, row.level_area_mm2) {
            slice_counts[label.rank()] += 1;
            labelled_areas.push(area);
        }
    }
    let mut level_counts = [0; 3];
    let (mut missing_labels, mut disagree) = (0, 0);
    for plan in &plans {
        for (level, label) in plan.labels[0].iter().enumerate() {
            match label {
                Some(grade) => {
                    level_counts[grade.rank()] += 1;
                    if *grade != severity_of_area(plan.levels[level].sac_area_mm2) {
                        disagree += 1;
                    }
                }
                None => missing_labels += 1,
            }
        }
    }
    let axial: Vec<_> = plans
        .iter()
        .flat_map(|p| &p.series)
        .filter(|s| s.kind == SeriesKind::AxialT2)
        .collect();
    let gallery = if config.gallery {
        Some(gallery::write_gallery(out, &truth)?)
    } else {
        None
    };
    let summary = SynthSummary {
        studies: plans.len(),
        series: series.len(),
        files: outputs.iter().map(|o| o.files).sum(),
        axial_series: axial.len(),
        continuous_series: axial.iter().filter(|s| s.continuous).count(),
        slices_between_discs: truth.iter().filter(|r| r.level.is_none()).count(),
        dicom_bytes: outputs.iter().map(|o| o.bytes).sum(),
        slice_counts,
        level_counts,
        missing_labels,
        disagreement: disagree as f64 / level_counts.iter().sum::<usize>().max(1) as f64,
        bayes: grading::bayes_ceiling(&labelled_areas, config.grader_sd_mm2),
        gallery,
    };
    // Kept beside the data, so a later run's report can quote the Bayes ceiling.
    summary_file::save_summary(out, config, &summary)?;
    Ok(summary)
}
