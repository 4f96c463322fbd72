//! Parsers for the whole-number flags of every subcommand (`--seed`, `--image-size`,
//! `--batch-size`, …), so that a negative, fractional or out-of-range value gets a sentence
//! saying what the flag accepts instead of clap's "unexpected argument '-1' found".
//!
//! Each flag that takes a whole number declares
//! `#[arg(long, allow_negative_numbers = true, value_parser = whole_number::<T>("the seed", 0))]`:
//! `allow_negative_numbers` makes clap hand `-1` to the parser (rather than read it as an unknown
//! flag), and the parser refuses it. clap then prints
//! `error: invalid value '-1' for '--seed <SEED>': the seed is a whole number from 0 to 18446744073709551615`.

use std::fmt::Display;
use std::str::FromStr;

/// An unsigned integer type a flag can hold (`u64` or `usize`), with its largest value.
pub trait Unsigned: FromStr + Display + Copy + PartialOrd + Send + Sync + 'static {
    /// The largest value of the type (`u64::MAX`, `usize::MAX`).
    const MAX: Self;
    /// The value `n` in this type (the minimum of a flag, always small).
    fn from_small(n: u32) -> Self;
}

impl Unsigned for u64 {
    const MAX: Self = u64::MAX;
    fn from_small(n: u32) -> Self {
        n as u64
    }
}

impl Unsigned for usize {
    const MAX: Self = usize::MAX;
    fn from_small(n: u32) -> Self {
        n as usize
    }
}

/// A clap value parser for a whole number of at least `min`; `what` names the quantity in the
/// error ("the seed", "the batch size"), which reads "`what` is a whole number from `min` to
/// `MAX`".
pub fn whole_number<T: Unsigned>(
    what: &'static str,
    min: u32,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        let min = T::from_small(min);
        let rule = || format!("{what} is a whole number from {min} to {}", T::MAX);
        match text.trim().parse::<T>() {
            Ok(value) if value >= min => Ok(value),
            _ => Err(rule()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_negative_fractional_too_small_and_too_large_values() {
        let seed = whole_number::<u64>("the seed", 0);
        assert_eq!(seed("0"), Ok(0));
        assert_eq!(seed("18446744073709551615"), Ok(u64::MAX));
        let rule = "the seed is a whole number from 0 to 18446744073709551615";
        for bad in ["-1", "1.5", "18446744073709551616", "", "seven"] {
            assert_eq!(seed(bad), Err(rule.to_string()), "{bad:?}");
        }
        let batch = whole_number::<usize>("the batch size", 1);
        assert_eq!(batch("1"), Ok(1));
        assert!(batch("0").unwrap_err().contains("from 1 to"));
    }
}
