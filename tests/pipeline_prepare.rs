//! `lumbar prepare` end to end on the fixture tree of `tests/common`.

mod common;

use common::{build_fixture, Fixture};
use lumbar_cnn::prepare::manifest::{read_augmented, read_manifest, ManifestRow};
use lumbar_cnn::prepare::{
    load_images, load_prepared, run, Augmentation, PrepareConfig, Protocol, Split,
};
use std::collections::{HashMap, HashSet};

fn config(fixture: &Fixture, out: &str, protocol: Protocol) -> PrepareConfig {
    let mut config = PrepareConfig::new(&fixture.root, fixture.root.join(out));
    config.image_size = 24;
    config.protocol = protocol;
    config.seed = 7;
    config
}

/// Fraction of manifest rows whose level matches the answer key.
fn level_accuracy(fixture: &Fixture, rows: &[ManifestRow]) -> f64 {
    let right = rows
        .iter()
        .filter(|r| fixture.truth(r.series_id, r.instance_number).unwrap().level == r.level)
        .count();
    right as f64 / rows.len() as f64
}

#[test]
fn honest_protocol_on_the_fixture() {
    let fixture = build_fixture("prepare-honest");
    let config = config(&fixture, "out", Protocol::Honest);
    let summary = run(&config).unwrap();
    let rows = read_manifest(&config.out_dir.join("manifest.csv")).unwrap();

    // Exactly one row per kept slice: every readable slice whose study has a label there.
    let expected: HashSet<(u64, i64)> = fixture
        .slices
        .iter()
        .filter(|s| s.readable && s.label.is_some())
        .map(|s| (s.series_id, s.instance))
        .collect();
    let found: Vec<(u64, i64)> = rows
        .iter()
        .map(|r| (r.series_id, r.instance_number))
        .collect();
    assert_eq!(found.len(), expected.len(), "one row per kept slice");
    assert_eq!(found.iter().copied().collect::<HashSet<_>>(), expected);
    assert_eq!(summary.slices_kept, rows.len());

    // Levels equal the answer key for ≥ 99 % of slices, and labels are joined to them.
    let accuracy = level_accuracy(&fixture, &rows);
    assert!(accuracy >= 0.99, "level accuracy {accuracy}");
    for r in &rows {
        let truth = fixture.truth(r.series_id, r.instance_number).unwrap();
        assert_eq!(Some(r.label), fixture.labels[&r.study_id][r.level as usize]);
        assert_eq!(Some(r.label), truth.label);
        assert!(config.out_dir.join(&r.path).exists());
        assert!(r
            .path
            .starts_with(&format!("png/{}/", r.label.folder_name())));
    }
    let agreement = summary.level_agreement.fraction().unwrap();
    assert!(
        agreement >= 0.99,
        "agreement with label coordinates {agreement}"
    );

    // Bad input is skipped and counted: a garbage file, a truncated file, the non-axial series,
    // the missing label (study 1003, L3/L4).
    let skipped: HashSet<String> = summary
        .files_skipped
        .iter()
        .map(|s| s.path.clone())
        .collect();
    for bad in &fixture.bad_files {
        assert!(
            skipped.contains(&bad.display().to_string()),
            "{} not skipped",
            bad.display()
        );
    }
    assert_eq!(summary.files_skipped.len(), fixture.bad_files.len());
    assert_eq!(summary.slices_not_axial, 6);
    assert!(summary.warnings.iter().any(|w| w.contains("not axial")));
    let missing = fixture
        .slices
        .iter()
        .filter(|s| s.label.is_none() && s.readable)
        .count();
    assert!(missing > 0);
    assert_eq!(summary.slices_missing_label, missing);

    // No study in two splits; every class in every split.
    let mut split_of: HashMap<u64, Split> = HashMap::new();
    for r in &rows {
        assert_eq!(
            *split_of.entry(r.study_id).or_insert(r.split),
            r.split,
            "study {}",
            r.study_id
        );
    }
    for split in Split::ALL {
        for class in 0..3 {
            assert!(
                summary.originals[split as usize][class] > 0,
                "{split:?} lacks class {class}"
            );
        }
    }

    // Only the training split is augmented, up to the majority count of each class.
    let augmented = read_augmented(&config.out_dir.join("augmented.csv")).unwrap();
    assert!(augmented.iter().all(|a| a.split == Split::Train));
    let train = summary.originals[0];
    let majority = *train.iter().max().unwrap();
    for (originals, augmented) in train.iter().zip(summary.augmented[0]) {
        assert_eq!(originals + augmented, majority);
    }
    let train_sources: HashSet<&str> = rows
        .iter()
        .filter(|r| r.split == Split::Train)
        .map(|r| r.path.as_str())
        .collect();
    assert!(augmented
        .iter()
        .all(|a| train_sources.contains(a.source_path.as_str())));
    // The honest protocol's training copies are drawn afresh every epoch, numbered in turn, and
    // no copy is written to disk.
    for (k, a) in augmented.iter().enumerate() {
        assert_eq!(a.draw, k as u64);
        assert_eq!(a.augmentation, Augmentation::PerEpoch { draw: k as u64 });
    }
    assert!(!config.out_dir.join("augmented").exists());

    // The training loader sees originals + augmented; images are NHWC RGB in [0, 1].
    let data = load_prepared(&config.out_dir).unwrap();
    assert_eq!(data.train.len(), 3 * majority);
    let paths: Vec<_> = data.val.iter().take(4).map(|i| i.path.clone()).collect();
    let batch = load_images(&paths, 24).unwrap();
    assert_eq!(batch.shape(), &[paths.len(), 24, 24, 3]);
    assert!(batch.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(batch[[0, 5, 7, 0]], batch[[0, 5, 7, 2]]);

    // Figure 2: augmented training samples with their class, every class among the first 3.
    let samples = lumbar_cnn::prepare::figure::augmentation_samples(&config.out_dir, 4, 1).unwrap();
    assert_eq!(samples.len(), 4);
    assert!(samples.iter().all(|(img, _)| img.dim() == (24, 24)));
    let captions: HashSet<&str> = samples[..3].iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(
        captions,
        HashSet::from(["0: Moderate", "1: Normal/Mild", "2: Severe"])
    );

    // Re-running into the same folder rewrites, never duplicates, and is reproducible.
    let manifest_before = std::fs::read(config.out_dir.join("manifest.csv")).unwrap();
    let augmented_before = std::fs::read(config.out_dir.join("augmented.csv")).unwrap();
    run(&config).unwrap();
    assert_eq!(
        std::fs::read(config.out_dir.join("manifest.csv")).unwrap(),
        manifest_before
    );
    assert_eq!(
        std::fs::read(config.out_dir.join("augmented.csv")).unwrap(),
        augmented_before
    );
    assert!(config.out_dir.join("summary.json").exists());

    std::fs::remove_dir_all(&fixture.root).unwrap();
}

#[test]
fn paper_protocol_reports_its_agreement_and_splits_images() {
    let fixture = build_fixture("prepare-paper");
    let paper = run(&config(&fixture, "paper", Protocol::Paper)).unwrap();
    let out = fixture.root.join("paper");
    let rows = read_manifest(&out.join("manifest.csv")).unwrap();
    let paper_agreement = paper.level_agreement.fraction().unwrap();
    let paper_accuracy = level_accuracy(&fixture, &rows);
    // The global clustering on SliceLocation cannot follow each study's own frame.
    assert!(
        paper_accuracy < 0.6,
        "paper level accuracy {paper_accuracy}"
    );
    assert!(paper_agreement < 0.6, "paper agreement {paper_agreement}");
    // Augment first, then split images: augmented copies land in every split.
    let augmented = read_augmented(&out.join("augmented.csv")).unwrap();
    for split in Split::ALL {
        assert!(augmented.iter().any(|a| a.split == split), "{split:?}");
    }
    // Those copies are fixed images (drawn once), as the article's written copies were.
    assert!(augmented
        .iter()
        .all(|a| a.augmentation == Augmentation::Fixed { draw: a.draw }));
    // The whole pool is balanced.
    let totals: Vec<usize> = (0..3)
        .map(|c| {
            (0..3)
                .map(|s| paper.originals[s][c] + paper.augmented[s][c])
                .sum()
        })
        .collect();
    assert!(totals.iter().all(|t| *t == totals[0]), "{totals:?}");

    // Preparing the honest protocol into the same folder replaces the lists.
    let mut honest = config(&fixture, "paper", Protocol::Honest);
    honest.balance = false;
    run(&honest).unwrap();
    let again = read_manifest(&out.join("manifest.csv")).unwrap();
    let unique: HashSet<_> = again
        .iter()
        .map(|r| (r.series_id, r.instance_number))
        .collect();
    assert_eq!(unique.len(), again.len());
    assert!(read_augmented(&out.join("augmented.csv"))
        .unwrap()
        .is_empty());
    std::fs::remove_dir_all(&fixture.root).unwrap();
}

/// Throughput on a larger fixture with realistic 384 × 384 slices (not run by default:
/// `cargo test --release --test pipeline_prepare -- --ignored --nocapture`).
#[test]
#[ignore]
fn throughput_on_384_pixel_slices() {
    let fixture = common::build_fixture_with("prepare-speed", 60, 384);
    let mut config = config(&fixture, "out", Protocol::Honest);
    config.image_size = 256;
    let summary = run(&config).unwrap();
    println!("{}", summary.table());
    assert_eq!(summary.files_skipped.len(), fixture.bad_files.len());
    assert!(summary.level_agreement.fraction().unwrap() >= 0.99);
    if std::env::var_os("LUMBAR_KEEP_FIXTURE").is_none() {
        std::fs::remove_dir_all(&fixture.root).unwrap();
    } else {
        println!("fixture kept in {}", fixture.root.display());
    }
}
