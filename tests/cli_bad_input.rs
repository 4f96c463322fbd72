//! The `lumbar` binary refuses bad settings with one clear sentence and a non-zero exit code,
//! before doing any work, and leaves what is already written as it was: `--resume` with other
//! settings, `evaluate` on a copied run or a vanished prepared dataset, run names that are
//! paths, negative numbers, `--series FILE`, image sizes the network cannot take, a missing
//! `--data`, a model with NaN weights, and sizes that do not fit in memory.
//!
//! One tiny finished run (8 synthetic studies, 32 px, 2 epochs, ≈ 10 s) is made once and
//! copied by the tests that need a run folder.

use lumbar_cnn::model::checkpoint::{load_model, save_model};
use lumbar_cnn::model::Architecture;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A fresh empty folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lumbar-cli-bad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run `lumbar args…` in the folder `cwd`.
fn lumbar(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lumbar"))
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap()
}

/// The command failed; its stderr.
fn refused(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "succeeded; stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}

/// The settings of the shared run (`tiny`), which every resume of it must repeat.
const TINY_RUN: [&str; 8] = [
    "run",
    "--studies",
    "8",
    "--batch-size",
    "16",
    "--quiet",
    "--name",
    "tiny",
];

/// A folder holding `data/synthetic`, `data/prepared/…` and the finished run `runs/tiny`.
/// Its name has no process id, so each run of these tests replaces the last one's (about
/// 140 MB) instead of leaving another copy behind.
fn workspace() -> &'static Path {
    static WORKSPACE: OnceLock<PathBuf> = OnceLock::new();
    WORKSPACE.get_or_init(|| {
        let dir = std::env::temp_dir().join("lumbar-cli-bad-input-workspace");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let output = lumbar(&dir, &[&TINY_RUN[..], &["--epochs", "2"]].concat());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    })
}

/// Copy the folder `from` to `to` (files and sub-folders).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the shared run as `runs/<name>` beside it.
fn copy_of_tiny(name: &str) -> PathBuf {
    let runs = workspace().join("runs");
    let copy = runs.join(name);
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(&runs.join("tiny"), &copy);
    copy
}

