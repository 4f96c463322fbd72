//! The prediction for a disc level where no slice was found: the class frequencies of the
//! RSNA 2024 training labels.

use crate::metrics::NUM_CLASSES;

/// Spinal canal class frequencies of the RSNA 2024 training labels in our class
/// order (Moderate 0.075, Normal/Mild 0.878, Severe 0.048). They add up to 1.001 (rounding),
/// so [`prior_probabilities`] divides them by their sum.
pub const CLASS_FREQUENCIES: [f32; NUM_CLASSES] = [0.075, 0.878, 0.048];

/// The prediction for a level where no slice was found: [`CLASS_FREQUENCIES`] normalised to
/// sum to 1 (≈ Moderate 0.0749, Normal/Mild 0.8771, Severe 0.0480). The prior is the best
/// guess without an image: it minimises the expected log loss when nothing is known.
pub fn prior_probabilities() -> [f32; NUM_CLASSES] {
    let sum: f32 = CLASS_FREQUENCIES.iter().sum();
    CLASS_FREQUENCIES.map(|f| f / sum)
}
