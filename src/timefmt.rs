//! Timestamps for messages.
//!
//! A leaf: `chrono` only, nothing imported from the rest of the crate, so that
//! `train` can word its errors without importing `pipeline` (which still re-exports
//! [`fmt_us`] as `pipeline::fmt_us`).

/// A timestamp for messages: microseconds since the epoch as `YYYY-MM-DD HH:MM:SS`
/// (UTC), `-` when absent or out of range.
pub(crate) fn fmt_us(us: Option<i64>) -> String {
    us.and_then(chrono::DateTime::from_timestamp_micros)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}
