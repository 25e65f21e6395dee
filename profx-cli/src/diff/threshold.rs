//! The regression threshold of `profx diff`: a percentage kept exactly.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Millionths of a percent in one percent.
const MICRO: u64 = 1_000_000;

/// The regression threshold: a non-negative percentage, kept exactly (to a millionth of a
/// percent) so that "10%" means exactly 10%.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    micro_percent: u64,
}

impl Threshold {
    /// The accepted forms, for messages.
    pub const FORMS: &'static str = "a non-negative percentage such as 10%, 10 or 0.5%";

    /// The threshold in percent.
    pub fn percent(self) -> f64 {
        self.micro_percent as f64 / MICRO as f64
    }

    /// Whether `new` is slower than `base` by more than the threshold (never when `base` is 0).
    pub(crate) fn slower(self, base: Duration, new: Duration) -> bool {
        if base.is_zero() || new <= base {
            return false;
        }
        // (new - base) / base * 100 > micro / MICRO, in integers.
        (new - base).as_nanos() * 100 * MICRO as u128 > base.as_nanos() * self.micro_percent as u128
    }

    /// Whether the success rate `new_ok / new_total` is lower than `base_ok / base_total` by
    /// more than the threshold, in percentage points (totals are non-zero).
    pub(crate) fn rate_dropped(
        self,
        (base_ok, base_total): (u64, u64),
        (new_ok, new_total): (u64, u64),
    ) -> bool {
        // (bo/bt - no/nt) * 100 > micro / MICRO  <=>  (bo*nt - no*bt) * 100 * MICRO > micro * bt * nt
        let lhs = (base_ok as i128 * new_total as i128 - new_ok as i128 * base_total as i128)
            * 100
            * MICRO as i128;
        lhs > self.micro_percent as i128 * base_total as i128 * new_total as i128
    }
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Threshold, String> {
        let bad = |why: &str| format!("{why}: expected {}", Threshold::FORMS);
        let t = s.trim();
        let number = t.strip_suffix('%').unwrap_or(t);
        if number.is_empty() {
            return Err(bad("no number"));
        }
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || !digits(frac) || (int.is_empty() && frac.is_empty()) {
            return Err(bad(if number.starts_with('-') {
                "negative"
            } else {
                "not a number"
            }));
        }
        if frac.len() > 6 {
            return Err(bad("more than 6 decimal places"));
        }
        let int: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad("too large"))?
        };
        let frac_micro: u64 = format!("{frac:0<6}").parse().unwrap_or(0);
        let micro_percent = int
            .checked_mul(MICRO)
            .and_then(|v| v.checked_add(frac_micro))
            .ok_or_else(|| bad("too large"))?;
        Ok(Threshold { micro_percent })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.micro_percent / MICRO;
        let frac = self.micro_percent % MICRO;
        if frac == 0 {
            write!(f, "{int}%")
        } else {
            let frac = format!("{frac:06}");
            write!(f, "{int}.{}%", frac.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn th(s: &str) -> Threshold {
        s.parse().unwrap()
    }

    #[test]
    fn threshold_accepts_percent_plain_and_fractions() {
        assert_eq!(th("10%").percent(), 10.0);
        assert_eq!(th("10").percent(), 10.0);
        assert_eq!(th("0.5%").percent(), 0.5);
        assert_eq!(th(" 2.25 ").percent(), 2.25);
        assert_eq!(th(".5").percent(), 0.5);
        assert_eq!(th("0").percent(), 0.0);
        assert_eq!(th("10%").to_string(), "10%");
        assert_eq!(th("0.50").to_string(), "0.5%");
    }

    #[test]
    fn threshold_refuses_what_is_not_a_non_negative_percentage() {
        for bad in [
            "abc",
            "-5%",
            "%",
            "",
            "10%%",
            "1e3",
            "5.5.5",
            "0.1234567",
            "nan",
            "+5",
        ] {
            let e = bad.parse::<Threshold>().unwrap_err();
            assert!(e.contains("10%, 10 or 0.5%"), "{bad}: {e}");
        }
        assert!("-5%"
            .parse::<Threshold>()
            .unwrap_err()
            .starts_with("negative"));
        assert!("99999999999999999999"
            .parse::<Threshold>()
            .unwrap_err()
            .starts_with("too large"));
    }

    #[test]
    fn slower_is_strictly_more_than_the_threshold_and_exact() {
        let t = th("10%");
        assert!(!t.slower(ms(100), ms(110)), "exactly 10% is not above 10%");
        assert!(t.slower(ms(100), ms(110) + Duration::from_nanos(1)));
        assert!(!t.slower(ms(100), ms(50)));
        assert!(
            !t.slower(Duration::ZERO, ms(5)),
            "no percentage change from zero"
        );
        assert!(th("0").slower(ms(100), ms(100) + Duration::from_nanos(1)));
        assert!(!th("0.5%").slower(ms(1000), ms(1005)));
        assert!(th("0.5%").slower(ms(1000), ms(1006)));
    }

    #[test]
    fn success_rate_drop_is_in_points() {
        let t = th("10");
        assert!(!t.rate_dropped((98, 100), (88, 100)), "exactly 10 points");
        assert!(t.rate_dropped((98, 100), (87, 100)));
        assert!(!t.rate_dropped((50, 100), (90, 100)), "an improvement");
        // 49/50 = 98% against 175/200 = 87.5%: 10.5 points.
        assert!(t.rate_dropped((49, 50), (175, 200)));
    }
}
