//! `lumbar predict` on a tiny synthetic dataset with a small untrained model: one series gets
//! one row per level found, whose numbers are the averages of the slices, which match what
//! the prepared PNGs give; a Kaggle test folder becomes a well-formed submission; bad input is
//! a clear error.

use lumbar_cnn::experiment::predict::{
    prior_probabilities, slice_input, write_submission, Predictor, SUBMISSION_HEADER,
};
use lumbar_cnn::model::checkpoint::save_model;
use lumbar_cnn::model::{paper_cnn, predict, Architecture};
use lumbar_cnn::prepare::manifest::read_manifest;
use lumbar_cnn::prepare::{load_images, PrepareConfig};
use lumbar_cnn::rsna::records::read_series_descriptions;
use lumbar_cnn::rsna::Level;
use lumbar_cnn::synth::{generate, SynthConfig};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Input side of the test model: small, and chosen so that the half-pixel bilinear resize of
/// the 96–128 px synthetic slices interpolates between pixels (at 32 px a 96 px slice would be
/// sampled exactly), so that the rounding to 8 bits that `prepare` does is tested too.
const SIZE: usize = 48;

/// A synthetic dataset and a run folder with an untrained model, made once per test binary.
struct Fixture {
    root: PathBuf,
    data: PathBuf,
    run: PathBuf,
}

impl Fixture {
    /// `(study_id, series_id)` of every Axial T2 series, sorted.
    fn axial_series(&self) -> Vec<(u64, u64)> {
        let mut series: Vec<(u64, u64)> =
            read_series_descriptions(&self.data.join("train_series_descriptions.csv"))
                .unwrap()
                .into_iter()
                .filter(|d| d.description == "Axial T2")
                .map(|d| (d.study_id, d.series_id))
                .collect();
        series.sort_unstable();
        series
    }

    fn series_dir(&self, study: u64, series: u64) -> PathBuf {
        self.data
            .join("train_images")
            .join(study.to_string())
            .join(series.to_string())
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // Cargo's per-target scratch folder: each run replaces the last one's files.
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("predict");
        let _ = std::fs::remove_dir_all(&root);
        let data = root.join("synthetic");
        generate(&SynthConfig::small(4, 5), &data, true, false).unwrap();
        let run = root.join("run");
        let model = paper_cnn(SIZE, 9).unwrap();
        save_model(
            &model,
            &Architecture::paper(SIZE),
            &run.join("model.safetensors"),
        )
        .unwrap();
        Fixture { root, data, run }
    })
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() < 1e-5
}

