//! The two protocols of the study: the honest one (the default) and the article's.

use serde::{Deserialize, Serialize};

/// How levels are assigned and when the data is split.
///
/// Written `honest` / `paper` everywhere: on the command line (`--protocol`, through
/// `clap::ValueEnum`), in a run's `config.json` and `metrics.json` (through serde) and in run
/// names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Levels from each series' geometry; split by study before augmenting (default).
    ///
    /// Only the training split is augmented.
    #[default]
    Honest,
    /// The article's protocol: global K-Means on SliceLocation; augment, then split images.
    ///
    /// The K-Means centres are named in ascending order; the images are split 70/20/10.
    Paper,
}

impl Protocol {
    /// `honest` or `paper`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Honest => "honest",
            Protocol::Paper => "paper",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
