//! Build the new output beside the old one, then swap: a `prepare` into an existing `--out P`
//! either completes or leaves `P` exactly as it was.
//!
//! Three sibling folders, on the same file system so that renames are atomic:
//!
//! - `P`: the output, complete;
//! - `P.partial`: the output being built. It carries the [`InputDigest`] of its inputs in
//!   [`MARKER`]; a run with the same digest resumes it (a PNG is written atomically, so one
//!   that exists is complete), a run with another digest discards it and starts afresh;
//! - `P.old`: the previous output, only during the swap.
//!
//! The swap renames `P` to `P.old`, `P.partial` to `P`, then removes `P.old`. A crash between
//! the steps is recovered by the next run before anything else ([`OutputFolders::recover`]):
//! if `P` is missing and `P.old` exists, the crash came between the two renames, and `P.old` is
//! renamed back to `P` (the new output stays in `P.partial`, to be resumed); if both exist,
//! the crash came after the swap, and `P.old` is removed. By hand: rename `P.old` to `P` if
//! `P` is missing, otherwise delete `P.old`.
//!
//! Only folders made by `lumbar prepare` are ever renamed or removed: those holding
//! [`MARKER`], or a `manifest.csv` with the manifest's header (outputs of versions that wrote
//! no marker), or nothing at all.

use super::input_digest::InputDigest;
use super::manifest::MANIFEST_HEADER;
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The file that marks a folder as made by `lumbar prepare`; it holds the [`InputDigest`] of
/// the folder's inputs as JSON.
pub const MARKER: &str = "lumbar-prepare.json";

/// The output folder `P` of a run and its two siblings `P.partial` and `P.old`.
#[derive(Debug, Clone)]
pub struct OutputFolders {
    /// `P`, the complete output.
    pub out: PathBuf,
    /// `P.partial`, where the run writes.
    pub staging: PathBuf,
    /// `P.old`, the previous output during the swap.
    pub previous: PathBuf,
}

impl OutputFolders {
    /// The folders of `--out out`; `out` must end in a folder name (not `..` or `/`).
    pub fn new(out: &Path) -> Result<OutputFolders> {
        let name = out.file_name().ok_or_else(|| {
            Error::invalid(format!(
                "--out {}: give the output folder by name (it is built beside itself, then swapped in)",
                out.display()
            ))
        })?;
        let sibling = |suffix: &str| {
            let mut sibling = name.to_os_string();
            sibling.push(suffix);
            out.with_file_name(sibling)
        };
        Ok(OutputFolders {
            out: out.to_path_buf(),
            staging: sibling(".partial"),
            previous: sibling(".old"),
        })
    }

    /// Finish or undo a swap that a crash interrupted (see the module doc), then check that
    /// `P`, `P.partial` and `P.old` are each absent or ours. Returns what was done, if anything.
    pub fn recover(&self) -> Result<Option<String>> {
        let mut done = None;
        if self.previous.exists() {
            refuse_unless_ours(&self.previous)?;
            if self.out.exists() {
                remove_ours(&self.previous)?;
                done = Some(format!(
                    "removed {}, left by an interrupted swap",
                    self.previous.display()
                ));
            } else {
                rename(&self.previous, &self.out)?;
                done = Some(format!(
                    "restored {} from {}, left by an interrupted swap",
                    self.out.display(),
                    self.previous.display()
                ));
            }
        }
        for folder in [&self.out, &self.staging] {
            if folder.exists() {
                refuse_unless_ours(folder)?;
            }
        }
        Ok(done)
    }

    /// Make `P.partial` ready for a run with inputs `digest`: resume it if it was left by a
    /// run with the same digest (returns `true`), otherwise start it empty with its marker.
    pub fn open_staging(&self, digest: &InputDigest) -> Result<bool> {
        if self.staging.exists() {
            if marker_digest(&self.staging).as_ref() == Some(digest) {
                return Ok(true);
            }
            remove_ours(&self.staging)?;
        }
        fs::create_dir_all(&self.staging).map_err(|e| Error::io(&self.staging, e))?;
        let json = serde_json::to_string_pretty(digest)
            .map_err(|e| Error::invalid(format!("cannot serialise the input digest: {e}")))?;
        write_atomic(self.staging.join(MARKER), json.as_bytes())?;
        Ok(false)
    }

    /// Remove `P.partial` (a run that produced nothing worth resuming).
    pub fn discard_staging(&self) -> Result<()> {
        if self.staging.exists() {
            remove_ours(&self.staging)?;
        }
        Ok(())
    }

    /// Put the complete `P.partial` in place of `P` (see the module doc for the steps).
    pub fn swap_in(&self) -> Result<()> {
        if !self.out.exists() {
            rename(&self.staging, &self.out)?;
        } else if is_empty_folder(&self.out) {
            fs::remove_dir(&self.out).map_err(|e| Error::io(&self.out, e))?;
            rename(&self.staging, &self.out)?;
        } else {
            refuse_unless_ours(&self.out)?;
            rename(&self.out, &self.previous)?;
            if let Err(e) = rename(&self.staging, &self.out) {
                let _ = rename(&self.previous, &self.out);
                return Err(e);
            }
            remove_ours(&self.previous)?;
        }
        sync_parent(&self.out);
        Ok(())
    }
}

