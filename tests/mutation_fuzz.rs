//! Seeded mutation fuzzing of the readers that meet untrusted files: the DICOM slice reader
//! (`read_slice`, used to decode the kept slices of `prepare`), the header reader
//! (`read_header`, stage 3 of `prepare`) and the three Kaggle CSV readers.
//!
//! Each case starts from a valid file, applies one or two seeded mutations (bit flips,
//! boundary bytes, truncation, element lengths, duplicated or deleted elements, RLE header and
//! run bytes, transfer syntax, VR; for the CSVs invalid UTF-8, quotes, line endings, huge
//! fields, missing columns) and requires of the reader: no panic, and either a sane result
//! (an image of `Rows × Columns` finite values) or an error that names the file (and, for a
//! CSV, the line). A panic caught by `read_slice`'s own safety net counts as a failure too:
//! every decoder panic must be refused by a check before decoding.
//!
//! `cargo test --release --test mutation_fuzz` runs a short round (60 DICOM and 60 CSV
//! mutations); `cargo test --release --test mutation_fuzz -- --ignored mutation` runs the long
//! one (2,000 of each). A failure prints the seed and the mutation index, and
//! [`dicom_case`]/[`csv_case`] with those two numbers rebuild the exact input.

use lumbar_cnn::dicom::{read_header, read_slice};
use lumbar_cnn::rsna::records::{
    read_label_coordinates, read_series_descriptions, read_train_labels, train_label_columns,
};
use lumbar_cnn::seed::mix_seed;
use lumbar_cnn::synth::dicom_writer::{encode_slice, PixelEncoding, SliceTags};
use lumbar_cnn::synth::geometry::Plane;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The seed of every round; a case is `(SEED, index)`.
const SEED: u64 = 2024;

/// A fresh, empty temporary folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lumbar-mutation-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// The largest allocation of a read: a corrupt length must not cost gigabytes
// ---------------------------------------------------------------------------------------------

/// The system allocator, noting the largest single request made by each thread.
struct LargestAllocation;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    // `try_with`: the slot may already be gone while the thread exits.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Run `read` and return its result with the largest allocation it made on this thread.
fn largest_allocation_of<T>(read: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = read();
    (out, LARGEST.with(|l| l.get()))
}

/// What reading a `file_len`-byte slice may allocate at once: its decoded image (an RLE
/// stream expands at most 64-fold, then `f32` values), or 16 MB for bookkeeping (an error's
/// backtrace, when `RUST_BACKTRACE` is set, reads debug information of a few megabytes).
fn allocation_budget(file_len: usize) -> usize {
    (16 << 20) + 512 * file_len
}

// ---------------------------------------------------------------------------------------------
// Valid starting files
// ---------------------------------------------------------------------------------------------

