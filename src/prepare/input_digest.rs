//! A fingerprint of everything `lumbar prepare` reads, so that a prepared folder is reused only
//! for the same inputs, and an interrupted preparation is resumed only with them.
//!
//! The fingerprint has one part per input, so a mismatch can say what changed:
//!
//! - the bytes of each of the three CSV files;
//! - the list of DICOM files under `train_images/`: for every `.dcm` file, in order of its
//!   relative path, that path, its size in bytes and its modification time in nanoseconds.
//!   Only the file system's metadata is read (no file is opened), so listing the 35 GB of the
//!   Kaggle download costs one `stat` per file;
//! - the settings that change the output: image size, protocol, seed, split fractions,
//!   balancing, and [`OUTPUT_VERSION`].
//!
//! Each part is a 64-bit **FNV-1a** hash (Fowler, Noll & Vo; IETF draft
//! `draft-eastlake-fnv`), written as 16 hex digits. FNV-1a is not a cryptographic hash: it
//! detects changes, not tampering, which is all a cache needs.

use super::config::PrepareConfig;
use crate::error::{Error, Result};
use crate::rsna::RsnaLayout;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The version of what `prepare` writes for given inputs; part of the settings hash. Raise it
/// when a change of the code changes the PNGs or the lists, so that older caches and
/// interrupted preparations are rebuilt rather than reused (3: `sac_regions.csv`, balancing
/// copies planned instead of written; 4: `sac_regions.csv` names each region's source and has
/// the subarticular regions of the real download).
pub const OUTPUT_VERSION: u64 = 4;

/// The 64-bit FNV-1a hash: for each byte, `h = (h ⊕ byte) · 0x100000001b3`, starting from
/// `0xcbf29ce484222325`.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a64(u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Fnv1a64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a64 {
    /// Feed `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Feed a number as its 8 little-endian bytes.
    pub fn write_u64(&mut self, value: u64) {
        self.write(&value.to_le_bytes());
    }

    /// The hash of everything fed so far.
    pub fn finish(&self) -> u64 {
        self.0
    }

    /// The hash as 16 lowercase hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The fingerprint of one preparation's inputs (see the module doc); stored in `summary.json`,
/// in the marker of the staging folder and in the `prepared_from.json` of `lumbar run`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDigest {
    /// Hash of the bytes of `train.csv`.
    pub train_csv: String,
    /// Hash of the bytes of `train_series_descriptions.csv`.
    pub series_descriptions_csv: String,
    /// Hash of the bytes of `train_label_coordinates.csv`.
    pub label_coordinates_csv: String,
    /// Number of `.dcm` files under `train_images/`.
    pub dicom_files: usize,
    /// Hash of the relative path, size and modification time of every `.dcm` file.
    pub dicom_list: String,
    /// Hash of the settings (image size, protocol, seed, fractions, balancing, output version).
    pub settings: String,
}

impl InputDigest {
    /// What differs from `earlier`, one phrase per changed part (empty when they are equal),
    /// e.g. `"train.csv changed"`.
    pub fn changes_since(&self, earlier: &InputDigest) -> Vec<String> {
        let mut changes = Vec::new();
        for (name, now, then) in [
            ("train.csv", &self.train_csv, &earlier.train_csv),
            (
                "train_series_descriptions.csv",
                &self.series_descriptions_csv,
                &earlier.series_descriptions_csv,
            ),
            (
                "train_label_coordinates.csv",
                &self.label_coordinates_csv,
                &earlier.label_coordinates_csv,
            ),
        ] {
            if now != then {
                changes.push(format!("{name} changed"));
            }
        }
        if self.dicom_files != earlier.dicom_files {
            changes.push(format!(
                "the DICOM files under train_images changed ({} then, {} now)",
                earlier.dicom_files, self.dicom_files
            ));
        } else if self.dicom_list != earlier.dicom_list {
            changes.push(
                "the DICOM files under train_images changed (names, sizes or times)".to_string(),
            );
        }
        if self.settings != earlier.settings {
            changes.push(
                "the settings changed (image size, protocol, seed, split or balancing)".to_string(),
            );
        }
        changes
    }
}