/// The digest in the marker of `folder`, if it has a readable one.
fn marker_digest(folder: &Path) -> Option<InputDigest> {
    let text = fs::read_to_string(folder.join(MARKER)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether `folder` was made by `lumbar prepare` (see the module doc).
fn is_ours(folder: &Path) -> bool {
    folder.join(MARKER).is_file() || has_our_manifest(folder) || is_empty_folder(folder)
}

fn has_our_manifest(folder: &Path) -> bool {
    let mut start = vec![0u8; MANIFEST_HEADER.len()];
    fs::File::open(folder.join("manifest.csv"))
        .and_then(|mut f| f.read_exact(&mut start))
        .is_ok_and(|()| start == MANIFEST_HEADER.as_bytes())
}

fn is_empty_folder(folder: &Path) -> bool {
    fs::read_dir(folder).is_ok_and(|mut entries| entries.next().is_none())
}

fn refuse_unless_ours(folder: &Path) -> Result<()> {
    if !folder.is_dir() {
        return Err(Error::invalid(format!(
            "{} exists and is not a folder; lumbar prepare needs this name (move the file away)",
            folder.display()
        )));
    }
    if !is_ours(folder) {
        return Err(Error::invalid(format!(
            "{} holds files that lumbar prepare did not write (no {MARKER} or manifest.csv); \
             it is left alone: choose another --out or move it away",
            folder.display()
        )));
    }
    Ok(())
}

/// Remove a folder of ours: everything but the files that make it ours first, those last, so
/// that a removal cut short still leaves a folder recognisably ours.
fn remove_ours(folder: &Path) -> Result<()> {
    refuse_unless_ours(folder)?;
    let identity = [MARKER, "manifest.csv"];
    let entries = fs::read_dir(folder).map_err(|e| Error::io(folder, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(folder, e))?;
        if identity.iter().any(|name| entry.file_name() == *name) {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(|e| Error::io(&path, e))?;
    }
    for name in identity {
        let path = folder.join(name);
        if path.exists() {
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    fs::remove_dir(folder).map_err(|e| Error::io(folder, e))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| {
        Error::io(
            from,
            std::io::Error::new(e.kind(), format!("cannot rename to {}: {e}", to.display())),
        )
    })
}

/// Flush the parent folder's entries to disk so the renames survive a power cut (best effort:
/// not every platform can open a folder for syncing).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(folder) = fs::File::open(parent) {
            let _ = folder.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lumbar-staging-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn digest(settings: &str) -> InputDigest {
        InputDigest {
            settings: settings.into(),
            ..Default::default()
        }
    }

    /// A complete output of ours holding `content` in `a.txt`.
    fn output(folder: &Path, content: &str) {
        fs::create_dir_all(folder).unwrap();
        fs::write(folder.join(MARKER), "{}").unwrap();
        fs::write(folder.join("a.txt"), content).unwrap();
    }

    #[test]
    fn a_crash_between_the_renames_restores_the_previous_output() {
        let root = temp("between");
        let folders = OutputFolders::new(&root.join("P")).unwrap();
        output(&folders.previous, "old");
        output(&folders.staging, "new");
        let done = folders.recover().unwrap().unwrap();
        assert!(done.contains("restored"), "{done}");
        assert_eq!(
            fs::read_to_string(folders.out.join("a.txt")).unwrap(),
            "old"
        );
        assert!(!folders.previous.exists());
        assert!(folders.staging.exists(), "the new output is kept to resume");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_crash_after_the_swap_removes_the_previous_output() {
        let root = temp("after");
        let folders = OutputFolders::new(&root.join("P")).unwrap();
        output(&folders.previous, "old");
        output(&folders.out, "new");
        folders.recover().unwrap().unwrap();
        assert_eq!(
            fs::read_to_string(folders.out.join("a.txt")).unwrap(),
            "new"
        );
        assert!(!folders.previous.exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn folders_not_made_by_prepare_are_left_alone() {
        let root = temp("foreign");
        let folders = OutputFolders::new(&root.join("P")).unwrap();
        fs::create_dir_all(&folders.out).unwrap();
        fs::write(folders.out.join("thesis.tex"), "mine").unwrap();
        let error = folders.recover().unwrap_err().to_string();
        assert!(error.contains("did not write"), "{error}");
        assert!(folders.swap_in().is_err());
        assert_eq!(
            fs::read_to_string(folders.out.join("thesis.tex")).unwrap(),
            "mine"
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn staging_is_resumed_only_with_the_same_digest() {
        let root = temp("resume");
        let folders = OutputFolders::new(&root.join("P")).unwrap();
        assert!(!folders.open_staging(&digest("a")).unwrap());
        fs::write(folders.staging.join("done.png"), "x").unwrap();
        assert!(folders.open_staging(&digest("a")).unwrap());
        assert!(folders.staging.join("done.png").exists());
        assert!(!folders.open_staging(&digest("b")).unwrap());
        assert!(!folders.staging.join("done.png").exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_swap_replaces_the_output_whole() {
        let root = temp("swap");
        let folders = OutputFolders::new(&root.join("P")).unwrap();
        output(&folders.out, "old");
        fs::write(folders.out.join("stale.png"), "old").unwrap();
        output(&folders.staging, "new");
        folders.swap_in().unwrap();
        assert_eq!(
            fs::read_to_string(folders.out.join("a.txt")).unwrap(),
            "new"
        );
        assert!(!folders.out.join("stale.png").exists());
        assert!(!folders.staging.exists() && !folders.previous.exists());
        fs::remove_dir_all(&root).unwrap();
    }
}
