//! Does every element of a file fit in the file? Checked before the DICOM parser reads it.
//!
//! `dicom-parser` 0.10 allocates (and zero-fills) an element's declared length before it reads
//! the value, so a corrupt length field (a flipped bit in a 3 KB file can declare 1.5 GB, and
//! `FFFFFFF0h` declares 4 GB) costs gigabytes of memory per file before the read fails, on
//! every thread reading headers. This walk reads only the tags and length fields (seeking over
//! the values) and refuses a file in which any element, item or fragment declares more bytes
//! than remain. Encodings (DICOM PS3.5 7.1 and 7.5): the file meta group in explicit VR little
//! endian, then the data set in the transfer syntax's encoding; sequences and items of defined
//! or undefined length are walked into, since the parser reads their elements one by one.
//!
//! A file the walk cannot follow (no `DICM` magic, a deflated data set) is left to the parser,
//! which reports it.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use std::io::{Read, Seek, SeekFrom};

/// A declared length of `FFFFFFFFh`: a sequence or item ended by a delimiter.
const UNDEFINED: u32 = u32::MAX;

/// Sequences nested deeper than this are refused (real files nest a few levels).
const MAX_DEPTH: usize = 64;

/// How the data set is encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    ExplicitLittle,
    ImplicitLittle,
    ExplicitBig,
}

/// Check that every element of the DICOM Part-10 stream `source` (`file_len` bytes long)
/// declares at most the bytes that remain after it. The error is the reason, in words, for
/// the caller to prefix with the file name; an I/O error while walking is left to the parser.
pub fn check_element_lengths<R: Read + Seek>(source: R, file_len: u64) -> Result<(), String> {
    let mut walk = Walk {
        source,
        at: 0,
        file_len,
        encoding: Encoding::ExplicitLittle,
    };
    match walk.file() {
        Ok(()) | Err(Stop::Unfollowable) => Ok(()),
        Err(Stop::Refused(reason)) => Err(reason),
    }
}

/// Why the walk ended early.
enum Stop {
    /// The file cannot be walked (not Part 10, end of file, deflated): the parser decides.
    Unfollowable,
    /// An element declares more than the file holds, or a length no value can have: the
    /// reason.
    Refused(String),
}

impl From<std::io::Error> for Stop {
    fn from(_: std::io::Error) -> Stop {
        Stop::Unfollowable
    }
}

/// A position in the file being walked.
struct Walk<R> {
    source: R,
    at: u64,
    file_len: u64,
    encoding: Encoding,
}

/// One element header: tag, VR (if explicit), declared length.
struct Header {
    tag: Tag,
    vr: Option<VR>,
    length: u32,
}

