//! Test fixtures for the data pipeline: tiny Part-10 DICOM files (explicit VR little endian
//! native and RLE Lossless, written with dicom-object) and a small RSNA-layout tree with a
//! known answer key.
#![allow(dead_code)]

use dicom_core::value::{PixelFragmentSequence, PrimitiveValue};
use dicom_core::{DataElement, DicomValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use lumbar_cnn::rsna::{Level, Severity};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Explicit VR Little Endian.
pub const NATIVE: &str = "1.2.840.10008.1.2.1";
/// RLE Lossless.
pub const RLE: &str = "1.2.840.10008.1.2.5";

/// A fresh, empty temporary folder unique to this process and `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lumbar-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Everything a test slice needs in its header; `None` leaves the tag out.
#[derive(Debug, Clone)]
pub struct SliceSpec {
    pub transfer_syntax: &'static str,
    pub rows: usize,
    pub cols: usize,
    /// Stored values (12 significant bits), row-major.
    pub pixels: Vec<u16>,
    pub instance_number: Option<i64>,
    pub image_position: Option<[f64; 3]>,
    pub image_orientation: Option<[f64; 6]>,
    pub pixel_spacing: [f64; 2],
    pub slice_location: Option<f64>,
    pub slice_thickness: Option<f64>,
    pub rescale: Option<(f64, f64)>,
    pub modality: Option<&'static str>,
    pub series_description: Option<&'static str>,
}

impl SliceSpec {
    /// A plain axial slice with a ramp image.
    pub fn simple(transfer_syntax: &'static str, rows: usize, cols: usize) -> SliceSpec {
        SliceSpec {
            transfer_syntax,
            rows,
            cols,
            pixels: (0..rows * cols).map(|i| ((i * 37) % 4096) as u16).collect(),
            instance_number: Some(1),
            image_position: Some([-100.0, -100.0, 20.0]),
            image_orientation: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            pixel_spacing: [0.8, 0.8],
            slice_location: Some(20.0),
            slice_thickness: Some(4.0),
            rescale: None,
            modality: Some("MR"),
            series_description: Some("Axial T2"),
        }
    }
}

fn ds(values: &[f64]) -> PrimitiveValue {
    PrimitiveValue::Strs(values.iter().map(|v| format!("{v:.6}")).collect())
}

/// DICOM RLE Lossless encoding of 16-bit samples: two byte segments (high bytes, then low
/// bytes), each PackBits-encoded with literal runs only, behind the 64-byte RLE header.
pub fn rle_encode_u16(pixels: &[u16]) -> Vec<u8> {
    let planes: [Vec<u8>; 2] = [
        pixels.iter().map(|p| (p >> 8) as u8).collect(),
        pixels.iter().map(|p| (p & 0xFF) as u8).collect(),
    ];
    let segments: Vec<Vec<u8>> = planes
        .iter()
        .map(|plane| {
            let mut seg = Vec::new();
            for chunk in plane.chunks(128) {
                seg.push((chunk.len() - 1) as u8); // literal run of chunk.len() bytes
                seg.extend_from_slice(chunk);
            }
            if seg.len() % 2 == 1 {
                seg.push(0);
            }
            seg
        })
        .collect();
    let mut out = Vec::new();
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    let mut offset = 64u32;
    for i in 0..15 {
        if i < segments.len() {
            out.extend_from_slice(&offset.to_le_bytes());
            offset += segments[i].len() as u32;
        } else {
            out.extend_from_slice(&0u32.to_le_bytes());
        }
    }
    for s in segments {
        out.extend_from_slice(&s);
    }
    out
}

/// Write `spec` as a Part-10 MR image file.
pub fn write_dicom(path: &Path, spec: &SliceSpec) {
    assert_eq!(spec.pixels.len(), spec.rows * spec.cols);
    let sop_instance = format!("2.25.{}", rand::random::<u64>());
    let mut obj = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.4"),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, sop_instance.as_str()),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
        DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(spec.rows as u16)),
        DataElement::new(
            tags::COLUMNS,
            VR::US,
            PrimitiveValue::from(spec.cols as u16),
        ),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(12u16)),
        DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(11u16)),
        DataElement::new(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ),
        DataElement::new(tags::PIXEL_SPACING, VR::DS, ds(&spec.pixel_spacing)),
    ]);
    if let Some(n) = spec.instance_number {
        obj.put(DataElement::new(
            tags::INSTANCE_NUMBER,
            VR::IS,
            n.to_string().as_str(),
        ));
    }
    if let Some(p) = spec.image_position {
        obj.put(DataElement::new(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            ds(&p),
        ));
    }
    if let Some(o) = spec.image_orientation {
        obj.put(DataElement::new(
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            ds(&o),
        ));
    }
    if let Some(l) = spec.slice_location {
        obj.put(DataElement::new(tags::SLICE_LOCATION, VR::DS, ds(&[l])));
    }
    if let Some(t) = spec.slice_thickness {
        obj.put(DataElement::new(tags::SLICE_THICKNESS, VR::DS, ds(&[t])));
    }
    if let Some((slope, intercept)) = spec.rescale {
        obj.put(DataElement::new(tags::RESCALE_SLOPE, VR::DS, ds(&[slope])));
        obj.put(DataElement::new(
            tags::RESCALE_INTERCEPT,
            VR::DS,
            ds(&[intercept]),
        ));
    }
    if let Some(m) = spec.modality {
        obj.put(DataElement::new(tags::MODALITY, VR::CS, m));
    }
    if let Some(d) = spec.series_description {
        obj.put(DataElement::new(tags::SERIES_DESCRIPTION, VR::LO, d));
    }
    match spec.transfer_syntax {
        RLE => {
            let fragment = rle_encode_u16(&spec.pixels);
            let sequence = PixelFragmentSequence::new(Vec::<u32>::new(), vec![fragment]);
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                DicomValue::from(sequence),
            ));
        }
        _ => {
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16(spec.pixels.iter().copied().collect()),
            ));
        }
    }
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(spec.transfer_syntax))
        .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    file.write_to_file(path).unwrap();
}

