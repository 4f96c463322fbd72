//! `lumbar bench` on a tiny configuration prints what the README says it prints: the CPU and its
//! vector extensions, the engine of every convolution, the measured FMA peak, the rates with
//! their GFLOP/s and share of the peak, and a last machine-readable line with every key.

use std::process::Command;

#[test]
fn bench_prints_the_cpu_the_engines_the_peak_and_a_machine_readable_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_lumbar"))
        .args([
            "bench",
            "--image-size",
            "32",
            "--batch",
            "2",
            "--steps",
            "1",
            "--threads",
            "1",
        ])
        .output()
        .expect("lumbar runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("CPU: "), "{stdout}");
    let engines = lines.iter().filter(|l| l.contains("forward: ")).count();
    assert_eq!(engines, 10, "one line per convolution:\n{stdout}");
    assert!(stdout.contains("FMA peak :"), "{stdout}");
    assert_eq!(stdout.matches("% of the FMA peak").count(), 2, "{stdout}");
    let last = lines.last().expect("output");
    for key in [
        "train_img_per_s=",
        "infer_img_per_s=",
        "peak_rss_mb=",
        "fma_peak_gflops=",
        "train_peak_share=",
        "infer_peak_share=",
    ] {
        assert!(
            last.contains(key),
            "{key} missing from the last line: {last}"
        );
    }
    let value = |key: &str| -> f64 {
        let start = last.find(key).expect("key") + key.len();
        last[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        value("fma_peak_gflops=") > 0.0 && value("train_img_per_s=") > 0.0,
        "{last}"
    );
    let share = value("train_peak_share=");
    assert!(
        share > 0.0 && share < 1.0,
        "a share of the peak is between 0 and 1: {last}"
    );
}
