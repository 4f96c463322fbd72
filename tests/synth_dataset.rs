//! The synthetic RSNA-layout dataset: files decode to the intended pixels, headers are Kaggle's,
//! runs are reproducible, the drawn sac matches the answer key, labels follow the prevalence,
//! and bad output folders are refused clearly.

use dicom_dictionary_std::tags;
use dicom_pixeldata::PixelDecoder;
use lumbar_cnn::levels::continuous::DISC_REACH_MM;
use lumbar_cnn::rsna::Severity;
use lumbar_cnn::synth::dicom_writer::PixelEncoding;
use lumbar_cnn::synth::study::SeriesKind;
use lumbar_cnn::synth::study_files::image_path;
use lumbar_cnn::synth::{generate, plan_studies, severity_of_area, SynthConfig, RSNA_PREVALENCE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A fresh, unique folder under the system temp dir (removed by the caller).
fn temp_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("lumbar-synth-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every file under `root`, as relative path → bytes.
fn read_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path.strip_prefix(root).unwrap().to_path_buf(), bytes);
            }
        }
    }
    files
}

fn tiny(studies: usize, seed: u64) -> SynthConfig {
    SynthConfig {
        rle_rate: 0.5,
        unordered_instance_rate: 0.5,
        second_axial_rate: 0.5,
        missing_tag_rate: 0.3,
        ..SynthConfig::small(studies, seed)
    }
}

