//! The whole chain at a tiny size: a few synthetic studies, 32×32 images, two epochs. Checks
//! that every output of a run exists and decodes, and that `lumbar explain` explains it.

use lumbar_cnn::experiment::report::write_report;
use lumbar_cnn::experiment::{run, RunConfig};
use lumbar_cnn::explain::run::{explain_run, ExplainConfig};
use lumbar_cnn::explain::Ellipse;
use lumbar_cnn::model::checkpoint::load_model;
use lumbar_cnn::prepare::image_ops::read_gray_png;
use lumbar_cnn::prepare::manifest::read_manifest;
use lumbar_cnn::prepare::sac_regions::read_sac_regions;
use lumbar_cnn::prepare::Protocol;
use std::path::PathBuf;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lumbar-main-job-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_tiny_run_writes_every_output() {
    let root = temp_dir("tiny");
    let config = RunConfig {
        data_dir: root.join("synthetic"),
        generate_if_missing: true,
        synth_studies: Some(16),
        prepared_dir: root.join("prepared"),
        run_dir: root.join("runs").join("tiny"),
        image_size: 32,
        protocol: Protocol::Honest,
        seed: 3,
        batch_size: 16,
        max_epochs: 2,
        patience: 5,
        resume: false,
        progress: false,
        max_steps: None,
    };
    let metrics = run(&config).unwrap();
    let dir = &config.run_dir;
    for png in [
        "confusion_matrix.png",
        "accuracy.png",
        "loss.png",
        "augmentation_samples.png",
    ] {
        let image = image::open(dir.join(png)).unwrap_or_else(|e| panic!("{png}: {e}"));
        assert!(image.width() > 100 && image.height() > 100, "{png}");
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for needle in [
        "confusion_matrix.png",
        "accuracy.png",
        "Moderate",
        "Severe",
        "macro-F1",
    ] {
        assert!(report.contains(needle), "report.md lacks {needle}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(json["training"]["epochs_run"], 2);
    // Bootstrap intervals over the test studies, beside the unchanged point estimates (this
    // tiny split may hold a single study: then there is none, and the report says why), and
    // the synthetic data's recall ceiling per class next to each recall in the report.
    let ci = &json["test"]["ci95"];
    if json["test"]["studies"] == 1 {
        assert!(ci.is_null(), "{ci}");
        assert!(report.contains("a single study"), "{report}");
    } else {
        assert_eq!(ci["studies"], json["test"]["studies"]);
        let accuracy = json["test"]["report"]["accuracy"].as_f64().unwrap();
        let (low, high) = (
            ci["accuracy"]["low"].as_f64().unwrap(),
            ci["accuracy"]["high"].as_f64().unwrap(),
        );
        assert!(low <= high && (0.0..=1.0).contains(&low), "{ci}");
        let cell = format!("| accuracy | {accuracy:.3} (95 % CI {low:.3}–{high:.3}");
        assert!(report.contains(&cell), "{cell}\n{report}");
    }
    assert_eq!(json["bayes_recall"].as_array().unwrap().len(), 3);
    assert!(report.contains("Bayes recall ceiling"), "{report}");
    assert_eq!(
        json["test"]["images"].as_u64().unwrap() as usize,
        metrics.test.images
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("history.csv"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    let (model, architecture) = load_model(&dir.join("model.safetensors")).unwrap();
    assert_eq!(architecture.image_size, 32);
    assert_eq!(model.output_shape().unwrap(), vec![3]);

    // A second run with the same settings reuses the prepared dataset and resumes nothing:
    // `--resume` on a finished run returns the same history.
    let resumed = run(&RunConfig {
        resume: true,
        ..config.clone()
    })
    .unwrap();
    assert_eq!(resumed.training.epochs_run, 2);
    assert_eq!(
        resumed.training.best_val_loss,
        metrics.training.best_val_loss
    );

    // `lumbar explain` on the finished run writes every figure and both files.
    let summary = explain_run(&ExplainConfig::new(dir)).unwrap();
    assert_eq!(summary.layer, "conv2d_5");
    assert_eq!(
        summary.test_slices as u64,
        json["test"]["images"].as_u64().unwrap()
    );
    for png in [
        "grad_cam.png",
        "saliency.png",
        "filters.png",
        "feature_maps.png",
    ] {
        let image =
            image::open(dir.join("explain").join(png)).unwrap_or_else(|e| panic!("{png}: {e}"));
        assert!(image.width() > 100 && image.height() > 100, "{png}");
    }
    if summary.misclassified > 0 {
        image::open(dir.join("explain/misclassified.png")).unwrap();
    }
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("explain/summary.json")).unwrap())
            .unwrap();
    assert_eq!(written["layer_size"], serde_json::json!([8, 8]));
    assert_eq!(written["region_source"], "synth_truth");
    let localisation = std::fs::read_to_string(dir.join("explain/localisation.csv")).unwrap();
    assert!(localisation
        .starts_with("study_id,series_id,instance_number,class,predicted,peak_row,peak_col"));
    // Synthetic data knows where the sac is: every test slice is measured.
    assert_eq!(localisation.lines().count() - 1, summary.test_slices);
    let all = summary.all.expect("localisation on synthetic data");
    assert!(all.chance > 0.0 && all.chance < 0.5, "{}", all.chance);
    image::open(dir.join("explain/pointing_game.png")).unwrap();
    // Another prepared folder's test split, into another folder: the run's own test split
    // named explicitly gives the same figures; a folder of another input size is refused.
    let again = explain_run(&ExplainConfig {
        test_from: Some(config.prepared_dir.clone()),
        out_name: "explain-again".into(),
        ..ExplainConfig::new(dir)
    })
    .unwrap();
    assert_eq!(again.all.unwrap().pointing_game, all.pointing_game);
    assert!(dir.join("explain-again/localisation.csv").is_file());
    let other_size = dir.join("prepared-at-40px");
    std::fs::create_dir_all(&other_size).unwrap();
    let at_40px = lumbar_cnn::prepare::PrepareSummary {
        image_size: 40,
        ..Default::default()
    };
    std::fs::write(
        other_size.join("summary.json"),
        serde_json::to_string(&at_40px).unwrap(),
    )
    .unwrap();
    let refused = explain_run(&ExplainConfig {
        test_from: Some(other_size),
        ..ExplainConfig::new(dir)
    })
    .unwrap_err()
    .to_string();
    assert!(refused.contains("prepared at 40 px"), "{refused}");
    // The report gains the Grad-CAM panel and the pointing-game table (as `lumbar run` writes it).
    write_report(dir, &metrics).unwrap();
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for needle in [
        "## What the network looks at",
        "explain/grad_cam.png",
        "explain/pointing_game.png",
        "| **all** |",
    ] {
        assert!(report.contains(needle), "report.md lacks {needle}");
    }

    // The sac regions carried into the prepared images lie on the sac: its CSF is bright on
    // T2, so the pixels inside the (ungrown) ellipse are brighter than the image on average
    // (with rows and columns swapped, 141 of 340 are).
    let regions = read_sac_regions(&config.prepared_dir)
        .unwrap()
        .expect("sac_regions.csv");
    let manifest = read_manifest(&config.prepared_dir.join("manifest.csv")).unwrap();
    let (mut brighter, mut measured) = (0, 0);
    for row in &manifest {
        let region = &regions[&(row.study_id, row.series_id, row.instance_number)];
        let png = read_gray_png(&config.prepared_dir.join(&row.path)).unwrap();
        let ellipse = Ellipse {
            centre_row: region.centre_row,
            centre_col: region.centre_col,
            half_rows: region.half_rows,
            half_cols: region.half_cols,
        };
        let (mut inside, mut n_inside) = (0.0, 0);
        for ((r, c), &v) in png.indexed_iter() {
            if ellipse.contains(r, c) {
                inside += v as f64;
                n_inside += 1;
            }
        }
        let mean = png.iter().map(|&v| v as f64).sum::<f64>() / png.len() as f64;
        measured += 1;
        if n_inside > 0 && inside / n_inside as f64 > mean {
            brighter += 1;
        }
    }
    assert!(
        brighter * 10 >= measured * 9,
        "{brighter} of {measured} sac regions brighter"
    );
    std::fs::remove_dir_all(root).unwrap();
}
