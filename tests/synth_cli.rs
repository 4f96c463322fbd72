//! `lumbar synth` from the command line: it writes the dataset and the gallery, prints the class
//! counts and the Bayes accuracy, and refuses to write into a non-empty folder.

use std::process::Command;

#[test]
fn lumbar_synth_writes_prints_and_refuses_to_overwrite() {
    let out = std::env::temp_dir().join(format!("lumbar-synth-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lumbar"))
            .args(["synth", "--studies", "2", "--seed", "4", "--quiet", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.contains("Bayes accuracy"), "{stdout}");
    assert!(
        stdout.contains("Normal/Mild") && stdout.contains("Severe"),
        "{stdout}"
    );
    for name in [
        "train.csv",
        "train_series_descriptions.csv",
        "train_label_coordinates.csv",
        "synth_truth.csv",
        "synth_gallery.png",
    ] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    let refused = run(&[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    assert!(run(&["--overwrite"]).status.success());
    // Every axial series one continuous stack, on request; a share above 1 is refused.
    let continuous = run(&["--overwrite", "--continuous-share", "1"]);
    let stdout = String::from_utf8_lossy(&continuous.stdout);
    assert!(continuous.status.success());
    let line = stdout
        .lines()
        .find(|l| l.contains("axial T2 series"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let numbers: Vec<&str> = line.split(' ').collect();
    assert_eq!(numbers[0], numbers[4], "{line}");
    assert!(line.contains("of them continuous stacks"), "{line}");
    let refused = run(&["--overwrite", "--continuous-share", "1.5"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("--continuous-share 1.5 must be between 0 and 1"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}
