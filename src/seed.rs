//! Sub-seeds from the one seed of a run: every random choice in the crate (dropout masks, the
//! shuffle, K-Means starts, the split, the augmentation, the synthetic dataset) draws from an
//! RNG seeded by one of the functions below, so the same seed gives the same numbers on any
//! number of threads.
//!
//! All of them are built on one core, the **SplitMix64** output function (Steele, Lea & Flood,
//! *Fast splittable pseudorandom number generators*, OOPSLA 2014; constants of Stafford's
//! "Mix13" variant, as in `java.util.SplittableRandom`):
//!
//! ```text
//! mix64(z) = z₃,  z₁ = (z ⊕ z≫30)·0xBF58476D1CE4E5B9,  z₂ = (z₁ ⊕ z₁≫27)·0x94D049BB133111EB,
//!                 z₃ = z₂ ⊕ z₂≫31
//! ```
//!
//! which spreads every input bit over every output bit. The functions differ only in how they
//! combine their inputs before mixing; each is kept exactly as it was first written, because
//! changing one would change the numbers of every run (and the synthetic dataset).

/// The golden-ratio increment of SplitMix64, `⌊2⁶⁴/φ⌋` (odd, so it visits every 64-bit value).
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function ("Mix13"): a bijection of 64-bit words that spreads every
/// input bit over the whole output. The core of every function in this module.
pub fn mix64(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One step of the SplitMix64 generator from state `x`: `mix64(x + γ)`.
pub fn splitmix64(x: u64) -> u64 {
    mix64(x.wrapping_add(GOLDEN_GAMMA))
}

/// Mix two 64-bit numbers into a well-spread seed: `mix64(a ⊕ rotl₁₇(b + γ))`. Used with
/// `(model seed, layer index)` for each dropout layer, `(layer seed, step)` and
/// `(step seed, block)` for its masks, and `(seed, epoch)` for the training shuffle.
pub fn mix_seed(a: u64, b: u64) -> u64 {
    mix64(a ^ b.wrapping_add(GOLDEN_GAMMA).rotate_left(17))
}

/// A sub-seed for stream number `stream` of the run seeded with `seed`: `mix64(seed ⊕ γ·stream)`.
/// Different streams get unrelated seeds (`lumbar prepare` numbers its stages: levels, split,
/// augmentation; K-Means its restarts).
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    mix64(seed ^ stream.wrapping_mul(GOLDEN_GAMMA))
}

/// A sub-seed for the item at `path` (e.g. `[1, study]`, `[2, study, series, slice]`) under
/// `seed`: `splitmix64(seed)` folded with `acc ↦ splitmix64(acc ⊕ splitmix64(i))` over the
/// path. The synthetic dataset seeds every study, series and slice this way, so each can be
/// generated alone, on any thread.
pub fn path_seed(seed: u64, path: &[u64]) -> u64 {
    path.iter()
        .fold(splitmix64(seed), |acc, &i| splitmix64(acc ^ splitmix64(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The values below were printed by the three separate implementations these functions
    // replaced (`nn::dropout::mix_seed`, `prepare::derive_seed`, `synth::study::splitmix64` and
    // `synth::study::derive_seed`): a change here changes every run and the synthetic dataset.

    #[test]
    fn mix_seed_keeps_its_values() {
        assert_eq!(mix_seed(0, 0), 0x51ff_f90e_2c88_e79b);
        assert_eq!(mix_seed(42, 1), 0xe5f9_e47d_9e8c_bf1f);
        assert_eq!(mix_seed(42, 7), 0x6162_b72c_ce77_0b2c);
        assert_eq!(mix_seed(u64::MAX, 3), 0x6598_346e_3ca0_d011);
        assert_eq!(mix_seed(123_456_789, 987_654_321), 0x0c5c_6c23_da20_aa6b);
    }

    #[test]
    fn stream_seed_keeps_its_values() {
        assert_eq!(stream_seed(0, 0), 0);
        assert_eq!(stream_seed(42, 1), 0xbdd7_3226_2feb_6e95);
        assert_eq!(stream_seed(42, 7), 0x53ad_348a_f3dd_af4b);
        assert_eq!(stream_seed(u64::MAX, 3), 0x8f33_8340_13b3_1f7c);
        assert_eq!(stream_seed(123_456_789, 987_654_321), 0x363e_ef43_2a6c_75bd);
    }

    #[test]
    fn splitmix64_keeps_its_values() {
        // The first output of SplitMix64 seeded with 0, as in Vigna's reference `splitmix64.c`.
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(1), 0x910a_2dec_8902_5cc1);
        assert_eq!(splitmix64(42), 0xbdd7_3226_2feb_6e95);
        assert_eq!(splitmix64(u64::MAX), 0xe4d9_7177_1b65_2c20);
    }

    #[test]
    fn path_seed_keeps_its_values() {
        assert_eq!(path_seed(42, &[]), 0xbdd7_3226_2feb_6e95);
        assert_eq!(path_seed(42, &[0]), 0xccf7_d166_7ea4_1d4d);
        assert_eq!(path_seed(42, &[1, 3]), 0x234b_8a18_c6e8_0b7b);
        assert_eq!(path_seed(7, &[2, 5, 9]), 0x6b30_8f79_021b_b438);
    }
}