/// One slice of the fixture with its true level.
#[derive(Debug, Clone, PartialEq)]
pub struct TrueSlice {
    pub study_id: u64,
    pub series_id: u64,
    pub instance: i64,
    pub level: Level,
    /// The study's spinal canal label at `level` (`None` = missing in train.csv).
    pub label: Option<Severity>,
    /// False for a file the pipeline must skip (truncated pixel data).
    pub readable: bool,
}

/// A small RSNA-layout tree and its answer key.
pub struct Fixture {
    pub root: PathBuf,
    /// Every valid axial slice written (one per file).
    pub slices: Vec<TrueSlice>,
    /// Files that must be skipped: the garbage `.dcm` and the truncated one.
    pub bad_files: Vec<PathBuf>,
    /// A series described as `Axial T2` whose slices are sagittal.
    pub non_axial_series: (u64, u64),
    /// Spinal canal labels per study.
    pub labels: HashMap<u64, [Option<Severity>; 5]>,
}

impl Fixture {
    /// The true slice of `(series, instance)`.
    pub fn truth(&self, series_id: u64, instance: i64) -> Option<&TrueSlice> {
        self.slices
            .iter()
            .find(|s| s.series_id == series_id && s.instance == instance)
    }
}

/// Number of studies in the fixture.
pub const STUDIES: u64 = 12;

/// Severity of study `s` at level `l` in the fixture: mostly Normal/Mild, Moderate and Severe
/// spread so that at least four studies carry each.
fn fixture_label(s: u64, l: usize) -> Option<Severity> {
    if s == 3 && l == 2 {
        return None; // the missing label
    }
    Some(match (s + l as u64) % 6 {
        0 if s.is_multiple_of(2) => Severity::Severe,
        1 if !s.is_multiple_of(3) => Severity::Moderate,
        _ => Severity::NormalMild,
    })
}