/// Valid slices to mutate: RLE and native, 16-bit 12 bits stored, two small sizes, as the
/// synthetic dataset writes them.
fn valid_slices() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (rows, cols) in [(24, 20), (9, 13)] {
        let plane = Plane::centred(
            [0.0, -20.0, 40.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            0.8,
            rows,
            cols,
        );
        let tags = SliceTags {
            patient_id: "1",
            study_uid: "2.25.1",
            series_uid: "2.25.2",
            sop_uid: "2.25.3",
            frame_uid: "2.25.4",
            series_number: 1,
            instance_number: 7,
            plane: &plane,
            slice_thickness: Some(4.0),
            slice_location: Some(40.0),
        };
        // Runs and literals both: a flat band, then a ramp.
        let pixels: Vec<u16> = (0..rows * cols)
            .map(|i| {
                if i % cols < 5 {
                    900
                } else {
                    ((i * 37) % 4096) as u16
                }
            })
            .collect();
        for encoding in [PixelEncoding::RleLossless, PixelEncoding::Native] {
            out.push(encode_slice(&tags, &pixels, encoding).unwrap());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// A minimal walk of an explicit VR little endian file, to aim mutations at elements
// ---------------------------------------------------------------------------------------------

/// Where one data element lies in the file.
#[derive(Debug, Clone, Copy)]
struct Element {
    /// (group, element).
    tag: (u16, u16),
    /// Offset of the tag (the element starts here).
    start: usize,
    /// Offset of the two VR characters.
    vr_at: usize,
    /// Offset and width (2 or 4 bytes) of the length field.
    length_at: usize,
    length_bytes: usize,
    /// Offset of the value and its length (`u32::MAX`: undefined, encapsulated pixel data).
    value_at: usize,
    value_len: u32,
}

impl Element {
    /// One past the element's last byte (the end of the file for undefined length).
    fn end(&self, file_len: usize) -> usize {
        if self.value_len == u32::MAX {
            file_len
        } else {
            (self.value_at + self.value_len as usize).min(file_len)
        }
    }
}

/// VRs whose length field is 4 bytes after 2 reserved ones (PS3.5 7.1.2).
fn has_long_length(vr: &[u8]) -> bool {
    matches!(
        vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

/// The top-level elements of a valid Part-10 file (meta group and data set, both explicit VR
/// little endian), up to and including the pixel data.
fn elements(bytes: &[u8]) -> Vec<Element> {
    let mut out = Vec::new();
    let mut at = 132; // 128-byte preamble + "DICM"
    while at + 8 <= bytes.len() {
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let tag = (u16_at(at), u16_at(at + 2));
        let vr = &bytes[at + 4..at + 6];
        let (length_at, length_bytes) = if has_long_length(vr) {
            (at + 8, 4)
        } else {
            (at + 6, 2)
        };
        let value_at = length_at + length_bytes;
        if value_at > bytes.len() {
            break;
        }
        let value_len = if length_bytes == 2 {
            u16_at(length_at) as u32
        } else {
            u32::from_le_bytes(bytes[length_at..value_at].try_into().unwrap())
        };
        let element = Element {
            tag,
            start: at,
            vr_at: at + 4,
            length_at,
            length_bytes,
            value_at,
            value_len,
        };
        out.push(element);
        if value_len == u32::MAX {
            break;
        }
        at = value_at + value_len as usize;
    }
    out
}

/// The first fragment of encapsulated pixel data: `(offset, length)` of the RLE frame.
fn rle_frame(bytes: &[u8], pixel_data: &Element) -> Option<(usize, usize)> {
    // Item (FFFE,E000) + length: the basic offset table, then the first fragment.
    let item = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 8)?;
        (b[..4] == [0xFE, 0xFF, 0x00, 0xE0])
            .then(|| u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize)
    };
    let table = item(pixel_data.value_at)?;
    let fragment_at = pixel_data.value_at + 8 + table;
    let len = item(fragment_at)?;
    Some((fragment_at + 8, len))
}

// ---------------------------------------------------------------------------------------------
// DICOM mutations
// ---------------------------------------------------------------------------------------------

/// Boundary byte values that decoders tend to special-case.
const BOUNDARY_BYTES: [u8; 5] = [0x00, 0x01, 0xFF, 0x7F, 0x80];

/// Transfer syntaxes to swap in: the others we read, ones we cannot, and garbage.
const SYNTAXES: [&str; 8] = [
    "1.2.840.10008.1.2",      // implicit VR little endian
    "1.2.840.10008.1.2.1",    // explicit VR little endian
    "1.2.840.10008.1.2.2",    // explicit VR big endian
    "1.2.840.10008.1.2.5",    // RLE lossless
    "1.2.840.10008.1.2.4.50", // JPEG baseline
    "1.2.840.10008.1.2.1.99", // deflated explicit VR little endian
    "1.2.840.10008.1.2.4.90", // JPEG 2000 lossless
    "9.9.9",                  // unknown
];

/// VRs to overwrite an element's VR with (short- and long-length forms, and nonsense).
const VRS: [&[u8; 2]; 10] = [
    b"US", b"UL", b"DS", b"IS", b"OB", b"OW", b"SQ", b"UN", b"CS", b"\0\0",
];

/// Replace `bytes[range]` with `with`.
fn splice(bytes: &mut Vec<u8>, range: std::ops::Range<usize>, with: &[u8]) {
    bytes.splice(range, with.iter().copied());
}

/// Apply one seeded mutation to `bytes`; returns what was done, for the failure message.
fn mutate_dicom(bytes: &mut Vec<u8>, rng: &mut StdRng) -> String {
    let elements = elements(bytes);
    let pick = |rng: &mut StdRng| elements[rng.random_range(0..elements.len())];
    let pixel_data = elements.iter().find(|e| e.tag == (0x7FE0, 0x0010)).copied();
    if bytes.is_empty() {
        bytes.push(0); // a first mutation truncated everything
    }
    // Without elements (a first mutation cut the file short), only byte-level mutations.
    let kinds = if elements.is_empty() { 3 } else { 11 };
    match rng.random_range(0..kinds) {
        0 => {
            let flips = rng.random_range(1..=8);
            let mut at = Vec::new();
            for _ in 0..flips {
                let i = rng.random_range(0..bytes.len());
                bytes[i] ^= 1 << rng.random_range(0..8);
                at.push(i);
            }
            format!("bit flips at {at:?}")
        }
        1 => {
            let i = rng.random_range(0..bytes.len());
            let n = rng.random_range(1..=4).min(bytes.len() - i);
            let v = BOUNDARY_BYTES[rng.random_range(0..BOUNDARY_BYTES.len())];
            bytes[i..i + n].fill(v);
            format!("{n} byte(s) at {i} set to {v:#04x}")
        }
        2 => {
            let at = rng.random_range(0..bytes.len());
            bytes.truncate(at);
            format!("truncated to {at} bytes")
        }
        3 => {
            let e = pick(rng);
            let huge = if e.length_bytes == 2 {
                0xFFFF
            } else {
                [0xFFFF_FFF0, 0x7FFF_FFFF, u32::MAX][rng.random_range(0..3)]
            };
            let odd = e
                .value_len
                .wrapping_add(if rng.random_bool(0.5) { 1 } else { 3 });
            let new = [huge, 0, odd, e.value_len / 2][rng.random_range(0..4)];
            let field = &mut bytes[e.length_at..e.length_at + e.length_bytes];
            field.copy_from_slice(&new.to_le_bytes()[..e.length_bytes]);
            format!("length of {:04X?} set to {new:#x}", e.tag)
        }
        4 => {
            let e = pick(rng);
            let end = e.end(bytes.len());
            let copy = bytes[e.start..end].to_vec();
            splice(bytes, end..end, &copy);
            format!("element {:04X?} duplicated", e.tag)
        }
        5 => {
            let e = pick(rng);
            let end = e.end(bytes.len());
            splice(bytes, e.start..end, &[]);
            format!("element {:04X?} deleted", e.tag)
        }
        6 | 7 => match pixel_data.and_then(|p| rle_frame(bytes, &p)) {
            Some((frame, len)) if frame + 64 <= bytes.len() => {
                if rng.random_bool(0.5) {
                    // The RLE header: segment count or one offset.
                    let word = rng.random_range(0..3);
                    let values = [0u32, 1, 2, 3, 15, 16, 255, 63, 64, 65];
                    let mut v = values[rng.random_range(0..values.len())];
                    if word > 0 && rng.random_bool(0.5) {
                        v = rng.random_range(0..(len as u32 + 200));
                    }
                    let at = frame + 4 * word;
                    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
                    format!("RLE header word {word} set to {v}")
                } else {
                    // A run's control or data byte inside a segment.
                    let at = frame + 64 + rng.random_range(0..len.saturating_sub(64).max(1));
                    let at = at.min(bytes.len() - 1);
                    let v = [0x00, 0x7F, 0x80, 0x81, 0xFF][rng.random_range(0..5)];
                    bytes[at] = v;
                    format!("RLE run byte at {at} set to {v:#04x}")
                }
            }
            _ => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
                format!("byte {i} randomised (native data: no RLE header)")
            }
        },
        8 => {
            let Some(e) = elements.iter().find(|e| e.tag == (0x0002, 0x0010)).copied() else {
                return "no transfer syntax element".into();
            };
            let uid = SYNTAXES[rng.random_range(0..SYNTAXES.len())];
            let mut value = uid.as_bytes().to_vec();
            if value.len() % 2 == 1 {
                value.push(0);
            }
            splice(bytes, e.value_at..e.end(bytes.len()), &value);
            bytes[e.length_at..e.length_at + 2]
                .copy_from_slice(&(value.len() as u16).to_le_bytes());
            // Keep the meta group length right half of the time (or it is stale too).
            let fix_group = rng.random_bool(0.5);
            if let (true, Some(g)) = (fix_group, elements.first()) {
                let old = u32::from_le_bytes(bytes[g.value_at..g.value_at + 4].try_into().unwrap());
                let new = old as i64 + value.len() as i64 - e.value_len as i64;
                bytes[g.value_at..g.value_at + 4].copy_from_slice(&(new as u32).to_le_bytes());
            }
            format!("transfer syntax set to {uid} (group length fixed: {fix_group})")
        }
        _ => {
            let e = pick(rng);
            let vr = VRS[rng.random_range(0..VRS.len())];
            bytes[e.vr_at..e.vr_at + 2].copy_from_slice(vr);
            format!(
                "VR of {:04X?} set to {:?}",
                e.tag,
                String::from_utf8_lossy(vr)
            )
        }
    }
}

/// Mutation case `index` of the round seeded with `seed`: the mutated bytes and what was done.
fn dicom_case(seed: u64, index: u64) -> (Vec<u8>, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(mix_seed(seed, index));
    let slices = valid_slices();
    let mut bytes = slices[rng.random_range(0..slices.len())].clone();
    let count = if rng.random_bool(0.7) { 1 } else { 2 };
    let done = (0..count)
        .map(|_| mutate_dicom(&mut bytes, &mut rng))
        .collect();
    (bytes, done)
}

/// Run `read` on `path`, turning a panic into `Err("panic: …")`.
fn without_panic<T>(read: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(read)).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("panic: {message}")
    })
}

