//! Line numbers of CSV records as an editor shows them, whatever the line endings.
//!
//! The `csv` crate accepts `\n`, `\r\n` and a lone `\r` as line ends, but its own
//! `Position::line` counts `\n` only: with Windows endings every error is one line off (the
//! reader stops at the `\r` and the next record starts at the `\n`), and with old Mac endings
//! every error says line 1. [`LineIndex`] maps a record's *byte* position to its line instead.

/// The start of every line of a text, to look up the line of a byte offset.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset at which each line starts; for a `\r\n` ending, the offset of its `\n`
    /// (where the csv reader says the next record starts).
    starts: Vec<u64>,
}

impl LineIndex {
    /// Index the lines of `text`; `\r\n`, `\n` and a lone `\r` each end one line.
    pub fn new(text: &[u8]) -> LineIndex {
        let mut starts = vec![0u64];
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b'\r' if text.get(i + 1) == Some(&b'\n') => {
                    starts.push(i as u64 + 1);
                    i += 2;
                }
                b'\r' | b'\n' => {
                    i += 1;
                    starts.push(i as u64);
                }
                _ => i += 1,
            }
        }
        LineIndex { starts }
    }

    /// The 1-based line that holds byte `byte` of the text.
    pub fn line_of(&self, byte: u64) -> u64 {
        self.starts.partition_point(|&start| start <= byte) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_start_after_every_kind_of_line_end() {
        // "a\r\nb\nc\rd": lines start at bytes 0, 2 (the `\n` of `\r\n`), 5 and 7.
        let lines = LineIndex::new(b"a\r\nb\nc\rd");
        assert_eq!(lines.starts, [0, 2, 5, 7]);
        let line_of = |b| lines.line_of(b);
        assert_eq!(
            [line_of(0), line_of(2), line_of(3), line_of(6), line_of(7)],
            [1, 2, 2, 3, 4]
        );
    }
}