/// Build the fixture tree under a fresh temp folder named after `name`:
/// 12 studies, each with one Axial T2 series (study 5 has two) of 5 disc levels × 3–4
/// slices, every level its own oblique stack, +z toward the head, shuffled instance numbers,
/// native or RLE by study, some studies without SliceLocation/Modality/SeriesDescription, one
/// level with a different matrix size, a sagittal series (ignored), a series described as
/// axial whose slices are sagittal, a garbage `.dcm`, a truncated `.dcm` and a missing label.
pub fn build_fixture(name: &str) -> Fixture {
    build_fixture_with(name, STUDIES, 32)
}

/// [`build_fixture`] with `studies` studies (at least 12 keeps every class in every split)
/// and `matrix × matrix` images (one level of some series is 5/4 larger).
pub fn build_fixture_with(name: &str, studies: u64, matrix: usize) -> Fixture {
    let root = temp_dir(name);
    let images = root.join("train_images");
    let mut rng = StdRng::seed_from_u64(2024);
    let mut slices = Vec::new();
    let mut bad_files = Vec::new();
    let mut series_rows = Vec::new();
    let mut coordinate_rows = Vec::new();
    let mut labels = HashMap::new();
    let non_axial_series = (1000 + 7, 7_000_002);
    for s in 0..studies {
        let study = 1000 + s;
        let study_labels: [Option<Severity>; 5] = std::array::from_fn(|l| fixture_label(s, l));
        labels.insert(study, study_labels);
        let n_axial = if s == 5 { 2 } else { 1 };
        for a in 0..n_axial {
            let series = s * 1000 + 10 + a;
            series_rows.push(format!("{study},{series},Axial T2"));
            let syntax = if (s + a) % 2 == 0 { RLE } else { NATIVE };
            let table_z = rng.random_range(-350.0..150.0);
            let (x0, y0) = (rng.random_range(-20.0..20.0), rng.random_range(-30.0..10.0));
            // Slices of the series: (level, centre, tilt, size).
            let mut planned = Vec::new();
            for l in 0..5 {
                let z = table_z + (4 - l) as f64 * 38.0 + rng.random_range(-3.0..3.0);
                let tilt: f64 = [-20.0, -9.0, 0.0, 10.0, 21.0][l] + rng.random_range(-3.0..3.0);
                let count = 3 + (s as usize + l) % 2;
                let size = if l == 3 && s % 4 == 1 {
                    matrix * 5 / 4
                } else {
                    matrix
                };
                for k in 0..count {
                    let t = tilt.to_radians();
                    let normal = [0.0, t.sin(), t.cos()];
                    let d = (k as f64 - (count as f64 - 1.0) / 2.0) * 4.0;
                    let centre = [x0 + d * normal[0], y0 + d * normal[1], z + d * normal[2]];
                    planned.push((l, centre, tilt, size));
                }
            }
            let mut numbers: Vec<i64> = (1..=planned.len() as i64).collect();
            numbers.shuffle(&mut rng);
            let truncated_index = if s == 2 { Some(4) } else { None };
            let dir = images.join(study.to_string()).join(series.to_string());
            for (i, ((l, centre, tilt, size), instance)) in planned.iter().zip(&numbers).enumerate()
            {
                let t = tilt.to_radians();
                let row = [1.0, 0.0, 0.0];
                let col = [0.0, t.cos(), -t.sin()];
                let spacing = 192.0 / *size as f64;
                let half = (*size as f64 - 1.0) / 2.0 * spacing;
                let ipp = [
                    centre[0] - row[0] * half - col[0] * half,
                    centre[1] - row[1] * half - col[1] * half,
                    centre[2] - row[2] * half - col[2] * half,
                ];
                let mut spec = SliceSpec::simple(syntax, *size, *size);
                spec.pixels = (0..size * size)
                    .map(|p| {
                        let (r, c) = ((p / size) as f64, (p % size) as f64);
                        let m = *size as f64 / 2.0;
                        let disc = ((r - m).powi(2) + (c - m).powi(2)).sqrt() < m * 0.6;
                        (if disc { 2500 } else { 600 } + rng.random_range(0..400)) as u16
                    })
                    .collect();
                spec.instance_number = Some(*instance);
                spec.image_position = Some(ipp);
                spec.image_orientation = Some([row[0], row[1], row[2], col[0], col[1], col[2]]);
                spec.pixel_spacing = [spacing, spacing];
                spec.slice_location = (s % 3 != 0).then_some(centre[2]);
                spec.modality = (s % 4 != 0).then_some("MR");
                spec.series_description = (s % 5 != 0).then_some("Axial T2");
                spec.slice_thickness = (s % 2 == 0).then_some(4.0);
                spec.rescale = (s % 3 == 1).then_some((2.0, -50.0));
                let path = dir.join(format!("{instance}.dcm"));
                write_dicom(&path, &spec);
                let readable = truncated_index != Some(i);
                if !readable {
                    let bytes = std::fs::read(&path).unwrap();
                    std::fs::write(&path, &bytes[..bytes.len() - 700]).unwrap();
                    bad_files.push(path.clone());
                }
                slices.push(TrueSlice {
                    study_id: study,
                    series_id: series,
                    instance: *instance,
                    level: Level::ALL[*l],
                    label: study_labels[*l],
                    readable,
                });
            }
            // Subarticular points name the middle slice of each level.
            for l in 0..5 {
                let of_level: Vec<&TrueSlice> = slices
                    .iter()
                    .filter(|t| t.series_id == series && t.level == Level::ALL[l])
                    .collect();
                let middle = of_level[of_level.len() / 2].instance;
                for side in ["Left", "Right"] {
                    coordinate_rows.push(format!(
                        "{study},{series},{middle},{side} Subarticular Stenosis,{},15.5,16.25",
                        Level::ALL[l].name()
                    ));
                }
            }
            if s == 6 {
                let garbage = dir.join("999.dcm");
                std::fs::write(&garbage, b"DICM? no, just some bytes that are not DICOM").unwrap();
                bad_files.push(garbage);
            }
        }
        // A sagittal series, listed as such (never read).
        let sagittal = s * 1000 + 1;
        series_rows.push(format!("{study},{sagittal},Sagittal T2/STIR"));
        let mut spec = SliceSpec::simple(NATIVE, 16, 16);
        spec.image_orientation = Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
        write_dicom(
            &images
                .join(study.to_string())
                .join(sagittal.to_string())
                .join("1.dcm"),
            &spec,
        );
        coordinate_rows.push(format!(
            "{study},{sagittal},1,Spinal Canal Stenosis,L1/L2,8.0,8.0"
        ));
    }
    // A series described as Axial T2 whose slices are sagittal.
    let (study, series) = non_axial_series;
    series_rows.push(format!("{study},{series},Axial T2"));
    for i in 1..=6 {
        let mut spec = SliceSpec::simple(NATIVE, 16, 16);
        spec.instance_number = Some(i);
        spec.image_orientation = Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
        spec.image_position = Some([i as f64 * 4.0, -80.0, 80.0]);
        write_dicom(
            &images
                .join(study.to_string())
                .join(series.to_string())
                .join(format!("{i}.dcm")),
            &spec,
        );
    }
    // The CSVs.
    let columns = lumbar_cnn::rsna::records::train_label_columns();
    let mut train = format!("study_id,{}\n", columns.join(","));
    for s in 0..studies {
        let study = 1000 + s;
        let l = labels[&study];
        let mut cells: Vec<String> = l
            .iter()
            .map(|v| v.map(|x| x.csv_name()).unwrap_or("").to_string())
            .collect();
        cells.extend((5..25).map(|_| "Normal/Mild".to_string()));
        train.push_str(&format!("{study},{}\n", cells.join(",")));
    }
    std::fs::write(root.join("train.csv"), train).unwrap();
    std::fs::write(
        root.join("train_series_descriptions.csv"),
        format!(
            "study_id,series_id,series_description\n{}\n",
            series_rows.join("\n")
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("train_label_coordinates.csv"),
        format!(
            "study_id,series_id,instance_number,condition,level,x,y\n{}\n",
            coordinate_rows.join("\n")
        ),
    )
    .unwrap();
    Fixture {
        root,
        slices,
        bad_files,
        non_axial_series,
        labels,
    }
}
