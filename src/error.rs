//! The crate's one error type.
//!
//! Every failure a user can cause (a wrong shape, a missing file, a corrupt DICOM, a CSV with a
//! bad row, a NaN loss) becomes one of these variants, whose `Display` is a single sentence that
//! says *what* went wrong and *where*. Library code returns `Result<T>`; only `main` prints.

use std::fmt;
use std::path::{Path, PathBuf};

/// Shorthand for `std::result::Result<T, lumbar_cnn::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in lumbar-cnn, each variant naming the place it happened.
#[derive(Debug)]
pub enum Error {
    /// A tensor reached a layer (or function) with the wrong shape.
    /// `context` names the layer, e.g. `"conv2d_1 (Conv2D)"`.
    Shape {
        context: String,
        expected: String,
        found: String,
    },
    /// An operating-system I/O error while reading or writing `path`.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file exists but its contents are not what we expected (corrupt DICOM, malformed CSV
    /// row, truncated checkpoint, ...). `location` is the file, plus a line or tag when known.
    Format { location: String, message: String },
    /// An argument or setting that cannot work (e.g. `--image-size 7`, an empty batch).
    Invalid(String),
    /// A loss or gradient became NaN or infinite; `location` says when (epoch, batch).
    NonFinite { location: String, value: f32 },
}

impl Error {
    /// A shape error for `context`, with both shapes written as `[a, b, c]`.
    pub fn shape(
        context: impl Into<String>,
        expected: impl fmt::Debug,
        found: impl fmt::Debug,
    ) -> Self {
        Error::Shape {
            context: context.into(),
            expected: format!("{expected:?}"),
            found: format!("{found:?}"),
        }
    }

    /// Wrap an I/O error with the path it concerns.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A format error at `location` (a file, optionally with `:line` or a tag).
    pub fn format(location: impl fmt::Display, message: impl Into<String>) -> Self {
        Error::Format {
            location: location.to_string(),
            message: message.into(),
        }
    }

    /// An invalid argument or configuration.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape {
                context,
                expected,
                found,
            } => write!(f, "{context}: expected shape {expected}, found {found}"),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Format { location, message } => write!(f, "{location}: {message}"),
            Error::Invalid(message) => write!(f, "{message}"),
            Error::NonFinite { location, value } => {
                write!(f, "non-finite value {value} at {location}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
