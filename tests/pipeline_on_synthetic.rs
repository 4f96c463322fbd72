//! The data pipeline on the crate's own synthetic dataset (the embedded default), checked
//! against the answer key the generator writes (`synth_truth.csv`): the honest level
//! assignment, the labels joined to the slices, the study-level split, and the article's
//! protocol reported for comparison.

use lumbar_cnn::prepare::manifest::read_manifest;
use lumbar_cnn::prepare::{run, PrepareConfig, Protocol, Split};
use lumbar_cnn::synth::{generate, SynthConfig};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// `(study, series, instance) → (level, label)` from `synth_truth.csv`.
fn answer_key(dir: &Path) -> HashMap<(u64, u64, i64), (String, String)> {
    let mut reader = csv::Reader::from_path(dir.join("synth_truth.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (study, series, instance, level, label) = (
        column("study_id"),
        column("series_id"),
        column("instance_number"),
        column("level"),
        column("label"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                (
                    r[study].parse().unwrap(),
                    r[series].parse().unwrap(),
                    r[instance].parse().unwrap(),
                ),
                (r[level].to_string(), r[label].to_string()),
            )
        })
        .collect()
}

#[test]
fn honest_levels_labels_and_splits_match_the_answer_key() {
    let root = std::env::temp_dir().join(format!("lumbar-pipeline-synth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let data = root.join("data");
    generate(&SynthConfig::small(12, 21), &data, true, false).unwrap();
    let truth = answer_key(&data);

    let mut config = PrepareConfig::new(&data, root.join("honest"));
    config.image_size = 32;
    config.seed = 21;
    let summary = run(&config).unwrap();
    let rows = read_manifest(&root.join("honest").join("manifest.csv")).unwrap();
    assert_eq!(
        rows.len(),
        summary.slices_kept,
        "one manifest row per kept slice"
    );
    assert!(!rows.is_empty());

    let (mut level_ok, mut label_ok) = (0, 0);
    for row in &rows {
        let (level, label) = truth
            .get(&(row.study_id, row.series_id, row.instance_number))
            .unwrap_or_else(|| panic!("slice {row:?} is not in the answer key"));
        level_ok += usize::from(*level == row.level.name());
        label_ok += usize::from(*label == row.label.csv_name());
    }
    let level_agreement = level_ok as f64 / rows.len() as f64;
    assert!(
        level_agreement >= 0.99,
        "honest level agreement {level_agreement:.3}"
    );
    assert_eq!(
        label_ok,
        rows.len(),
        "every slice carries its study's label at its level"
    );

    // No study on both sides of a split.
    let mut split_of: HashMap<u64, Split> = HashMap::new();
    for row in &rows {
        assert_eq!(
            *split_of.entry(row.study_id).or_insert(row.split),
            row.split,
            "study {} is split",
            row.study_id
        );
    }
    assert_eq!(split_of.values().copied().collect::<HashSet<_>>().len(), 3);

    // The article's protocol, for the record: its global clustering on SliceLocation agrees far
    // less with the truth (the book's chapter 3 explains why).
    let mut paper = PrepareConfig::new(&data, root.join("paper"));
    paper.image_size = 32;
    paper.protocol = Protocol::Paper;
    paper.seed = 21;
    run(&paper).unwrap();
    let paper_rows = read_manifest(&root.join("paper").join("manifest.csv")).unwrap();
    let paper_ok = paper_rows
        .iter()
        .filter(|r| truth[&(r.study_id, r.series_id, r.instance_number)].0 == r.level.name())
        .count();
    let paper_agreement = paper_ok as f64 / paper_rows.len() as f64;
    println!("level agreement with the answer key: honest {level_agreement:.3}, paper protocol {paper_agreement:.3}");
    assert!(paper_agreement < level_agreement);
    std::fs::remove_dir_all(root).unwrap();
}

/// On the real download there is no sac outline, and `sac_regions.csv` falls back to the circle
/// between each level's left and right subarticular points. The synthetic data has both, so it
/// can check the fallback: the true sac centre must lie inside that circle on nearly every
/// slice, and the circle must be about the sac's size.
#[test]
fn without_the_answer_key_the_subarticular_circle_holds_the_sac() {
    use lumbar_cnn::prepare::sac_regions::{read_sac_regions, RegionSource};
    let root = std::env::temp_dir().join(format!("lumbar-fallback-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let data = root.join("data");
    generate(&SynthConfig::small(8, 23), &data, true, false).unwrap();
    let prepare = |out: &str| {
        let mut config = PrepareConfig::new(&data, root.join(out));
        config.image_size = 64;
        config.seed = 23;
        run(&config).unwrap();
        read_sac_regions(&root.join(out)).unwrap().unwrap()
    };
    let truth = prepare("with-truth");
    std::fs::rename(data.join("synth_truth.csv"), root.join("synth_truth.csv")).unwrap();
    let fallback = prepare("without-truth");

    assert!(truth.values().all(|r| r.source == RegionSource::SynthTruth));
    assert!(fallback
        .values()
        .all(|r| r.source == RegionSource::SubarticularMidpoint));
    let both: Vec<_> = fallback
        .iter()
        .filter_map(|(key, f)| truth.get(key).map(|t| (t, f)))
        .collect();
    assert!(
        both.len() * 2 >= truth.len(),
        "the subarticular points cover {} of {} slices",
        both.len(),
        truth.len()
    );
    let inside = both
        .iter()
        .filter(|(t, f)| {
            let (dr, dc) = (t.centre_row - f.centre_row, t.centre_col - f.centre_col);
            dr.hypot(dc) <= f.half_cols
        })
        .count();
    assert!(
        inside as f64 >= 0.95 * both.len() as f64,
        "the sac centre is inside the subarticular circle on {inside} of {} slices",
        both.len()
    );
    // The circle's radius against the sac's half-width: same order of size.
    let ratio: f64 = both
        .iter()
        .map(|(t, f)| f.half_cols / t.half_cols)
        .sum::<f64>()
        / both.len() as f64;
    eprintln!(
        "subarticular fallback: {} of {} slices have a circle; the sac centre is inside it on \
         {inside}; mean circle radius / sac half-width {ratio:.2}",
        both.len(),
        truth.len()
    );
    assert!(
        (0.7..1.5).contains(&ratio),
        "circle radius / sac half-width = {ratio:.2}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