#[test]
fn one_series_gives_one_row_per_level_with_the_mean_of_its_slices() {
    let f = fixture();
    let (study, series) = f.axial_series()[0];
    let dir = f.series_dir(study, series);
    let mut predictor = Predictor::load(&f.run).unwrap();
    assert_eq!(predictor.image_size(), SIZE);
    let prediction = predictor.predict_series(&dir).unwrap();

    assert!(!prediction.slices.is_empty());
    assert!(prediction.slices.len() <= prediction.files);
    // One row per level found, in level order, each the mean of its slices.
    let mut found: Vec<Level> = prediction.slices.iter().map(|s| s.level).collect();
    found.sort();
    found.dedup();
    let listed: Vec<Level> = prediction.levels.iter().map(|l| l.level).collect();
    assert_eq!(listed, found);
    for row in &prediction.levels {
        let slices: Vec<_> = prediction
            .slices
            .iter()
            .filter(|s| s.level == row.level)
            .collect();
        assert_eq!(row.slices, slices.len());
        for class in 0..3 {
            let mean =
                slices.iter().map(|s| s.probabilities[class]).sum::<f32>() / slices.len() as f32;
            assert!(close(row.probabilities[class], mean), "{:?}", row.level);
        }
        assert!(close(row.probabilities.iter().sum(), 1.0));
        assert!(row.probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
    }
    for s in &prediction.slices {
        assert!(close(s.probabilities.iter().sum(), 1.0));
    }
    let table = prediction.table();
    assert_eq!(table.lines().count(), prediction.levels.len() + 1);
    assert!(table.contains("Normal/Mild") && table.contains(Level::L1L2.name()));

    // The JSON holds the same rows.
    let json_path = f.root.join("out").join("series.json");
    prediction.write_json(&json_path).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let levels = json["levels"].as_array().unwrap();
    assert_eq!(levels.len(), prediction.levels.len());
    for (value, row) in levels.iter().zip(&prediction.levels) {
        assert_eq!(value["level"], row.level.name());
        assert_eq!(value["slices"].as_u64().unwrap() as usize, row.slices);
        // Named columns: normal_mild is our class 1, moderate 0, severe 2.
        let get = |name: &str| value[name].as_f64().unwrap() as f32;
        assert_eq!(get("normal_mild"), row.probabilities[1]);
        assert_eq!(get("moderate"), row.probabilities[0]);
        assert_eq!(get("severe"), row.probabilities[2]);
    }
    assert_eq!(
        json["slices"].as_array().unwrap().len(),
        prediction.slices.len()
    );
}

#[test]
fn series_levels_and_inputs_match_the_prepared_dataset() {
    // `prepare` (honest, the default seed 42 that a run folder without config.json implies)
    // assigns the same levels, its PNGs loaded by `load_images` are exactly our inputs, and
    // they give the same probabilities: the slices reach the network as in training. Except on
    // a continuous stack: `prepare` locates its discs from the sagittal label points, which
    // `predict` does not have, so it places them by K-Means and says so.
    let f = fixture();
    let mut config = PrepareConfig::new(&f.data, f.root.join("prepared"));
    config.image_size = SIZE;
    config.balance = false;
    lumbar_cnn::prepare::run(&config).unwrap();
    let manifest = read_manifest(&config.out_dir.join("manifest.csv")).unwrap();
    let (mut model, _) = lumbar_cnn::model::load_model(&f.run.join("model.safetensors")).unwrap();
    let mut predictor = Predictor::load(&f.run).unwrap();
    let (mut compared, mut continuous) = (0, 0);
    for (study, series) in f.axial_series() {
        let prediction = predictor
            .predict_series(&f.series_dir(study, series))
            .unwrap();
        if prediction
            .warnings
            .iter()
            .any(|w| w.contains("one continuous stack"))
        {
            continuous += 1;
            continue;
        }
        let ours: HashMap<i64, _> = prediction.slices.iter().map(|s| (s.instance, s)).collect();
        let rows: Vec<_> = manifest.iter().filter(|r| r.series_id == series).collect();
        let paths: Vec<PathBuf> = rows.iter().map(|r| config.out_dir.join(&r.path)).collect();
        let pngs = load_images(&paths, SIZE).unwrap();
        let probabilities = predict(&mut model, &pngs.clone().into_dyn(), 8).unwrap();
        for ((row, p), png) in rows.iter().zip(probabilities.rows()).zip(pngs.outer_iter()) {
            let slice = ours[&row.instance_number];
            assert_eq!(
                slice_input(&slice.path, SIZE).unwrap(),
                png,
                "{}",
                slice.path.display()
            );
            assert_eq!(
                slice.level, row.level,
                "series {series} slice {}",
                row.instance_number
            );
            for class in 0..3 {
                assert!(close(slice.probabilities[class], p[class]));
            }
            compared += 1;
        }
    }
    assert!(compared > 20, "only {compared} slices compared");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(config.out_dir.join("summary.json")).unwrap(),
    )
    .unwrap();
    assert!(continuous > 0, "the fixture has no continuous stack");
    assert_eq!(summary["continuous_series"], continuous);
}

/// A Kaggle test folder made of `studies` (symlinked train_images) plus a study whose Axial T2
/// folder is missing; returns its path and the missing study's id.
fn kaggle_test_folder(f: &Fixture, studies: &[u64]) -> (PathBuf, u64) {
    let test = f.root.join("kaggle");
    let _ = std::fs::remove_dir_all(&test);
    std::fs::create_dir_all(test.join("test_images")).unwrap();
    let mut csv = String::from("study_id,series_id,series_description\n");
    for d in read_series_descriptions(&f.data.join("train_series_descriptions.csv")).unwrap() {
        if studies.contains(&d.study_id) {
            csv.push_str(&format!(
                "{},{},{}\n",
                d.study_id, d.series_id, d.description
            ));
        }
    }
    for study in studies {
        let link = test.join("test_images").join(study.to_string());
        if !link.exists() {
            std::os::unix::fs::symlink(f.data.join("train_images").join(study.to_string()), link)
                .unwrap();
        }
    }
    let missing = 4_000_000_001u64;
    csv.push_str(&format!("{missing},77,Axial T2\n"));
    std::fs::write(test.join("test_series_descriptions.csv"), csv).unwrap();
    (test, missing)
}