#[test]
fn every_file_decodes_to_the_intended_pixels_with_consistent_tags() {
    let out = temp_dir("decode");
    let config = tiny(4, 11);
    let summary = generate(&config, &out, false, false).unwrap();
    let plans = plan_studies(&config).unwrap();
    let (mut rle, mut native, mut files) = (0, 0, 0);
    for plan in &plans {
        for series in &plan.series {
            for slice in &series.slices {
                let path = image_path(&out, plan.study_id, series.series_id, slice.instance_number);
                let obj = dicom_object::open_file(&path).unwrap();
                let ts = obj.meta().transfer_syntax().trim_end_matches('\0');
                assert_eq!(ts, series.encoding.transfer_syntax());
                match series.encoding {
                    PixelEncoding::RleLossless => rle += 1,
                    PixelEncoding::Native => native += 1,
                }
                let decoded = obj.decode_pixel_data().unwrap();
                let values: Vec<u16> = decoded
                    .data()
                    .chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect();
                assert_eq!(
                    values,
                    plan.stored_pixels(series, slice),
                    "{}",
                    path.display()
                );
                assert!(values.iter().all(|&v| v < 4096), "12 bits stored");
                let int = |tag| obj.element(tag).unwrap().to_int::<i64>().unwrap();
                assert_eq!(int(tags::ROWS) as usize, slice.plane.rows);
                assert_eq!(int(tags::COLUMNS) as usize, slice.plane.cols);
                assert_eq!(int(tags::BITS_ALLOCATED), 16);
                assert_eq!(int(tags::BITS_STORED), 12);
                assert_eq!(int(tags::INSTANCE_NUMBER), slice.instance_number as i64);
                let floats = |tag| obj.element(tag).unwrap().to_multi_float64().unwrap();
                let position = floats(tags::IMAGE_POSITION_PATIENT);
                let orientation = floats(tags::IMAGE_ORIENTATION_PATIENT);
                for k in 0..3 {
                    assert!((position[k] - slice.plane.position[k]).abs() < 1e-3);
                    assert!((orientation[k] - slice.plane.row_dir[k]).abs() < 1e-5);
                    assert!((orientation[3 + k] - slice.plane.col_dir[k]).abs() < 1e-5);
                }
                let spacing = floats(tags::PIXEL_SPACING);
                assert!((spacing[0] - slice.plane.spacing).abs() < 1e-5);
                assert_eq!(
                    obj.element(tags::PHOTOMETRIC_INTERPRETATION)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .trim(),
                    "MONOCHROME2"
                );
                assert!(obj.element(tags::MODALITY).is_err());
                assert!(obj.element(tags::SERIES_DESCRIPTION).is_err());
                assert_eq!(
                    obj.element(tags::SLICE_LOCATION).is_ok(),
                    series.has_location
                );
                assert_eq!(
                    obj.element(tags::SLICE_THICKNESS).is_ok(),
                    series.has_thickness
                );
                files += 1;
            }
        }
    }
    assert_eq!(files, summary.files);
    assert!(
        rle > 0 && native > 0,
        "both encodings tested: {rle} RLE, {native} native"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn axial_stacks_are_tilted_per_level_and_ordered_head_to_feet() {
    let plans = plan_studies(&SynthConfig {
        continuous_share: 0.0,
        ..tiny(6, 5)
    })
    .unwrap();
    for plan in &plans {
        let axial = plan
            .series
            .iter()
            .find(|s| s.kind == SeriesKind::AxialT2)
            .unwrap();
        assert!(!axial.continuous);
        let mut normals = Vec::new();
        let mut heights = [f64::NEG_INFINITY; 5];
        for slice in &axial.slices {
            let level = slice.level.unwrap();
            let n = slice.plane.normal();
            normals.push(n);
            let centre = slice.plane.point(
                (slice.plane.cols as f64 - 1.0) / 2.0,
                (slice.plane.rows as f64 - 1.0) / 2.0,
            );
            heights[level] = heights[level].max(centre[2]);
        }
        // L1/L2 most cranial (+z is the head).
        assert!(heights.windows(2).all(|w| w[0] > w[1]), "{heights:?}");
        // Stacks differ in orientation.
        let first = normals[0];
        let last = *normals.last().unwrap();
        let dot: f64 = (0..3).map(|k| first[k] * last[k]).sum();
        assert!(dot < 0.9999, "L1/L2 and L5/S1 stacks share an orientation");
    }
}

#[test]
fn continuous_stacks_run_from_above_l1_to_below_s1_with_vertebral_bodies_between_discs() {
    let config = SynthConfig {
        continuous_share: 1.0,
        ..tiny(6, 8)
    };
    let plans = plan_studies(&config).unwrap();
    let mut series_seen = 0;
    for plan in &plans {
        for series in plan.series.iter().filter(|s| s.kind == SeriesKind::AxialT2) {
            series_seen += 1;
            assert!(series.continuous);
            assert!(
                (30..=60).contains(&series.slices.len()),
                "{}",
                series.slices.len()
            );
            let normal = series.slices[0].plane.normal();
            let along = |p: [f64; 3]| (0..3).map(|k| p[k] * normal[k]).sum::<f64>();
            let mut positions = Vec::new();
            for slice in &series.slices {
                let n = slice.plane.normal();
                assert!((0..3).map(|k| n[k] * normal[k]).sum::<f64>() > 0.999_999);
                let disc = slice.nearest_disc.unwrap();
                assert_eq!(
                    slice.level.is_some(),
                    slice.offset_mm.abs() <= DISC_REACH_MM,
                    "{slice:?}"
                );
                assert!(slice.level.is_none_or(|l| l == disc));
                // The offset is the distance from the disc's canal centre along the normal.
                let centre = slice.plane.point(
                    (slice.plane.cols as f64 - 1.0) / 2.0,
                    (slice.plane.rows as f64 - 1.0) / 2.0,
                );
                let offset = along(centre) - along(plan.spine.discs[disc].canal_centre);
                assert!((offset - slice.offset_mm).abs() < 1e-6);
                positions.push(along(centre));
            }
            // Evenly spaced, in one direction (cranial first, or reversed by the quirk).
            let gaps: Vec<f64> = positions.windows(2).map(|w| w[0] - w[1]).collect();
            assert!(gaps
                .iter()
                .all(|g| (g - gaps[0]).abs() < 1e-6 && g.abs() > 3.0));
            // From above L1/L2 to below L5/S1, each disc with slices, vertebral bodies between.
            let top = positions.iter().cloned().fold(f64::MIN, f64::max);
            let bottom = positions.iter().cloned().fold(f64::MAX, f64::min);
            assert!(top > along(plan.spine.discs[0].canal_centre) + 5.0);
            assert!(bottom < along(plan.spine.discs[4].canal_centre) - 5.0);
            for level in 0..5 {
                assert!(series.slices.iter().any(|s| s.level == Some(level)));
            }
            let mut by_position: Vec<_> = series.slices.iter().collect();
            by_position.sort_by(|a, b| b.plane.location().total_cmp(&a.plane.location()));
            let runs: Vec<Option<usize>> = by_position.iter().fold(Vec::new(), |mut runs, s| {
                if runs.last() != Some(&s.level) {
                    runs.push(s.level);
                }
                runs
            });
            let discs: Vec<usize> = runs.iter().flatten().copied().collect();
            assert_eq!(
                discs,
                vec![0, 1, 2, 3, 4],
                "each disc once, in order: {runs:?}"
            );
            // A vertebral body between every two discs (the ends may or may not reach one).
            let first = runs.iter().position(Option::is_some).unwrap();
            let last = runs.iter().rposition(Option::is_some).unwrap();
            let inner = runs[first..last].iter().filter(|r| r.is_none()).count();
            assert_eq!(inner, 4, "{runs:?}");
        }
    }
    assert!(series_seen >= 6);
}

#[test]
fn continuous_stacks_in_the_csv_files_truth_without_level_and_points_on_the_nearest_slice() {
    let out = temp_dir("continuous");
    let config = SynthConfig {
        continuous_share: 1.0,
        ..SynthConfig::small(2, 6)
    };
    generate(&config, &out, false, false).unwrap();
    let plans = plan_studies(&config).unwrap();
    let truth = std::fs::read_to_string(out.join("synth_truth.csv")).unwrap();
    let points = std::fs::read_to_string(out.join("train_label_coordinates.csv")).unwrap();
    let mut between = 0;
    for plan in &plans {
        for series in plan.series.iter().filter(|s| s.kind == SeriesKind::AxialT2) {
            for slice in &series.slices {
                let key = format!(
                    "{},{},{},",
                    plan.study_id, series.series_id, slice.instance_number
                );
                let row: Vec<&str> = truth
                    .lines()
                    .find(|l| l.starts_with(&key))
                    .expect("every axial slice has a truth row")
                    .split(',')
                    .collect();
                if slice.level.is_none() {
                    between += 1;
                    // level, level_area_mm2, area_grade and label empty; the slice's own area kept.
                    assert_eq!(
                        [row[3], row[7], row[8], row[9]],
                        ["", "", "", ""],
                        "{row:?}"
                    );
                    assert!(row[6].parse::<f64>().unwrap() > 0.0);
                } else {
                    assert!(!row[3].is_empty());
                }
            }
            if !series.labelled {
                continue;
            }
            // One slice per level carries the subarticular points: the one nearest the disc.
            for level in 0..5 {
                let nearest = series
                    .slices
                    .iter()
                    .filter(|s| s.nearest_disc == Some(level))
                    .min_by(|a, b| a.offset_mm.abs().total_cmp(&b.offset_mm.abs()))
                    .unwrap();
                let name = lumbar_cnn::rsna::Level::ALL[level].name();
                let on_series: Vec<&str> = points
                    .lines()
                    .filter(|l| {
                        l.starts_with(&format!("{},{},", plan.study_id, series.series_id))
                            && l.contains("Subarticular")
                            && l.contains(&format!(",{name},"))
                    })
                    .collect();
                assert!(!on_series.is_empty() || plan.labels[3][level].is_none());
                for line in on_series {
                    let instance: u32 = line.split(',').nth(2).unwrap().parse().unwrap();
                    assert_eq!(instance, nearest.instance_number, "{line}");
                }
            }
        }
    }
    assert!(between > 0);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn csv_headers_equal_the_kaggle_headers_byte_for_byte() {
    let out = temp_dir("headers");
    generate(&SynthConfig::small(2, 3), &out, false, false).unwrap();
    let first_line = |name: &str| {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        text.lines().next().unwrap().to_string()
    };
    let mut train = String::from("study_id");
    for condition in [
        "spinal_canal_stenosis",
        "left_neural_foraminal_narrowing",
        "right_neural_foraminal_narrowing",
        "left_subarticular_stenosis",
        "right_subarticular_stenosis",
    ] {
        for level in ["l1_l2", "l2_l3", "l3_l4", "l4_l5", "l5_s1"] {
            train.push_str(&format!(",{condition}_{level}"));
        }
    }
    assert_eq!(first_line("train.csv"), train);
    assert_eq!(
        first_line("train_series_descriptions.csv"),
        "study_id,series_id,series_description"
    );
    assert_eq!(
        first_line("train_label_coordinates.csv"),
        "study_id,series_id,instance_number,condition,level,x,y"
    );
    // Values are the Kaggle spellings.
    let train_text = std::fs::read_to_string(out.join("train.csv")).unwrap();
    for line in train_text.lines().skip(1) {
        for cell in line.split(',').skip(1) {
            assert!(
                ["", "Normal/Mild", "Moderate", "Severe"].contains(&cell),
                "{cell}"
            );
        }
    }
    let series_text = std::fs::read_to_string(out.join("train_series_descriptions.csv")).unwrap();
    for line in series_text.lines().skip(1) {
        let description = line.rsplit(',').next().unwrap();
        assert!(["Sagittal T1", "Sagittal T2/STIR", "Axial T2"].contains(&description));
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn one_seed_gives_identical_files_whatever_the_thread_count() {
    let (a, b, c) = (temp_dir("same-a"), temp_dir("same-b"), temp_dir("other"));
    let config = SynthConfig {
        gallery: true,
        ..SynthConfig::small(3, 99)
    };
    generate(&config, &a, false, false).unwrap();
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    single
        .install(|| generate(&config, &b, false, false))
        .unwrap();
    let (tree_a, tree_b) = (read_tree(&a), read_tree(&b));
    assert!(tree_a.len() > 20);
    assert_eq!(
        tree_a.keys().collect::<Vec<_>>(),
        tree_b.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &tree_a {
        assert!(bytes == &tree_b[path], "{} differs", path.display());
    }
    generate(
        &SynthConfig {
            seed: 100,
            ..config
        },
        &c,
        false,
        false,
    )
    .unwrap();
    assert_ne!(
        std::fs::read(a.join("train.csv")).unwrap(),
        std::fs::read(c.join("train.csv")).unwrap()
    );
    for dir in [a, b, c] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn drawn_sac_area_agrees_with_the_truth_file_and_darkens_with_grade() {
    let out = temp_dir("truth");
    // Bigger matrices than the tiny config, so the sac spans enough pixels to measure.
    let config = SynthConfig {
        axial_matrix: (320, 320),
        slices_per_level: (3, 3),
        second_axial_rate: 0.0,
        prevalence: [[0.34, 0.33, 0.33]; 5],
        ..SynthConfig::small(3, 21)
    };
    generate(&config, &out, false, false).unwrap();
    let truth = std::fs::read_to_string(out.join("synth_truth.csv")).unwrap();
    let rows: Vec<Vec<String>> = truth
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let plans = plan_studies(&config).unwrap();
    let mut brightness: [Vec<f64>; 3] = Default::default();
    let mut checked = 0;
    for plan in &plans {
        for series in plan.series.iter().filter(|s| s.kind == SeriesKind::AxialT2) {
            for slice in &series.slices {
                let row = rows
                    .iter()
                    .find(|r| {
                        r[0] == plan.study_id.to_string()
                            && r[1] == series.series_id.to_string()
                            && r[2] == slice.instance_number.to_string()
                    })
                    .expect("every axial slice has a truth row");
                let truth_area: f64 = row[6].parse().unwrap();
                let rendered = plan.render_axial_slice(series, slice, true);
                let spacing = slice.plane.spacing;
                let measured: f64 = rendered
                    .slice
                    .sac_mask
                    .iter()
                    .map(|&m| m as f64)
                    .sum::<f64>()
                    * spacing
                    * spacing;
                assert!(
                    (measured - truth_area).abs() < 0.04 * truth_area,
                    "measured {measured:.1} mm² vs truth {truth_area:.1}"
                );
                // The sign in the stored file: mean stored value inside the sac, relative to
                // the slice's brightest decile, by the grade of the area.
                let path = image_path(&out, plan.study_id, series.series_id, slice.instance_number);
                let obj = dicom_object::open_file(&path).unwrap();
                let decoded = obj.decode_pixel_data().unwrap();
                let values: Vec<f64> = decoded
                    .data()
                    .chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]) as f64)
                    .collect();
                let inside: Vec<f64> = values
                    .iter()
                    .zip(&rendered.slice.sac_mask)
                    .filter(|(_, &m)| m > 0.99)
                    .map(|(&v, _)| v)
                    .collect();
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                let reference = sorted[sorted.len() * 99 / 100];
                let mean = inside.iter().sum::<f64>() / inside.len().max(1) as f64;
                let grade = severity_of_area(truth_area);
                brightness[grade.rank()].push(mean / reference);
                checked += 1;
            }
        }
    }
    assert!(checked >= 30);
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (normal, severe) = (mean(&brightness[0]), mean(&brightness[2]));
    assert!(
        !brightness[0].is_empty() && !brightness[2].is_empty() && normal > severe + 0.1,
        "relative sac brightness: Normal/Mild {normal:.2}, Severe {severe:.2}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn label_counts_match_the_requested_prevalence() {
    let config = SynthConfig {
        missing_label_rate: 0.0,
        ..SynthConfig::small(3000, 8)
    };
    let plans = plan_studies(&config).unwrap();
    for level in 0..5 {
        let mut counts = [0usize; 3];
        for plan in &plans {
            counts[plan.labels[0][level].unwrap().rank()] += 1;
        }
        for c in 0..3 {
            let p = RSNA_PREVALENCE[level][c];
            let observed = counts[c] as f64 / plans.len() as f64;
            let se = (p * (1.0 - p) / plans.len() as f64).sqrt();
            assert!(
                (observed - p).abs() < 4.0 * se + 0.005,
                "level {level} class {c}: {observed:.4} vs {p}"
            );
        }
    }
    // A different prevalence is followed too.
    let flat = SynthConfig {
        prevalence: [[0.5, 0.3, 0.2]; 5],
        ..config
    };
    let plans = plan_studies(&flat).unwrap();
    let severe = plans
        .iter()
        .flat_map(|p| p.labels[0])
        .filter(|g| *g == Some(Severity::Severe))
        .count() as f64
        / (5 * plans.len()) as f64;
    assert!((severe - 0.2).abs() < 0.015, "severe share {severe}");
}

#[test]
fn a_non_empty_folder_is_refused_unless_overwrite() {
    let out = temp_dir("refuse");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let config = SynthConfig::small(1, 1);
    let error = generate(&config, &out, false, false)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("not empty") && error.contains("--overwrite"),
        "{error}"
    );
    generate(&config, &out, true, false).unwrap();
    generate(&config, &out, true, false).unwrap();
    // Overwriting replaces the dataset and leaves other files alone.
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(out.join("train.csv").exists());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn overwrite_never_replaces_what_looks_like_the_real_download() {
    let out = temp_dir("real");
    std::fs::create_dir_all(out.join("train_images")).unwrap();
    std::fs::write(out.join("train.csv"), "study_id\n").unwrap();
    let error = generate(&SynthConfig::small(1, 1), &out, true, false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("real download"), "{error}");
    assert_eq!(
        std::fs::read_to_string(out.join("train.csv")).unwrap(),
        "study_id\n"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_unwritable_output_is_a_clear_error() {
    let base = temp_dir("unwritable");
    std::fs::create_dir_all(&base).unwrap();
    let file = base.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let error = generate(&SynthConfig::small(1, 1), &file.join("sub"), false, false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("a-file"), "{error}");
    let error = generate(&SynthConfig::small(1, 1), &file, false, false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a folder"), "{error}");
    let bad = SynthConfig {
        studies: 0,
        ..SynthConfig::small(1, 1)
    };
    assert!(generate(&bad, &base.join("x"), false, false).is_err());
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn spinal_canal_points_land_on_the_csf_of_the_sagittal_t2() {
    let out = temp_dir("points");
    let config = SynthConfig {
        sagittal_matrix: (256, 256),
        ..SynthConfig::small(3, 17)
    };
    generate(&config, &out, false, false).unwrap();
    let plans = plan_studies(&config).unwrap();
    let text = std::fs::read_to_string(out.join("train_label_coordinates.csv")).unwrap();
    let mut checked = 0;
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[3] != "Spinal Canal Stenosis" {
            continue;
        }
        let plan = plans
            .iter()
            .find(|p| p.study_id.to_string() == cells[0])
            .unwrap();
        let series = plan
            .series
            .iter()
            .find(|s| s.series_id.to_string() == cells[1])
            .unwrap();
        assert_eq!(series.kind, SeriesKind::SagittalT2);
        let slice = series
            .slices
            .iter()
            .find(|s| s.instance_number.to_string() == cells[2])
            .unwrap();
        let (x, y): (f64, f64) = (cells[5].parse().unwrap(), cells[6].parse().unwrap());
        let pixels = plan.stored_pixels(series, slice);
        let brightest = *pixels.iter().max().unwrap() as f64;
        let value = pixels[y.round() as usize * slice.plane.cols + x.round() as usize] as f64;
        assert!(
            value > 0.9 * brightest,
            "{line}: {value} vs CSF {brightest}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} canal points");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn the_stenosis_sign_survives_shrinking_the_slice_to_64_pixels() {
    use lumbar_cnn::plot::image_grid::resample_box;
    // Equal classes, so that each grade has enough slices to compare.
    let config = SynthConfig {
        axial_matrix: (384, 384),
        slices_per_level: (3, 3),
        continuous_share: 0.0,
        second_axial_rate: 0.0,
        prevalence: [[0.34, 0.33, 0.33]; 5],
        ..SynthConfig::small(6, 2)
    };
    let plans = plan_studies(&config).unwrap();
    let mut peaks: [Vec<f64>; 3] = Default::default();
    for plan in &plans {
        for series in plan.series.iter().filter(|s| s.kind == SeriesKind::AxialT2) {
            for slice in &series.slices {
                let level = slice.level.unwrap();
                let grade = severity_of_area(plan.levels[level].sac_area_mm2);
                let rendered = plan.render_axial_slice(series, slice, true);
                let (rows, cols) = (slice.plane.rows, slice.plane.cols);
                // Min-max to 0–255 as the article's PNG export does, then shrink to 64×64.
                let lo = *rendered.pixels.iter().min().unwrap() as f64;
                let hi = *rendered.pixels.iter().max().unwrap() as f64;
                let gray: Vec<u8> = rendered
                    .pixels
                    .iter()
                    .map(|&v| ((v as f64 - lo) / (hi - lo) * 255.0).round() as u8)
                    .collect();
                let small = resample_box(&gray, cols, rows, 64, 64);
                let (cx, cy) = rendered.slice.sac_centre_px;
                let (cx, cy) = (
                    (cx * 64.0 / cols as f64) as i64,
                    (cy * 64.0 / rows as f64) as i64,
                );
                let mut peak = 0u8;
                for y in cy - 1..=cy + 1 {
                    for x in cx - 1..=cx + 1 {
                        if (0..64).contains(&x) && (0..64).contains(&y) {
                            peak = peak.max(small[(y * 64 + x) as usize]);
                        }
                    }
                }
                peaks[grade.rank()].push(peak as f64);
            }
        }
    }
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let [normal, moderate, severe] = [mean(&peaks[0]), mean(&peaks[1]), mean(&peaks[2])];
    assert!(
        peaks.iter().all(|p| p.len() >= 9),
        "too few slices per grade"
    );
    assert!(
        normal > moderate + 10.0 && moderate > severe + 10.0,
        "canal brightness at 64×64: Normal/Mild {normal:.0}, Moderate {moderate:.0}, Severe {severe:.0}"
    );
}
