//! RSNA CSV records and layout: bad input is an error naming the file, line and value.

mod common;

use common::temp_dir;
use lumbar_cnn::rsna::records::{
    read_label_coordinates, read_series_descriptions, read_train_labels, train_label_columns,
};
use lumbar_cnn::rsna::{Level, RsnaLayout, Severity};

fn train_csv(rows: &[&str]) -> String {
    format!(
        "study_id,{}\n{}\n",
        train_label_columns().join(","),
        rows.join("\n")
    )
}

fn row(study: u64, first: &str) -> String {
    let mut cells = vec![first.to_string()];
    cells.extend((1..25).map(|_| "Normal/Mild".to_string()));
    format!("{study},{}", cells.join(","))
}

#[test]
fn train_csv_is_read_into_table_1_labels() {
    let dir = temp_dir("csv-ok");
    let path = dir.join("train.csv");
    std::fs::write(&path, train_csv(&[&row(1, "Severe"), &row(2, "")])).unwrap();
    let labels = read_train_labels(&path).unwrap();
    assert_eq!(labels.len(), 2);
    assert_eq!(labels[0].at(Level::L1L2), Some(Severity::Severe));
    assert_eq!(labels[0].at(Level::L2L3), Some(Severity::NormalMild));
    assert_eq!(labels[1].at(Level::L1L2), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_label_names_file_line_and_value() {
    let dir = temp_dir("csv-label");
    let path = dir.join("train.csv");
    std::fs::write(&path, train_csv(&[&row(1, "Severe"), &row(2, "Mildish")])).unwrap();
    let err = read_train_labels(&path).unwrap_err().to_string();
    assert!(err.contains("train.csv:3"), "{err}");
    assert!(err.contains("Mildish"), "{err}");
    assert!(err.contains("spinal_canal_stenosis_l1_l2"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_column_is_named() {
    let dir = temp_dir("csv-column");
    let path = dir.join("train_series_descriptions.csv");
    std::fs::write(&path, "study_id,series_description\n1,Axial T2\n").unwrap();
    let err = read_series_descriptions(&path).unwrap_err().to_string();
    assert!(err.contains("train_series_descriptions.csv:1"), "{err}");
    assert!(err.contains("series_id"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_rows_are_errors_with_line_and_value() {
    let dir = temp_dir("csv-malformed");
    let path = dir.join("train_label_coordinates.csv");
    let header = "study_id,series_id,instance_number,condition,level,x,y\n";
    std::fs::write(
        &path,
        format!("{header}1,2,3,Left Subarticular Stenosis,L1/L2,1.5,2.5\n1,2,three,Left Subarticular Stenosis,L1/L2,1,2\n"),
    )
    .unwrap();
    let err = read_label_coordinates(&path).unwrap_err().to_string();
    assert!(err.contains(":3") && err.contains("three"), "{err}");

    std::fs::write(
        &path,
        format!("{header}1,2,3,Left Subarticular Stenosis,L9/L10,1,2\n"),
    )
    .unwrap();
    let err = read_label_coordinates(&path).unwrap_err().to_string();
    assert!(err.contains(":2") && err.contains("L9/L10"), "{err}");

    std::fs::write(&path, format!("{header}1,2,3\n")).unwrap();
    let err = read_label_coordinates(&path).unwrap_err().to_string();
    assert!(err.contains("train_label_coordinates.csv:2"), "{err}");

    std::fs::write(
        &path,
        format!("{header}1,2,3,Left Subarticular Stenosis,L4/L5,10,20\n"),
    )
    .unwrap();
    let points = read_label_coordinates(&path).unwrap();
    assert_eq!(points[0].level, Level::L4L5);
    assert!(points[0].is_subarticular());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_folder_not_in_the_layout_says_what_it_expected() {
    let dir = temp_dir("layout");
    std::fs::write(dir.join("train.csv"), "study_id\n").unwrap();
    let err = RsnaLayout::open(&dir).unwrap_err().to_string();
    assert!(err.contains("train_series_descriptions.csv"), "{err}");
    assert!(err.contains("train_images"), "{err}");
    assert!(err.contains("expected"), "{err}");
    let err = RsnaLayout::open(dir.join("nope")).unwrap_err().to_string();
    assert!(err.contains("not a folder"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn series_files_sort_numerically() {
    let dir = temp_dir("numeric");
    let series = dir.join("train_images/1/2");
    std::fs::create_dir_all(&series).unwrap();
    for n in ["10", "2", "1", "33"] {
        std::fs::write(series.join(format!("{n}.dcm")), b"").unwrap();
    }
    for f in [
        "train.csv",
        "train_series_descriptions.csv",
        "train_label_coordinates.csv",
    ] {
        std::fs::write(dir.join(f), "").unwrap();
    }
    let files = RsnaLayout::open(&dir).unwrap().series_files(1, 2).unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["1.dcm", "2.dcm", "10.dcm", "33.dcm"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn line_numbers_are_right_with_windows_and_old_mac_line_endings() {
    let dir = temp_dir("csv-line-endings");
    let rows = [row(1, "Severe"), row(2, "Moderate"), row(3, "Mildish")];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    for (name, ending) in [("unix", "\n"), ("windows", "\r\n"), ("mac", "\r")] {
        let path = dir.join(format!("train-{name}.csv"));
        std::fs::write(&path, train_csv(&rows).replace('\n', ending)).unwrap();
        let err = read_train_labels(&path).unwrap_err().to_string();
        // Header on line 1, studies 1, 2, 3 on lines 2, 3, 4: the bad cell is on line 4.
        assert!(
            err.contains(&format!("train-{name}.csv:4:")),
            "{name}: {err}"
        );
        assert!(err.contains("Mildish"), "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_study_listed_twice_with_other_labels_is_a_conflict_and_an_exact_repeat_is_not() {
    let dir = temp_dir("csv-duplicates");
    let path = dir.join("train.csv");
    std::fs::write(
        &path,
        train_csv(&[&row(1, "Severe"), &row(2, ""), &row(1, "Moderate")]),
    )
    .unwrap();
    let err = read_train_labels(&path).unwrap_err().to_string();
    assert!(err.contains("train.csv:4"), "{err}");
    assert!(
        err.contains("other spinal canal labels than on line 2"),
        "{err}"
    );

    std::fs::write(&path, train_csv(&[&row(1, "Severe"), &row(1, "Severe")])).unwrap();
    let labels = read_train_labels(&path).unwrap();
    assert_eq!(labels.len(), 1, "an exact repeat is kept once");
    std::fs::remove_dir_all(&dir).unwrap();
}