/// What is wrong with how the readers handled `path`, if anything: a panic, an error that does
/// not name the file, an image that is not `Rows × Columns` finite values, or an allocation
/// out of proportion with the file's size.
fn check_dicom(path: &Path) -> Option<String> {
    let file_len = std::fs::metadata(path).unwrap().len() as usize;
    let (problem, largest) = largest_allocation_of(|| check_dicom_results(path));
    problem.or_else(|| {
        (largest > allocation_budget(file_len))
            .then(|| format!("reading a {file_len}-byte file allocated {largest} bytes at once"))
    })
}

/// [`check_dicom`] without the allocation bound.
fn check_dicom_results(path: &Path) -> Option<String> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let header = match without_panic(|| read_header(path)) {
        Err(panic) => return Some(format!("read_header: {panic}")),
        Ok(Err(e)) if !e.to_string().contains(&name) => {
            return Some(format!("read_header error does not name the file: {e}"))
        }
        Ok(header) => header,
    };
    match without_panic(|| read_slice(path)) {
        Err(panic) => Some(format!("read_slice: {panic}")),
        Ok(Err(e)) => {
            let message = e.to_string();
            if !message.contains(&name) {
                Some(format!(
                    "read_slice error does not name the file: {message}"
                ))
            } else if message.contains("pixel data decoder failed") {
                Some(format!("a decoder panic reached the safety net: {message}"))
            } else {
                None
            }
        }
        Ok(Ok(slice)) => {
            let (rows, cols) = (slice.header.rows as usize, slice.header.columns as usize);
            if slice.pixels.dim() != (rows, cols) {
                Some(format!(
                    "image is {:?}, header says {rows} × {cols}",
                    slice.pixels.dim()
                ))
            } else if slice.pixels.iter().any(|v| !v.is_finite()) {
                Some("image has non-finite values".into())
            } else if header.as_ref().ok() != Some(&slice.header) {
                Some(format!(
                    "read_header and read_slice disagree: {header:?} vs {:?}",
                    slice.header
                ))
            } else {
                None
            }
        }
    }
}