impl<R: Read + Seek> Walk<R> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], Stop> {
        let mut b = [0u8; N];
        self.source.read_exact(&mut b)?;
        self.at += N as u64;
        Ok(b)
    }

    fn u16(&mut self, big: bool) -> Result<u16, Stop> {
        let b = self.bytes::<2>()?;
        Ok(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&mut self, big: bool) -> Result<u32, Stop> {
        let b = self.bytes::<4>()?;
        Ok(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// Preamble and magic, the meta group, then the data set.
    fn file(&mut self) -> Result<(), Stop> {
        let mut start = [0u8; 132];
        self.source.read_exact(&mut start)?;
        let after_magic = if &start[128..132] == b"DICM" {
            132
        } else if &start[..4] == b"DICM" {
            4
        } else {
            return Err(Stop::Unfollowable);
        };
        self.source.seek(SeekFrom::Start(after_magic))?;
        self.at = after_magic;
        let syntax = self.meta_group()?;
        self.encoding = match syntax.as_str() {
            "1.2.840.10008.1.2" => Encoding::ImplicitLittle,
            "1.2.840.10008.1.2.2" => Encoding::ExplicitBig,
            "1.2.840.10008.1.2.1.99" => return Err(Stop::Unfollowable), // deflated
            _ => Encoding::ExplicitLittle, // explicit VR LE and every encapsulated syntax
        };
        self.elements(None, 0)
    }

    /// The group-2 elements (explicit VR little endian), as far as the group length says (as
    /// `dicom-object` reads them); returns the transfer syntax UID.
    fn meta_group(&mut self) -> Result<String, Stop> {
        let first = self.header(Encoding::ExplicitLittle)?;
        if first.tag != Tag(0x0002, 0x0000) || first.length != 4 {
            return Err(Stop::Unfollowable); // the parser refuses it with its own words
        }
        let group_length = self.u32(false)? as u64;
        let start = self.at;
        let mut syntax = String::new();
        while self.at - start < group_length {
            let header = self.header(Encoding::ExplicitLittle)?;
            self.fits(&header)?;
            if header.tag == Tag(0x0002, 0x0010) && header.length <= 64 {
                let mut uid = vec![0u8; header.length as usize];
                self.source.read_exact(&mut uid)?;
                self.at += uid.len() as u64;
                syntax = String::from_utf8_lossy(&uid)
                    .trim_end_matches(['\0', ' '])
                    .to_string();
            } else if header.length == UNDEFINED {
                return Err(Stop::Unfollowable);
            } else {
                self.skip(header.length)?;
            }
        }
        Ok(syntax)
    }

    /// Read one element header in `encoding` (items and delimiters have no VR).
    fn header(&mut self, encoding: Encoding) -> Result<Header, Stop> {
        let big = encoding == Encoding::ExplicitBig;
        let tag = Tag(self.u16(big)?, self.u16(big)?);
        if tag.group() == 0xFFFE || encoding == Encoding::ImplicitLittle {
            let length = self.u32(big)?;
            return Ok(Header {
                tag,
                vr: None,
                length,
            });
        }
        // An unknown VR is read as UN, as the parser does.
        let vr = VR::from_binary(self.bytes::<2>()?).unwrap_or(VR::UN);
        let long = matches!(
            vr,
            VR::OB
                | VR::OD
                | VR::OF
                | VR::OL
                | VR::OV
                | VR::OW
                | VR::SQ
                | VR::SV
                | VR::UC
                | VR::UN
                | VR::UR
                | VR::UT
                | VR::UV
        );
        let length = if long {
            self.bytes::<2>()?; // reserved
            self.u32(big)?
        } else {
            self.u16(big)? as u32
        };
        Ok(Header {
            tag,
            vr: Some(vr),
            length,
        })
    }

    /// Refuse a defined length beyond the end of the file.
    fn fits(&self, header: &Header) -> Result<(), Stop> {
        let left = self.file_len.saturating_sub(self.at);
        if header.length != UNDEFINED && header.length as u64 > left {
            let Tag(group, element) = header.tag;
            return Err(Stop::Refused(format!(
                "element ({group:04X},{element:04X}) declares {} bytes, but only {left} remain in \
                 the file (a corrupt length or a truncated file)",
                header.length
            )));
        }
        Ok(())
    }

    /// Step over a value: a short one is read (a seek would throw away the read buffer, and
    /// header values are short), a long one (pixel data) is seeked over.
    fn skip(&mut self, length: u32) -> Result<(), Stop> {
        const READ_BELOW: usize = 4096;
        if (length as usize) < READ_BELOW {
            let mut value = [0u8; READ_BELOW];
            self.source.read_exact(&mut value[..length as usize])?;
        } else {
            self.source.seek(SeekFrom::Current(length as i64))?;
        }
        self.at += length as u64;
        Ok(())
    }

    /// Whether the element holds a sequence of items (which the parser reads one by one): an
    /// `SQ`, or any element of undefined length besides the pixel data (the parser reads
    /// those as sequences too, whatever their VR).
    fn is_sequence(&self, header: &Header) -> bool {
        header.length == UNDEFINED
            || match header.vr {
                Some(vr) => vr == VR::SQ,
                None => StandardDataDictionary
                    .by_tag(header.tag)
                    .is_some_and(|e| matches!(e.vr(), VirtualVr::Exact(VR::SQ))),
            }
    }

    /// Elements up to `end` (a defined-length item), an item delimiter (an undefined-length
    /// item) or the end of the file (the data set).
    fn elements(&mut self, end: Option<u64>, depth: usize) -> Result<(), Stop> {
        while end.is_none_or(|end| self.at < end) {
            let header = match self.header(self.encoding) {
                Ok(h) => h,
                Err(Stop::Unfollowable) if end.is_none() => return Ok(()), // end of data set
                Err(stop) => return Err(stop),
            };
            if header.tag == Tag(0xFFFE, 0xE00D) {
                return Ok(()); // item delimitation
            }
            self.fits(&header)?;
            if header.tag == Tag(0x7FE0, 0x0010) && header.length == UNDEFINED {
                self.fragments()?;
            } else if self.is_sequence(&header) {
                self.items(&header, depth + 1)?;
            } else {
                self.whole_values(&header)?;
                self.skip(header.length)?;
            }
        }
        Ok(())
    }

    /// Refuse a binary value whose length is not a whole number of values (a `US` of 3
    /// bytes): the parser reads the whole values only and then loses its place in the file,
    /// reading value bytes as the next tag and length.
    fn whole_values(&self, header: &Header) -> Result<(), Stop> {
        let vr = match header.vr {
            Some(vr) => Some(vr),
            None => match StandardDataDictionary.by_tag(header.tag).map(|e| e.vr()) {
                Some(VirtualVr::Exact(vr)) => Some(vr),
                Some(_) => Some(VR::OW), // US or SS, OB or OW: an even length either way
                None => None,
            },
        };
        let size = match vr {
            Some(VR::US | VR::SS | VR::OW) => 2,
            Some(VR::AT | VR::UL | VR::SL | VR::FL | VR::OF | VR::OL) => 4,
            Some(VR::FD | VR::OD | VR::SV | VR::UV | VR::OV) => 8,
            _ => return Ok(()),
        };
        if !header.length.is_multiple_of(size) {
            let Tag(group, element) = header.tag;
            return Err(Stop::Refused(format!(
                "element ({group:04X},{element:04X}) of VR {} has length {}, not a multiple of \
                 {size} (a corrupt length or VR)",
                vr.map_or("?", |v| v.to_string()),
                header.length
            )));
        }
        Ok(())
    }

    /// The items of a sequence, up to its defined end or its sequence delimiter.
    fn items(&mut self, sequence: &Header, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop::Refused(format!(
                "sequences nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let end = (sequence.length != UNDEFINED).then(|| self.at + sequence.length as u64);
        while end.is_none_or(|end| self.at < end) {
            let item = self.header(self.encoding)?;
            match item.tag {
                Tag(0xFFFE, 0xE0DD) => return Ok(()), // sequence delimitation
                Tag(0xFFFE, 0xE000) => {
                    self.fits(&item)?;
                    let item_end = (item.length != UNDEFINED).then(|| self.at + item.length as u64);
                    self.elements(item_end, depth)?;
                }
                _ => return Err(Stop::Unfollowable),
            }
        }
        Ok(())
    }

    /// Encapsulated pixel data: the offset table and fragments, each an item of raw bytes.
    fn fragments(&mut self) -> Result<(), Stop> {
        loop {
            let item = self.header(Encoding::ExplicitLittle)?;
            if item.tag == Tag(0xFFFE, 0xE0DD) {
                return Ok(());
            }
            self.fits(&item)?;
            self.skip(item.length)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A Part-10 file: preamble, magic, a meta group naming `syntax`, then `data_set`.
    fn file(syntax: &str, data_set: &[u8]) -> Vec<u8> {
        let mut uid = syntax.as_bytes().to_vec();
        if uid.len() % 2 == 1 {
            uid.push(0);
        }
        let mut out = vec![0u8; 128];
        out.extend_from_slice(b"DICM");
        out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
        out.extend_from_slice(&(8 + uid.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        out.extend_from_slice(&(uid.len() as u16).to_le_bytes());
        out.extend_from_slice(&uid);
        out.extend_from_slice(data_set);
        out
    }

    fn check(bytes: &[u8]) -> Result<(), String> {
        check_element_lengths(Cursor::new(bytes), bytes.len() as u64)
    }

    /// Explicit VR little endian `(0010,0010) PN` of declared `length` with `value`.
    fn patient_name(length: u16, value: &[u8]) -> Vec<u8> {
        let mut out = vec![0x10, 0x00, 0x10, 0x00, b'P', b'N'];
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn a_file_whose_elements_fit_passes() {
        let f = file("1.2.840.10008.1.2.1", &patient_name(4, b"DOE^"));
        assert_eq!(check(&f), Ok(()));
    }

    #[test]
    fn a_length_beyond_the_end_of_the_file_is_refused() {
        let f = file("1.2.840.10008.1.2.1", &patient_name(40, b"DOE^"));
        let err = check(&f).unwrap_err();
        assert!(
            err.contains("(0010,0010) declares 40 bytes, but only 4 remain"),
            "{err}"
        );
    }

    #[test]
    fn an_implicit_vr_length_of_4_gb_is_refused() {
        // (0010,0010), 4-byte length FFFFFFF0h, implicit VR little endian.
        let mut data = vec![0x10, 0x00, 0x10, 0x00];
        data.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let err = check(&file("1.2.840.10008.1.2", &data)).unwrap_err();
        assert!(err.contains("declares 4294967280 bytes"), "{err}");
    }

    #[test]
    fn an_element_inside_an_undefined_length_sequence_is_checked() {
        // (0008,1140) SQ, undefined length; an item of undefined length holding a too-long
        // element; item and sequence delimiters.
        let mut data = vec![0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0];
        data.extend_from_slice(&UNDEFINED.to_le_bytes());
        data.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        data.extend_from_slice(&UNDEFINED.to_le_bytes());
        data.extend_from_slice(&patient_name(1000, b"DOE^"));
        data.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        data.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let err = check(&file("1.2.840.10008.1.2.1", &data)).unwrap_err();
        assert!(err.contains("(0010,0010) declares 1000 bytes"), "{err}");
    }

    #[test]
    fn a_file_without_the_magic_is_left_to_the_parser() {
        assert_eq!(check(b"not a DICOM file at all"), Ok(()));
    }

    #[test]
    fn a_binary_value_of_a_partial_length_is_refused() {
        // (0028,0011) US of length 3: the parser would read one value and lose its place.
        let data = [0x28, 0x00, 0x11, 0x00, b'U', b'S', 3, 0, 1, 2, 3];
        let err = check(&file("1.2.840.10008.1.2.1", &data)).unwrap_err();
        assert!(
            err.contains("(0028,0011) of VR US has length 3, not a multiple of 2"),
            "{err}"
        );
    }

    #[test]
    fn an_undefined_length_element_of_any_vr_is_walked_as_a_sequence() {
        // (7FE0,0810) OB of undefined length (found by fuzzing: a mutated pixel data tag): the
        // parser reads it as a sequence, and the element inside its item declares 2 GB.
        let mut data = vec![0xE0, 0x7F, 0x10, 0x08, b'O', b'B', 0, 0];
        data.extend_from_slice(&UNDEFINED.to_le_bytes());
        data.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        data.extend_from_slice(&20u32.to_le_bytes());
        data.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'@', 0, 0, 0]);
        data.extend_from_slice(&0x7FFF_0000u32.to_le_bytes());
        data.extend_from_slice(&[0; 8]);
        let err = check(&file("1.2.840.10008.1.2.5", &data)).unwrap_err();
        assert!(
            err.contains("(0002,0000) declares 2147418112 bytes"),
            "{err}"
        );
    }
}
