//! Re-running `lumbar prepare` into an existing output: a failed run leaves it as it was, a
//! successful one replaces it whole, an interrupted one resumes; and `lumbar run` reuses a
//! prepared folder only for the same data.

mod common;

use common::build_fixture;
use lumbar_cnn::experiment::{run as run_study, RunConfig};
use lumbar_cnn::prepare::manifest::read_manifest;
use lumbar_cnn::prepare::staging::MARKER;
use lumbar_cnn::prepare::{input_digest, run, PrepareConfig, Protocol};
use lumbar_cnn::rsna::Severity;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn config(data: &Path, out: &Path, image_size: usize) -> PrepareConfig {
    let mut config = PrepareConfig::new(data, out);
    config.image_size = image_size;
    config.seed = 7;
    config
}

/// Every file under `dir` (relative path → bytes).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", dir.display()))
}

#[test]
fn a_rerun_that_keeps_no_slice_fails_and_leaves_the_output_as_it_was() {
    let fixture = build_fixture("rerun-nothing-kept");
    let out = fixture.root.join("P");
    run(&config(&fixture.root, &out, 32)).unwrap();
    let before = snapshot(&out);

    // Every DICOM file of the dataset is now garbage: no slice can be kept.
    let mut corrupted = 0;
    for (name, _) in snapshot(&fixture.root.join("train_images")) {
        std::fs::write(fixture.root.join("train_images").join(name), b"not DICOM").unwrap();
        corrupted += 1;
    }
    let error = run(&config(&fixture.root, &out, 48))
        .unwrap_err()
        .to_string();
    assert!(error.contains("no slice was kept"), "{error}");
    // The axial series only: the sagittal series of the fixture is not read.
    let axial_files = error
        .split(" DICOM file(s) found")
        .next()
        .and_then(|s| s.rsplit(": ").next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no file count in: {error}"));
    assert!(axial_files > 0 && axial_files < corrupted, "{error}");
    // The files are grouped by reason: here one reason, for all of them.
    assert!(
        error.contains(&format!("{axial_files} unreadable (")),
        "{error}"
    );
    assert!(error.contains(&format!(" ×{axial_files})")), "{error}");
    assert!(error.contains("was left as it was"), "{error}");
    assert_eq!(snapshot(&out), before, "the previous output changed");
    assert!(!sibling(&out, ".partial").exists());
    std::fs::remove_dir_all(&fixture.root).unwrap();
}

#[test]
fn a_rerun_that_fails_part_way_changes_nothing_and_resumes_without_redoing_files() {
    let fixture = build_fixture("rerun-part-way");
    let out = fixture.root.join("P");
    run(&config(&fixture.root, &out, 32)).unwrap();
    // A PNG its manifest does not list, as a run of an earlier version killed during the PNG
    // stage left behind; a complete re-run must not keep it.
    let listed = read_manifest(&out.join("manifest.csv")).unwrap();
    let stray = out.join("png/Severe/9_9_9.png");
    std::fs::copy(out.join(&listed[0].path), &stray).unwrap();
    let before = snapshot(&out);

    // What a complete run at 48 px writes, in a folder of its own.
    let reference_dir = fixture.root.join("reference");
    let reference = run(&config(&fixture.root, &reference_dir, 48)).unwrap();
    let rows = read_manifest(&reference_dir.join("manifest.csv")).unwrap();

    // The 48 px re-run into P fails part-way: one PNG cannot be written (a folder stands at
    // its path in the staging folder, as a full disk or a permission error would stop it).
    let rerun = config(&fixture.root, &out, 48);
    let staging = sibling(&out, ".partial");
    let blocked = rows[rows.len() / 2].path.clone();
    std::fs::create_dir_all(staging.join(&blocked)).unwrap();
    let digest = serde_json::to_string(&input_digest(&rerun).unwrap()).unwrap();
    std::fs::write(staging.join(MARKER), digest).unwrap();
    let error = run(&rerun).unwrap_err().to_string();
    assert!(error.contains(&blocked), "{error}");
    assert_eq!(snapshot(&out), before, "the previous output changed");

    // Started again, it reuses every PNG the failed run wrote and replaces P whole.
    std::fs::remove_dir(staging.join(&blocked)).unwrap();
    let summary = run(&rerun).unwrap();
    assert_eq!(summary.slices_kept, reference.slices_kept);
    assert_eq!(summary.slices_reused, summary.slices_kept - 1);
    // Every file as a fresh run writes it, but the summary (times, reuse count) and the
    // marker (written by this test in its own JSON layout).
    let mut after = snapshot(&out);
    let mut expected = snapshot(&reference_dir);
    for varying in ["summary.json", MARKER] {
        assert!(after.remove(varying).is_some(), "{varying}");
        expected.remove(varying);
    }
    let extra: Vec<&String> = after
        .keys()
        .filter(|p| !expected.contains_key(*p))
        .collect();
    let missing: Vec<&String> = expected
        .keys()
        .filter(|p| !after.contains_key(*p))
        .collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "not the files of a fresh run: extra {extra:?}, missing {missing:?}"
    );
    let differing: Vec<&String> = after
        .keys()
        .filter(|path| after[*path] != expected[*path])
        .collect();
    assert!(
        differing.is_empty(),
        "differ from a fresh run: {differing:?}"
    );
    for path in after.keys().filter(|p| p.ends_with(".png")) {
        let image = image::open(out.join(path)).unwrap();
        assert_eq!((image.width(), image.height()), (48, 48), "{path}");
    }
    assert_eq!(summary.image_size, 48);
    assert!(!staging.exists() && !sibling(&out, ".old").exists());
    std::fs::remove_dir_all(&fixture.root).unwrap();
}