/// The fingerprint of the inputs of `config`: its data folder (which must be in the RSNA
/// layout) and its settings. Reads the three CSVs and the metadata of every `.dcm` file.
pub fn input_digest(config: &PrepareConfig) -> Result<InputDigest> {
    let layout = RsnaLayout::open(&config.data_dir)?;
    let (dicom_files, dicom_list) = dicom_list_hash(&layout.images_dir())?;
    Ok(InputDigest {
        train_csv: file_hash(&layout.train_csv())?,
        series_descriptions_csv: file_hash(&layout.series_descriptions_csv())?,
        label_coordinates_csv: file_hash(&layout.label_coordinates_csv())?,
        dicom_files,
        dicom_list,
        settings: settings_hash(config),
    })
}

/// Hash of the bytes of one file, read in blocks.
fn file_hash(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hash = Fnv1a64::default();
    let mut block = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut block).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(hash.hex());
        }
        hash.write(&block[..n]);
    }
}

fn settings_hash(config: &PrepareConfig) -> String {
    let mut hash = Fnv1a64::default();
    hash.write_u64(OUTPUT_VERSION);
    hash.write_u64(config.image_size as u64);
    hash.write(config.protocol.name().as_bytes());
    hash.write_u64(config.seed);
    for fraction in [
        config.fractions.train,
        config.fractions.val,
        config.fractions.test,
    ] {
        hash.write_u64(fraction.to_bits());
    }
    hash.write(&[u8::from(config.balance)]);
    hash.hex()
}

/// One entry of the DICOM list: relative path (`/`-separated), size, modification time (ns
/// since 1970), or `None` for a folder that could not be listed.
type ListedFile = (String, Option<(u64, u128)>);

/// The number of `.dcm` files under `images` and the hash of their list. The study folders
/// are listed in parallel; a folder that cannot be listed enters the hash as such (the run
/// itself reports it when it needs that folder).
fn dicom_list_hash(images: &Path) -> Result<(usize, String)> {
    let top = std::fs::read_dir(images).map_err(|e| Error::io(images, e))?;
    let mut folders: Vec<PathBuf> = Vec::new();
    let mut listed: Vec<ListedFile> = Vec::new();
    for entry in top {
        let path = entry.map_err(|e| Error::io(images, e))?.path();
        if path.is_dir() {
            folders.push(path);
        } else {
            list_file(images, &path, &mut listed);
        }
    }
    let nested: Vec<Vec<ListedFile>> = folders
        .par_iter()
        .map(|folder| {
            let mut files = Vec::new();
            list_folder(images, folder, &mut files);
            files
        })
        .collect();
    listed.extend(nested.into_iter().flatten());
    listed.sort_unstable();
    let mut hash = Fnv1a64::default();
    let mut count = 0;
    for (path, meta) in &listed {
        hash.write(path.as_bytes());
        hash.write(&[0]);
        match meta {
            Some((size, nanos)) => {
                count += 1;
                hash.write_u64(*size);
                hash.write(&nanos.to_le_bytes());
            }
            None => hash.write(b"unlistable folder"),
        }
    }
    Ok((count, hash.hex()))
}

/// Add the `.dcm` files under `folder` (recursively) to `files`.
fn list_folder(root: &Path, folder: &Path, files: &mut Vec<ListedFile>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        files.push((relative(root, folder), None));
        return;
    };
    for entry in entries {
        let Ok(entry) = entry else {
            files.push((relative(root, folder), None));
            continue;
        };
        let path = entry.path();
        if path.is_dir() {
            list_folder(root, &path, files);
        } else {
            list_file(root, &path, files);
        }
    }
}

/// Add `path` to `files` if it is a `.dcm` file, with its size and modification time.
fn list_file(root: &Path, path: &Path, files: &mut Vec<ListedFile>) {
    let is_dicom = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dcm"));
    if !is_dicom {
        return;
    }
    let meta = std::fs::metadata(path).ok().map(|m| {
        let nanos = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        (m.len(), nanos)
    });
    files.push((relative(root, path), meta));
}

fn relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fnv(bytes: &[u8]) -> u64 {
        let mut hash = Fnv1a64::default();
        hash.write(bytes);
        hash.finish()
    }

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn changes_name_the_part_that_changed() {
        let earlier = InputDigest {
            train_csv: "1".into(),
            dicom_files: 10,
            ..Default::default()
        };
        assert!(earlier.changes_since(&earlier).is_empty());
        let later = InputDigest {
            train_csv: "2".into(),
            dicom_files: 12,
            ..earlier.clone()
        };
        assert_eq!(
            later.changes_since(&earlier),
            vec![
                "train.csv changed".to_string(),
                "the DICOM files under train_images changed (10 then, 12 now)".to_string()
            ]
        );
    }
}
