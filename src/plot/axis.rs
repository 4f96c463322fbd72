//! What the line and bar charts share about their axes: checking the values before drawing,
//! the range of a logarithmic axis, and the text of the tick labels.
//!
//! A logarithmic axis shows whole decades (`0.1 … 1000`), with grid lines at 1, 2, …, 9 times
//! each power of ten and labels at 1, 2 and 5 times it (only at the powers of ten when the axis
//! spans more than three decades, where the 2 and 5 labels would collide).

use crate::error::{Error, Result};

/// Fail with [`Error::NonFinite`] if `value` is NaN or ±∞; `location` names the figure and
/// the value (e.g. `"Softmax …: line \"loss\", point 3, y"`).
pub fn check_finite(location: impl FnOnce() -> String, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite {
            location: location(),
            value: value as f32,
        })
    }
}

/// Fail with [`Error::Invalid`] if `value` cannot be drawn on a logarithmic axis (≤ 0).
pub fn check_positive_for_log(location: impl FnOnce() -> String, value: f64) -> Result<()> {
    if value > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{}: {value} cannot be drawn on a logarithmic axis (it needs values > 0)",
            location()
        )))
    }
}

/// The whole decades `(10^a, 10^b)` that contain `lo..=hi` (both > 0), at least one decade.
pub fn decade_range(lo: f64, hi: f64) -> (f64, f64) {
    let a = lo.log10().floor();
    let b = hi.log10().ceil().max(a + 1.0);
    (10f64.powf(a), 10f64.powf(b))
}

/// The logarithmic plotters coordinate for `lo..hi` (both > 0). The start is lowered by a
/// millionth: plotters places its first tick at `10^ceil(log10(lo))`, and `log10(0.1)` comes
/// out as `-0.9999999999999998`, which would drop the ticks of the first decade.
pub fn log_coordinate(lo: f64, hi: f64) -> plotters::coord::combinators::LogCoord<f64> {
    use plotters::coord::combinators::IntoLogRange;
    (lo * (1.0 - 1e-6)..hi).log_scale().into()
}

/// A number as a tick label: six significant digits at most, no trailing zeros (`0.2`, `1`,
/// `2500`); below 0.01 and from 100 000 on in exponent form (`1e-6`, `2.5e5`); 0 for
/// magnitudes below 1e-9.
pub fn tick_label(value: f64) -> String {
    let magnitude = value.abs();
    // Below 1e-9 a tick's value is a rounding leftover of a tick at 0 (e.g. −1e-12), not a
    // number of its own: it is labelled 0.
    if magnitude < 1e-9 {
        return "0".to_string();
    }
    if !(1e-2..1e5).contains(&magnitude) {
        let text = format!("{value:.5e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let rounded = (value * 1e6).round() / 1e6;
    // `-0` would otherwise be printed for tiny negative rounding leftovers.
    format!("{}", if rounded == 0.0 { 0.0 } else { rounded })
}

/// The label of a tick of a logarithmic axis spanning `decades` decades: its value at 1, 2
/// and 5 times a power of ten (only at powers of ten beyond three decades), empty elsewhere.
pub fn log_tick_label(value: f64, decades: f64) -> String {
    if value <= 0.0 {
        return String::new();
    }
    let mantissa = value / 10f64.powf(value.log10().floor());
    let shown: &[f64] = if decades > 3.0 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    // Mantissas near 10 are 1 of the next decade (floating-point rounding of the log).
    let near = |m: f64| (mantissa - m).abs() < 1e-6 || (m == 1.0 && (mantissa - 10.0).abs() < 1e-6);
    if shown.iter().any(|&m| near(m)) {
        tick_label(value)
    } else {
        String::new()
    }
}

/// The label of a tick at `value` on an axis that is logarithmic (`log`, spanning `decades`
/// decades: [`log_tick_label`]) or linear ([`tick_label`]).
pub fn axis_tick_label(value: f64, log: bool, decades: f64) -> String {
    if log {
        log_tick_label(value, decades)
    } else {
        tick_label(value)
    }
}

/// The number of decades `lo..hi` spans (`hi / lo` as a power of ten).
pub fn decades(lo: f64, hi: f64) -> f64 {
    (hi / lo).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short_numbers() {
        assert_eq!(tick_label(0.2), "0.2");
        assert_eq!(tick_label(1.0), "1");
        assert_eq!(tick_label(2500.0), "2500");
        assert_eq!(tick_label(0.30000000000000004), "0.3");
        assert_eq!(tick_label(-1e-12), "0");
        assert_eq!(tick_label(1e-6), "1e-6");
        assert_eq!(tick_label(9.999999999999999e-6), "1e-5");
        assert_eq!(tick_label(0.005), "5e-3");
        assert_eq!(tick_label(0.01), "0.01");
        assert_eq!(tick_label(1e6), "1e6");
        assert_eq!(tick_label(2.5e5), "2.5e5");
    }

    #[test]
    fn log_ticks_are_labelled_at_one_two_five() {
        let labels: Vec<String> = (1..=10)
            .map(|m| log_tick_label(m as f64 * 0.1, 2.0))
            .collect();
        assert_eq!(labels, ["0.1", "0.2", "", "", "0.5", "", "", "", "", "1"]);
        assert_eq!(log_tick_label(200.0, 4.0), "");
        assert_eq!(log_tick_label(100.0, 4.0), "100");
        assert_eq!(log_tick_label(0.0, 1.0), "");
    }

    #[test]
    fn decade_range_covers_the_values() {
        assert_eq!(decade_range(0.3, 110.0), (0.1, 1000.0));
        assert_eq!(decade_range(1.0, 1.0), (1.0, 10.0));
        let (lo, hi) = decade_range(0.08, 6.0);
        assert!((lo - 0.01).abs() < 1e-15 && hi == 10.0);
    }

    #[test]
    fn bad_values_are_named_errors() {
        let err = check_finite(|| "chart: point 2".into(), f64::NAN).unwrap_err();
        assert!(err.to_string().contains("point 2"), "{err}");
        assert!(check_finite(String::new, 1.0).is_ok());
        let err = check_positive_for_log(|| "chart: bar \"a\"".into(), 0.0).unwrap_err();
        assert!(err.to_string().contains("logarithmic"), "{err}");
        assert!(check_positive_for_log(String::new, 1e-9).is_ok());
    }
}