#[test]
fn an_output_folder_holding_other_files_is_refused_and_left_alone() {
    let fixture = build_fixture("rerun-foreign");
    let out = fixture.root.join("mine");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let error = run(&config(&fixture.root, &out, 32))
        .unwrap_err()
        .to_string();
    assert!(error.contains("did not write"), "{error}");
    assert_eq!(snapshot(&out).len(), 1);
    std::fs::remove_dir_all(&fixture.root).unwrap();
}

/// `lumbar run` with a tiny synthetic dataset, one epoch, its run folder `runs/<name>`.
fn study_config(root: &Path, name: &str) -> RunConfig {
    RunConfig {
        data_dir: root.join("synthetic"),
        generate_if_missing: true,
        synth_studies: Some(16),
        prepared_dir: root.join("prepared"),
        run_dir: root.join("runs").join(name),
        image_size: 32,
        protocol: Protocol::Honest,
        seed: 3,
        batch_size: 16,
        max_epochs: 1,
        patience: 5,
        resume: false,
        progress: false,
        max_steps: None,
    }
}

#[test]
fn lumbar_run_rebuilds_the_prepared_dataset_when_a_grade_changes() {
    let root = common::temp_dir("rerun-cache");
    run_study(&study_config(&root, "first")).unwrap();
    let prepared = root.join("prepared");
    let summary_before = std::fs::read(prepared.join("summary.json")).unwrap();

    // Same data: the prepared folder is reused, not rewritten.
    run_study(&study_config(&root, "same")).unwrap();
    assert_eq!(
        std::fs::read(prepared.join("summary.json")).unwrap(),
        summary_before
    );

    // Change the grade of one kept slice's study and level in train.csv.
    let row = read_manifest(&prepared.join("manifest.csv")).unwrap()[0].clone();
    let new_label = if row.label == Severity::Severe {
        Severity::Moderate
    } else {
        Severity::Severe
    };
    let csv_path = root.join("synthetic").join("train.csv");
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let column = format!("spinal_canal_stenosis_{}", row.level.column_suffix());
    let index = lines[0].split(',').position(|c| c == column).unwrap();
    let line = lines
        .iter_mut()
        .find(|l| l.starts_with(&format!("{},", row.study_id)))
        .unwrap();
    let mut cells: Vec<&str> = line.split(',').collect();
    cells[index] = new_label.csv_name();
    *line = cells.join(",");
    std::fs::write(&csv_path, lines.join("\n") + "\n").unwrap();

    run_study(&study_config(&root, "changed")).unwrap();
    let rows = read_manifest(&prepared.join("manifest.csv")).unwrap();
    let relabelled: Vec<_> = rows
        .iter()
        .filter(|r| r.study_id == row.study_id && r.level == row.level)
        .collect();
    assert!(!relabelled.is_empty());
    assert!(
        relabelled.iter().all(|r| r.label == new_label),
        "the prepared dataset still has the old label"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