/// Run DICOM cases `0..count` of the round seeded with `seed`; panics listing every failure.
fn dicom_round(seed: u64, count: u64) {
    let dir = temp_dir(&format!("dicom-{seed}-{count}"));
    let mut failures = Vec::new();
    for index in 0..count {
        let (bytes, done) = dicom_case(seed, index);
        let path = dir.join(format!("case-{index}.dcm"));
        std::fs::write(&path, &bytes).unwrap();
        if let Some(problem) = check_dicom(&path) {
            failures.push(format!(
                "seed {seed}, mutation {index} ({}): {problem}",
                done.join("; ")
            ));
        }
        std::fs::remove_file(&path).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        failures.is_empty(),
        "{} of {count} DICOM mutations failed (rebuild one with dicom_case(seed, index)):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn mutated_dicom_slices_are_read_or_refused_by_name_short_round() {
    dicom_round(SEED, 60);
}

#[test]
#[ignore = "long: cargo test --release --test mutation_fuzz -- --ignored mutation"]
fn mutation_long_round_dicom() {
    dicom_round(SEED + 1, 2000);
}

// ---------------------------------------------------------------------------------------------
// CSV mutations
// ---------------------------------------------------------------------------------------------

/// The three Kaggle CSVs: file name and valid contents.
fn valid_csvs() -> [(&'static str, String); 3] {
    let labels = train_label_columns();
    let mut train = format!("study_id,{}\n", labels.join(","));
    for (study, first) in [(4003253, "Normal/Mild"), (4646740, "Severe"), (7143189, "")] {
        let mut cells = vec![first.to_string()];
        cells.extend((1..25).map(|i| ["Moderate", "Normal/Mild"][i % 2].to_string()));
        train.push_str(&format!("{study},{}\n", cells.join(",")));
    }
    let series = "study_id,series_id,series_description\n\
                  4003253,702807833,Sagittal T2/STIR\n\
                  4003253,1054713880,Sagittal T1\n\
                  4003253,2448190387,Axial T2\n\
                  4646740,3486248476,\"Axial T2\"\n"
        .to_string();
    let coordinates = "study_id,series_id,instance_number,condition,level,x,y\n\
                       4003253,702807833,8,Spinal Canal Stenosis,L1/L2,322.83,227.96\n\
                       4003253,2448190387,3,Left Subarticular Stenosis,L1/L2,179.37,161.99\n\
                       4646740,3486248476,11,Right Subarticular Stenosis,L5/S1,208.0,186.5\n"
        .to_string();
    [
        ("train.csv", train),
        ("train_series_descriptions.csv", series),
        ("train_label_coordinates.csv", coordinates),
    ]
}

/// Apply one seeded mutation to CSV `bytes`; returns what was done.
fn mutate_csv(bytes: &mut Vec<u8>, rng: &mut StdRng) -> String {
    let at = rng.random_range(0..=bytes.len());
    match rng.random_range(0..9) {
        0 => {
            let i = at.min(bytes.len() - 1);
            bytes[i] ^= 1 << rng.random_range(0..8);
            format!("bit flip at {i}")
        }
        1 => {
            let bad: &[u8] =
                [&[0xFF][..], &[0xC3], &[0xE2, 0x82], &[0xED, 0xA0, 0x80]][rng.random_range(0..4)];
            splice(bytes, at..at, bad);
            format!("invalid UTF-8 {bad:02X?} inserted at {at}")
        }
        2 => {
            let quote: &[u8] = [&b"\""[..], b"\"\"", b"\"x\"y", b"\n\""][rng.random_range(0..4)];
            splice(bytes, at..at, quote);
            format!("{:?} inserted at {at}", String::from_utf8_lossy(quote))
        }
        3 => {
            let ending: &[u8] = [&b"\r"[..], b"\r\n", b"\n\r"][rng.random_range(0..3)];
            let text = String::from_utf8_lossy(bytes).into_owned();
            let ending_text = String::from_utf8_lossy(ending);
            *bytes = text.replace('\n', &ending_text).into_bytes();
            format!("line endings set to {ending_text:?}")
        }
        4 => {
            let len = [1_000, 100_000, 2_000_000][rng.random_range(0..3)];
            let fill = [b'9', b'A', b','][rng.random_range(0..3)];
            splice(bytes, at..at, &vec![fill; len]);
            format!("{len} × {:?} inserted at {at}", fill as char)
        }
        5 => {
            // Drop one column of one line (the header or a row).
            let text = String::from_utf8_lossy(bytes).into_owned();
            let lines: Vec<&str> = text.split('\n').collect();
            let line = rng.random_range(0..lines.len());
            let cells: Vec<&str> = lines[line].split(',').collect();
            let drop = rng.random_range(0..cells.len());
            let kept: Vec<&str> = (0..cells.len())
                .filter(|&c| c != drop)
                .map(|c| cells[c])
                .collect();
            let mut new = lines.clone();
            let joined = kept.join(",");
            new[line] = &joined;
            *bytes = new.join("\n").into_bytes();
            format!("column {drop} of line {} removed", line + 1)
        }
        6 => {
            bytes.truncate(at);
            format!("truncated to {at} bytes")
        }
        7 => {
            let v = BOUNDARY_BYTES[rng.random_range(0..BOUNDARY_BYTES.len())];
            let i = at.min(bytes.len() - 1);
            bytes[i] = v;
            format!("byte {i} set to {v:#04x}")
        }
        _ => {
            // Duplicate a line (a study listed twice, or the header repeated).
            let text = String::from_utf8_lossy(bytes).into_owned();
            let mut lines: Vec<&str> = text.split('\n').collect();
            let line = rng.random_range(0..lines.len());
            lines.insert(line, lines[line]);
            *bytes = lines.join("\n").into_bytes();
            format!("line {} duplicated", line + 1)
        }
    }
}

/// CSV mutation case `index` of the round seeded with `seed`: which file, its mutated bytes,
/// and what was done.
fn csv_case(seed: u64, index: u64) -> (&'static str, Vec<u8>, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(mix_seed(seed, index));
    let csvs = valid_csvs();
    let (name, text) = &csvs[rng.random_range(0..csvs.len())];
    let mut bytes = text.clone().into_bytes();
    let count = if rng.random_bool(0.7) { 1 } else { 2 };
    let done = (0..count)
        .map(|_| {
            if bytes.is_empty() {
                bytes.push(b'x');
            }
            mutate_csv(&mut bytes, &mut rng)
        })
        .collect();
    (name, bytes, done)
}

/// What is wrong with how the reader of `name` handled `path`, if anything: an error must
/// begin `path:line: ` with `line` within the file.
fn check_csv(name: &str, path: &Path) -> Option<String> {
    let result = without_panic(|| match name {
        "train.csv" => read_train_labels(path).map(|r| r.len()),
        "train_series_descriptions.csv" => read_series_descriptions(path).map(|r| r.len()),
        _ => read_label_coordinates(path).map(|r| r.len()),
    });
    let message = match result {
        Err(panic) => return Some(panic),
        Ok(Ok(_)) => return None,
        Ok(Err(e)) => e.to_string(),
    };
    let prefix = format!("{}:", path.display());
    let Some(rest) = message.strip_prefix(&prefix) else {
        return Some(format!("the error does not begin with the file: {message}"));
    };
    let line: Option<u64> = rest.split(':').next().and_then(|l| l.parse().ok());
    let bytes = std::fs::read(path).unwrap();
    let lines = 1 + bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64;
    match line {
        Some(line) if (1..=lines).contains(&line) => None,
        _ => Some(format!(
            "the error does not name a line of the file: {message}"
        )),
    }
}

/// Run CSV cases `0..count` of the round seeded with `seed`; panics listing every failure.
fn csv_round(seed: u64, count: u64) {
    let dir = temp_dir(&format!("csv-{seed}-{count}"));
    let mut failures = Vec::new();
    for index in 0..count {
        let (name, bytes, done) = csv_case(seed, index);
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        if let Some(problem) = check_csv(name, &path) {
            failures.push(format!(
                "seed {seed}, mutation {index} of {name} ({}): {problem}",
                done.join("; ")
            ));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        failures.is_empty(),
        "{} of {count} CSV mutations failed (rebuild one with csv_case(seed, index)):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn mutated_csvs_are_read_or_refused_by_file_and_line_short_round() {
    csv_round(SEED, 60);
}

#[test]
#[ignore = "long: cargo test --release --test mutation_fuzz -- --ignored mutation"]
fn mutation_long_round_csv() {
    csv_round(SEED + 1, 2000);
}

#[test]
fn the_element_walk_finds_every_element_up_to_the_pixel_data() {
    // The mutations aim at elements; a walk that lost its way would aim at noise.
    for bytes in valid_slices() {
        let found = elements(&bytes);
        assert_eq!(found.first().map(|e| e.tag), Some((0x0002, 0x0000)));
        let last = found.last().unwrap();
        assert_eq!(last.tag, (0x7FE0, 0x0010));
        assert!(found.iter().any(|e| e.tag == (0x0028, 0x0010)));
    }
}

/// Write the valid starting files as the seed corpus of the cargo-fuzz targets (see
/// `fuzz/README.md`): `fuzz/corpus/dicom_slice/*.dcm`, and `fuzz/corpus/csv_readers/*`
/// whose first byte picks the reader.
#[test]
#[ignore = "writes the cargo-fuzz seeds: cargo test --release --test mutation_fuzz -- --ignored fuzz_seeds"]
fn fuzz_seeds_are_written() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let dicom = corpus.join("dicom_slice");
    std::fs::create_dir_all(&dicom).unwrap();
    for (i, bytes) in valid_slices().iter().enumerate() {
        std::fs::write(dicom.join(format!("seed-{i}.dcm")), bytes).unwrap();
    }
    let csv = corpus.join("csv_readers");
    std::fs::create_dir_all(&csv).unwrap();
    for (which, (_, text)) in valid_csvs().iter().enumerate() {
        let mut bytes = vec![which as u8];
        bytes.extend_from_slice(text.as_bytes());
        std::fs::write(csv.join(format!("seed-{which}.csv")), bytes).unwrap();
    }
}
