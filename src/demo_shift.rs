//! A shifted channel mix for the demo generator (`demo-data --channel-shift S`):
//! a share `S` of interactions is moved to email, whatever the date, so a data set
//! generated with it differs from the demo in the channel mix from its first day.
//! That is the population change the drift checks must catch (`drift.csv`).

use crate::error::{Error, Result};

/// The channel index the shift moves interactions to (email, 8 % in the demo).
const EMAIL: usize = 3;

/// The channel of one interaction under a shift of `share`: unchanged when the
/// share is 0 (and no random number is drawn, so the demo's bytes stay the same),
/// else email with probability `share`.
pub(crate) fn shifted_channel(
    channel: usize,
    share: f64,
    uniform: &mut dyn FnMut() -> f64,
) -> usize {
    if share > 0.0 && uniform() < share {
        EMAIL
    } else {
        channel
    }
}

/// Refuses a share outside [0, 1].
pub(crate) fn check(share: f64) -> Result<()> {
    if (0.0..=1.0).contains(&share) {
        Ok(())
    } else {
        Err(Error::config(
            "--channel-shift",
            "a share in [0, 1]",
            share,
            "pass for example --channel-shift 0.5 (half of the interactions move to email)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_shift_draws_nothing_and_a_full_shift_moves_everything() {
        let mut draws = 0;
        let mut u = || {
            draws += 1;
            0.5
        };
        assert_eq!(shifted_channel(1, 0.0, &mut u), 1);
        assert_eq!(draws, 0);
        assert_eq!(shifted_channel(1, 1.0, &mut || 0.99), EMAIL);
        assert_eq!(shifted_channel(0, 0.3, &mut || 0.5), 0);
        assert!(check(1.5).is_err() && check(f64::NAN).is_err() && check(0.4).is_ok());
    }
}
