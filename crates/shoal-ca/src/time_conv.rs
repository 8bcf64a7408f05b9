//! Conversions between `SystemTime` (the crate's API) and the time types of rcgen and
//! x509-parser. Whole seconds only: X.509 validity has one-second resolution.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

use crate::CaError;

/// `t` as an rcgen validity bound. Times before 1970 are refused rather than clamped so a
/// broken caller clock shows up as an error, not as a certificate valid since 1970.
pub(crate) fn to_offset(t: SystemTime, what: &'static str) -> Result<OffsetDateTime, CaError> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CaError::TimeOutOfRange { what })?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|_| CaError::TimeOutOfRange { what })?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| CaError::TimeOutOfRange { what })
}

/// The validity window `[now - backdate, now + validity]`.
pub(crate) fn window(
    now: SystemTime,
    backdate: Duration,
    validity: Duration,
) -> Result<(OffsetDateTime, OffsetDateTime), CaError> {
    let from = now
        .checked_sub(backdate)
        .ok_or(CaError::TimeOutOfRange { what: "not_before" })?;
    let to = now
        .checked_add(validity)
        .ok_or(CaError::TimeOutOfRange { what: "not_after" })?;
    Ok((to_offset(from, "not_before")?, to_offset(to, "not_after")?))
}

/// A Unix timestamp (as x509-parser reports validity) as a `SystemTime`.
pub(crate) fn from_unix(secs: i64) -> SystemTime {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_backdated_and_extended() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (from, to) = window(now, Duration::from_secs(3600), Duration::from_secs(60)).unwrap();
        assert_eq!(from.unix_timestamp(), 1_700_000_000 - 3600);
        assert_eq!(to.unix_timestamp(), 1_700_000_060);
    }

    #[test]
    fn before_epoch_is_refused() {
        let err = window(UNIX_EPOCH, Duration::from_secs(1), Duration::ZERO).unwrap_err();
        assert!(matches!(
            err,
            CaError::TimeOutOfRange { what: "not_before" }
        ));
    }

    #[test]
    fn from_unix_handles_both_signs() {
        assert_eq!(from_unix(10), UNIX_EPOCH + Duration::from_secs(10));
        assert_eq!(from_unix(-10), UNIX_EPOCH - Duration::from_secs(10));
    }
}
