//! `synth_gallery.png`: one axial slice at the disc per grade, with its dural-sac area: the
//! whole slice, a 60 mm close-up of the canal, and the whole slice shrunk to 64×64 — the size
//! the main job trains at — to show that the sign survives.

use super::kaggle_csv::TruthRow;
use super::study_files::image_path;
use crate::error::{Error, Result};
use crate::plot::image_grid::{draw_image_grid, normalize_to_u8, resample_box, GrayTile};
use crate::rsna::{Level, Severity};
use dicom_pixeldata::PixelDecoder;
use std::path::{Path, PathBuf};

/// Typical areas (mm²) of the examples shown for Normal/Mild, Moderate and Severe (indexed by
/// [`Severity::rank`]).
const EXAMPLE_AREAS: [f64; 3] = [150.0, 87.0, 58.0];

/// Read the stored pixels of a DICOM file as `(values, rows, cols)`.
pub fn read_pixels(path: &Path) -> Result<(Vec<u16>, usize, usize)> {
    let obj = dicom_object::open_file(path)
        .map_err(|e| Error::format(path.display(), format!("cannot read DICOM: {e}")))?;
    let decoded = obj
        .decode_pixel_data()
        .map_err(|e| Error::format(path.display(), format!("cannot decode pixel data: {e}")))?;
    let (rows, cols) = (decoded.rows() as usize, decoded.columns() as usize);
    let values = decoded
        .data()
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    Ok((values, rows, cols))
}

/// Pick, per grade, the labelled disc-level slice closest to a typical area for the grade
/// (label and area agreeing), read it back from its DICOM file, and draw the gallery in `out`.
pub fn write_gallery(out: &Path, truth: &[TruthRow]) -> Result<PathBuf> {
    let mut full = Vec::new();
    let mut close = Vec::new();
    let mut small = Vec::new();
    for grade in Severity::MILDEST_FIRST {
        let best = truth
            .iter()
            .filter(|r| r.label == Some(grade) && r.area_grade == Some(grade))
            .min_by(|a, b| {
                let score = |r: &TruthRow| {
                    (r.level_area_mm2.unwrap_or(f64::INFINITY) - EXAMPLE_AREAS[grade.rank()]).abs()
                        + 3.0 * r.offset_mm.abs()
                };
                score(a).total_cmp(&score(b))
            });
        let (Some(row), Some(level)) = (best, best.and_then(|r| r.level)) else {
            continue;
        };
        let path = image_path(out, row.study_id, row.series_id, row.instance_number);
        let (values, rows, cols) = read_pixels(&path)?;
        let gray = normalize_to_u8(&values.iter().map(|&v| v as f32).collect::<Vec<_>>());
        let caption = format!(
            "{} · {} · {:.0} mm²",
            grade.csv_name(),
            Level::ALL[level].name(),
            row.sac_area_mm2
        );
        let half = (30.0 / row.spacing_mm).round() as usize;
        let (cx, cy) = (row.sac_x.round() as usize, row.sac_y.round() as usize);
        let (x0, y0) = (cx.saturating_sub(half), cy.saturating_sub(half));
        let (x1, y1) = ((cx + half).min(cols), (cy + half).min(rows));
        let crop: Vec<u8> = (y0..y1)
            .flat_map(|y| gray[y * cols + x0..y * cols + x1].iter().copied())
            .collect();
        close.push(GrayTile::new(crop, x1 - x0, y1 - y0, "canal, 60 mm field")?);
        small.push(GrayTile::new(
            resample_box(&gray, cols, rows, 64, 64),
            64,
            64,
            format!("{} at 64×64", grade.csv_name()),
        )?);
        full.push(GrayTile::new(gray, cols, rows, caption)?);
    }
    let columns = full.len().max(1);
    full.extend(close);
    full.extend(small);
    let path = out.join(super::GALLERY_FILE);
    draw_image_grid(
        &path,
        &full,
        columns,
        240,
        "Synthetic axial T2 at the disc: the dural-sac area sets the grade",
    )?;
    Ok(path)
}