/// `lumbar run --resume` of `runs/<name>` with the shared run's settings, except the flags
/// given in `changed` (pairs of flag and value).
fn resume(name: &str, changed: &[&str]) -> Output {
    let mut settings = vec![
        ("--studies", "8"),
        ("--batch-size", "16"),
        ("--epochs", "2"),
    ];
    for pair in changed.chunks(2) {
        settings.retain(|(flag, _)| *flag != pair[0]);
        settings.push((pair[0], pair[1]));
    }
    let mut args = vec!["run", "--quiet", "--resume", "--name", name];
    for (flag, value) in settings {
        args.extend([flag, value]);
    }
    lumbar(workspace(), &args)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn resume_refuses_other_settings_naming_each_and_rewrites_nothing() {
    let run = copy_of_tiny("resume-other");
    let config = read(&run.join("config.json"));
    let state = read(&run.join("checkpoint/state.json"));

    let stderr = refused(&resume("resume-other", &["--seed", "7"]));
    assert!(
        stderr.contains(
            "cannot resume runs/resume-other: its checkpoint was made with --seed 42, not 7"
        ),
        "{stderr}"
    );
    let stderr = refused(&resume(
        "resume-other",
        &["--batch-size", "8", "--patience", "3"],
    ));
    assert!(
        stderr.contains("--batch-size 16, not 8; --patience 5, not 3"),
        "{stderr}"
    );
    let stderr = refused(&resume("resume-other", &["--protocol", "paper"]));
    assert!(stderr.contains("--protocol honest, not paper"), "{stderr}");

    // Two epochs are done: a limit of 1 is refused, and nothing grows.
    let stderr = refused(&resume("resume-other", &["--epochs", "1"]));
    assert!(
        stderr.contains("it has already completed 2 epochs, more than --epochs 1"),
        "{stderr}"
    );
    assert_eq!(read(&run.join("config.json")), config);
    assert_eq!(read(&run.join("checkpoint/state.json")), state);
    assert_eq!(
        std::fs::read_to_string(run.join("history.csv"))
            .unwrap()
            .lines()
            .count(),
        3
    );

    // Raising the limit continues to it.
    let output = resume("resume-other", &["--epochs", "3"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 4, "{history}");
    std::fs::remove_dir_all(run).unwrap();
}

#[test]
fn evaluate_writes_into_the_folder_it_was_given() {
    let original = workspace().join("runs/tiny");
    let elsewhere = temp_dir("moved");
    let moved = elsewhere.join("moved-run");
    copy_dir(&original, &moved);
    std::fs::remove_file(moved.join("confusion_matrix.png")).unwrap();
    let before = |name: &str| {
        std::fs::metadata(original.join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let (report_time, matrix_time) = (before("report.md"), before("confusion_matrix.png"));

    let output = lumbar(&elsewhere, &["evaluate", "--run", "moved-run"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(moved.join("confusion_matrix.png").is_file());
    assert_eq!(before("report.md"), report_time);
    assert_eq!(before("confusion_matrix.png"), matrix_time);
    std::fs::remove_dir_all(elsewhere).unwrap();
}

#[test]
fn evaluate_names_a_vanished_prepared_dataset_and_how_to_fix_it() {
    let run = copy_of_tiny("evaluate-vanished");
    let config_path = run.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&read(&config_path)).unwrap();
    let prepared = PathBuf::from(config["prepared_dir"].as_str().unwrap());
    let gone = workspace().join("data/prepared/gone");
    config["prepared_dir"] = gone.to_string_lossy().as_ref().into();
    std::fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let metrics = read(&run.join("metrics.json"));

    let stderr = refused(&lumbar(
        workspace(),
        &["evaluate", "--run", "runs/evaluate-vanished"],
    ));
    assert!(
        stderr.contains(&format!(
            "the run's prepared dataset {} no longer exists",
            gone.display()
        )) && stderr.contains("lumbar prepare --data")
            && stderr.contains("--prepared DIR"),
        "{stderr}"
    );
    assert_eq!(read(&run.join("metrics.json")), metrics);

    let output = lumbar(
        workspace(),
        &[
            "evaluate",
            "--run",
            "runs/evaluate-vanished",
            "--prepared",
            prepared.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(run).unwrap();
}

#[test]
fn run_names_that_are_not_one_folder_name_are_refused_naming_the_rule() {
    let dir = temp_dir("names");
    let cwd = dir.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    for (name, rule) in [
        ("../../escaped", "it contains a / or \\"),
        ("a\\b", "it contains a / or \\"),
        ("", "it is empty"),
        (".hidden", "it starts with a dot"),
        ("..", "it starts with a dot"),
        ("tab\there", "it contains a control character"),
    ] {
        let stderr = refused(&lumbar(
            &cwd,
            &["run", "--quiet", "--data", "missing", "--name", name],
        ));
        assert!(
            stderr.contains(&format!("invalid --name {name:?}: {rule}")),
            "{name:?}: {stderr}"
        );
    }
    assert!(!dir.join("escaped").exists());
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "cwd written to"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_whole_number_flag_says_what_it_accepts() {
    let dir = temp_dir("numbers");
    let cases: [(&[&str], &str); 15] = [
        (
            &["run", "--seed", "-1"],
            "the seed is a whole number from 0 to 18446744073709551615",
        ),
        (
            &["run", "--image-size", "-1"],
            "the image size is a whole number from 32",
        ),
        (
            &["run", "--image-size", "8"],
            "the image size is a whole number from 32",
        ),
        (
            &["run", "--batch-size", "-1"],
            "the batch size is a whole number from 1",
        ),
        (
            &["run", "--epochs", "0"],
            "the number of epochs is a whole number from 1",
        ),
        (
            &["run", "--patience", "-1"],
            "the patience is a whole number from 0",
        ),
        (
            &["run", "--studies", "-1"],
            "the number of studies is a whole number from 1",
        ),
        (
            &["bench", "--image-size", "-1"],
            "the image size is a whole number from 32",
        ),
        (
            &["bench", "--batch", "-1"],
            "the batch size is a whole number from 1",
        ),
        (
            &["bench", "--threads", "-1"],
            "the number of threads is a whole number from 1",
        ),
        (
            &["bench", "--steps", "-1"],
            "the number of steps is a whole number from 1",
        ),
        (
            &["summary", "--image-size", "-1"],
            "the image size is a whole number from 32",
        ),
        (
            &["synth", "--out", "x", "--seed", "-1"],
            "the seed is a whole number from 0",
        ),
        (
            &["prepare", "--data", "d", "--out", "p", "--seed", "-1"],
            "the seed is a whole number from 0",
        ),
        (
            &["prepare", "--data", "d", "--out", "p", "--image-size", "16"],
            "the image size is a whole number from 32",
        ),
    ];
    for (args, message) in cases {
        let stderr = refused(&lumbar(&dir, args));
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let stderr = refused(&lumbar(&dir, &["synth", "--out", "x", "--studies", "-1"]));
    assert!(
        stderr.contains("the number of studies is a whole number from 1"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "something was written"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_series_file_is_named_a_file_not_a_folder() {
    let stderr = refused(&lumbar(
        workspace(),
        &[
            "predict",
            "--model",
            "runs/tiny",
            "--series",
            "runs/tiny/config.json",
        ],
    ));
    assert!(
        stderr.contains("runs/tiny/config.json is a file, not a folder of DICOM files"),
        "{stderr}"
    );
}

#[test]
fn settings_are_checked_before_any_folder_is_made() {
    // The library entry point refuses a size the network cannot take before preparing.
    let dir = temp_dir("early");
    let config = lumbar_cnn::experiment::RunConfig {
        data_dir: workspace().join("data/synthetic"),
        generate_if_missing: false,
        synth_studies: None,
        prepared_dir: dir.join("prepared"),
        run_dir: dir.join("runs/small"),
        image_size: 16,
        protocol: lumbar_cnn::prepare::Protocol::Honest,
        seed: 1,
        batch_size: 4,
        max_epochs: 1,
        patience: 1,
        resume: false,
        progress: false,
        max_steps: None,
    };
    let error = lumbar_cnn::experiment::run(&config)
        .unwrap_err()
        .to_string();
    assert!(error.contains("image size 16 is too small"), "{error}");
    let error = lumbar_cnn::experiment::run(&lumbar_cnn::experiment::RunConfig {
        image_size: 32,
        max_epochs: 0,
        ..config.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("must be at least 1"), "{error}");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "a folder was made"
    );

    // An invalid --data leaves no run folder behind.
    let stderr = refused(&lumbar(
        &dir,
        &["run", "--quiet", "--data", "missing", "--name", "x"],
    ));
    assert!(
        stderr.contains("missing is not an RSNA-layout folder"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "a folder was made"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_model_with_nan_weights_is_named_so_not_by_an_internal_function() {
    let run = copy_of_tiny("nan-model");
    let path = run.join("model.safetensors");
    let (mut model, architecture) = load_model(&path).unwrap();
    let mut weights = model.weights();
    weights[0].fill(f32::NAN);
    model.set_weights(&weights).unwrap();
    save_model(&model, &Architecture::paper(architecture.image_size), &path).unwrap();
    let metrics = read(&run.join("metrics.json"));

    let stderr = refused(&lumbar(
        workspace(),
        &["evaluate", "--run", "runs/nan-model"],
    ));
    assert!(
        stderr.contains("conv2d/kernel") && stderr.contains("the model's weights are not finite"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("predictions_from_probabilities"),
        "{stderr}"
    );
    assert_eq!(read(&run.join("metrics.json")), metrics);
    std::fs::remove_dir_all(run).unwrap();
}

#[test]
fn sizes_beyond_the_available_memory_are_refused_with_the_figures() {
    let dir = temp_dir("memory");
    for args in [
        &["bench", "--image-size", "100000"][..],
        &["bench", "--batch", "100000000"],
        &["summary", "--image-size", "1000000000"],
        &["run", "--image-size", "100000", "--quiet"],
    ] {
        let output = lumbar(&dir, args);
        let stderr = refused(&output);
        assert!(
            stderr.contains(" needs about ") && stderr.contains("available"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "a folder was made"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