#[test]
fn a_kaggle_test_folder_becomes_a_submission() {
    let f = fixture();
    let mut by_study: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (study, series) in f.axial_series() {
        by_study.entry(study).or_default().push(series);
    }
    let studies: Vec<u64> = by_study.keys().take(2).copied().collect();
    let (test, missing) = kaggle_test_folder(f, &studies);
    let out = f.root.join("submission.csv");
    let mut predictor = Predictor::load(&f.run).unwrap();
    let summary = write_submission(&mut predictor, &test, &out).unwrap();
    assert_eq!(summary.studies, 3);
    assert_eq!(summary.series_failed, 1);
    assert!(summary.warnings.iter().any(|w| w.contains("4000000001")));
    assert!(summary.rows_from_prior >= 5);

    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(SUBMISSION_HEADER));
    assert_eq!(SUBMISSION_HEADER, "row_id,normal_mild,moderate,severe");
    let mut rows: BTreeMap<String, [f32; 3]> = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 4, "{line}");
        let p = [1, 2, 3].map(|i| cells[i].parse::<f32>().unwrap());
        assert!(close(p.iter().sum(), 1.0), "{line}");
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)), "{line}");
        assert!(
            rows.insert(cells[0].to_string(), p).is_none(),
            "repeated {line}"
        );
    }
    let mut all = studies.clone();
    all.push(missing);
    assert_eq!(rows.len(), 5 * all.len());
    for study in &all {
        for level in Level::ALL {
            let id = format!("{study}_spinal_canal_stenosis_{}", level.column_suffix());
            assert!(rows.contains_key(&id), "no row {id}");
        }
    }
    // The study without images gets the prior, in Kaggle's column order.
    let prior = prior_probabilities();
    assert!(close(prior.iter().sum(), 1.0));
    let row = rows[&format!("{missing}_spinal_canal_stenosis_l4_l5")];
    assert_eq!(row, [prior[1], prior[0], prior[2]]);
    // A study with one axial series: its rows are that series' level means, columns reordered.
    let (&study, series) = by_study
        .iter()
        .find(|(s, series)| studies.contains(s) && series.len() == 1)
        .expect("a study with a single axial series");
    let prediction = predictor
        .predict_series(&f.series_dir(study, series[0]))
        .unwrap();
    for level in &prediction.levels {
        let id = format!(
            "{study}_spinal_canal_stenosis_{}",
            level.level.column_suffix()
        );
        let p = level.probabilities;
        assert_eq!(rows[&id], [p[1], p[0], p[2]], "{id}");
    }
}

fn error_of<T>(result: lumbar_cnn::Result<T>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_series_are_clear_errors() {
    let f = fixture();
    let mut predictor = Predictor::load(&f.run).unwrap();
    let missing = f.root.join("no-such-series");
    let message = error_of(predictor.predict_series(&missing));
    assert!(message.contains("no-such-series") && message.contains("does not exist"));

    let junk = f.root.join("junk");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("1.dcm"), b"not a DICOM file").unwrap();
    let message = error_of(predictor.predict_series(&junk));
    assert!(message.contains("no readable slices"), "{message}");

    let empty = f.root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(error_of(predictor.predict_series(&empty)).contains("no .dcm files"));

    let sagittal = read_series_descriptions(&f.data.join("train_series_descriptions.csv"))
        .unwrap()
        .into_iter()
        .find(|d| d.description.starts_with("Sagittal"))
        .unwrap();
    let message =
        error_of(predictor.predict_series(&f.series_dir(sagittal.study_id, sagittal.series_id)));
    assert!(message.contains("not an axial series"), "{message}");
}

fn copy_model(f: &Fixture, name: &str, files: &[&str]) -> PathBuf {
    let dir = f.root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for file in files {
        std::fs::copy(f.run.join(file), dir.join(file)).unwrap();
    }
    dir
}

#[test]
fn bad_model_folders_are_clear_errors() {
    let f = fixture();
    let message = error_of(Predictor::load(&f.root.join("no-such-run")));
    assert!(message.contains("no-such-run") && message.contains("no such folder"));

    let no_weights = copy_model(f, "no-weights", &["model.json"]);
    let message = error_of(Predictor::load(&no_weights));
    assert!(
        message.contains("model.safetensors is missing"),
        "{message}"
    );

    let no_json = copy_model(f, "no-json", &["model.safetensors"]);
    assert!(error_of(Predictor::load(&no_json)).contains("model.json is missing"));

    let other = copy_model(f, "other-arch", &["model.safetensors"]);
    let json = r#"{"name": "resnet", "image_size": 48, "channels": 3, "classes": 3}"#;
    std::fs::write(other.join("model.json"), json).unwrap();
    let message = error_of(Predictor::load(&other));
    assert!(message.contains("not the paper's network"), "{message}");
    assert!(message.contains("model.json"), "{message}");
}

#[test]
fn the_submission_needs_the_kaggle_layout() {
    let f = fixture();
    let mut predictor = Predictor::load(&f.run).unwrap();
    let message = error_of(write_submission(
        &mut predictor,
        &f.data,
        &f.root.join("never.csv"),
    ));
    assert!(
        message.contains("test_series_descriptions.csv is missing"),
        "{message}"
    );
    assert!(!Path::new(&f.root.join("never.csv")).exists());
}
