//! Timestamps as SES writes them. The docs promise ISO 8601 (`2017-08-05T00:41:02.669Z`), but
//! payloads seen in the wild (and the SES docs' own `mail` example) also carry
//! `2018-10-08T14:05:45 +0000`, `2018-10-08T14:05:45+0000` and `2018-10-08 14:05:45Z`: one lenient
//! parser accepts them all so no event is lost over the spelling of its time.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// The one shape every timestamp leaves the ledger in (log lines, the CLI's JSON and CSV,
/// DynamoDB attributes): RFC 3339 in UTC with exactly three fractional digits and `Z`,
/// `2022-04-01T21:24:49.000Z`. One width means text order is time order; finer digits than SES's
/// milliseconds (some payloads carry six) are cut, not rounded, so a time never moves forward.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    match millis_text(t) {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => t.to_rfc3339_opts(SecondsFormat::Millis, true),
    }
}

/// [`format_timestamp`] into a stack buffer, for years 0 to 9999 outside a leap second (every
/// time SES sends); `None` leaves the rest to chrono. Every record writes three timestamps, and
/// chrono's formatting machinery was a tenth of `normalise`'s time.
fn millis_text(t: DateTime<Utc>) -> Option<[u8; 24]> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, digits: usize, mut value: u32| {
        for i in (at..at + digits).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 3, nanos / 1_000_000);
    Some(out)
}

/// `#[serde(serialize_with = "timestamp::serialize")]`: [`format_timestamp`].
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    match millis_text(*t) {
        // ASCII digits and punctuation only.
        Some(bytes) => serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or_default()),
        None => serializer.serialize_str(&format_timestamp(*t)),
    }
}

/// `#[serde(serialize_with = "timestamp::serialize_option")]`, with
/// `skip_serializing_if = "Option::is_none"`.
pub fn serialize_option<S: Serializer>(
    t: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, serializer),
        None => serializer.serialize_none(),
    }
}

/// What a valid timestamp looks like, for error messages.
const EXAMPLE: &str = "2017-08-05T00:41:02.669Z";

/// Parses an RFC 3339 timestamp, with or without fractional seconds, or one of the variants SES
/// has been seen to send: a space instead of `T`, a space before the offset, an offset without a
/// colon (`+0000`) or with hours only (`+00`). The result is in UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // Rewrite the variants into RFC 3339 and let chrono do the validation.
    let date = text.get(..10)?;
    let separator = text.get(10..11)?;
    if !matches!(separator, "T" | "t" | " ") {
        return None;
    }
    let rest = text.get(11..)?;
    let offset_at = rest.find(|c: char| matches!(c, '+' | '-' | 'Z' | 'z') || c.is_whitespace())?;
    let (time, offset) = rest.split_at(offset_at);
    let offset = canonical_offset(offset.trim_start())?;
    DateTime::parse_from_rfc3339(&format!("{date}T{time}{offset}"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `Z`, `+hh:mm`, `+hhmm` or `+hh` as RFC 3339 wants it.
fn canonical_offset(offset: &str) -> Option<String> {
    if offset.eq_ignore_ascii_case("z") {
        return Some("Z".into());
    }
    let sign = offset.get(..1).filter(|s| matches!(*s, "+" | "-"))?;
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match digits.len() {
        2 => Some(format!("{sign}{digits}:00")),
        4 => Some(format!("{sign}{}:{}", &digits[..2], &digits[2..])),
        _ => None,
    }
}

/// The error text for a string that is not a timestamp.
pub fn invalid_timestamp_message(text: &str) -> String {
    format!("expected a timestamp like {EXAMPLE}, got {text:?}")
}

/// `#[serde(deserialize_with = "timestamp::deserialize")]` for a required timestamp.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_timestamp(&text).ok_or_else(|| serde::de::Error::custom(invalid_timestamp_message(&text)))
}

/// `#[serde(default, deserialize_with = "timestamp::deserialize_option")]` for an optional
/// timestamp: absent or `null` is `None`, anything else must be a timestamp.
pub fn deserialize_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => parse_timestamp(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(invalid_timestamp_message(&text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid date")
            + chrono::Duration::milliseconds(i64::from(ms))
    }

    proptest! {
        /// The hand-written formatter writes what chrono writes, for every time it takes.
        #[test]
        fn the_fast_format_is_chronos(seconds in -62_135_596_800i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
            let t = DateTime::<Utc>::from_timestamp(seconds, nanos).expect("in range");
            let fast = millis_text(t).expect("years 1 to 9999");
            prop_assert_eq!(
                std::str::from_utf8(&fast).expect("ascii"),
                t.to_rfc3339_opts(SecondsFormat::Millis, true)
            );
            let json = serde_json::to_string(&Record { t }).expect("serialises");
            prop_assert_eq!(json, format!("{{\"t\":\"{}\"}}", format_timestamp(t)));
        }
    }

    #[derive(serde::Serialize)]
    struct Record {
        #[serde(serialize_with = "serialize")]
        t: DateTime<Utc>,
    }

    #[test]
    fn times_beyond_four_digit_years_and_leap_seconds_fall_back_on_chrono() {
        let far = DateTime::<Utc>::from_timestamp(253_402_300_800, 0).expect("year 10000");
        assert_eq!(millis_text(far), None);
        assert_eq!(
            format_timestamp(far),
            far.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let leap = DateTime::<Utc>::from_timestamp(1_483_228_799, 1_500_000_000).expect("leap");
        assert_eq!(millis_text(leap), None);
        assert_eq!(
            format_timestamp(leap),
            leap.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
    }

    #[test]
    fn rfc3339_with_and_without_fractions() {
        assert_eq!(
            parse_timestamp("2017-08-05T00:41:02.669Z"),
            Some(utc(2017, 8, 5, 0, 41, 2, 669))
        );
        assert_eq!(
            parse_timestamp("2017-08-05T00:41:02Z"),
            Some(utc(2017, 8, 5, 0, 41, 2, 0))
        );
        assert_eq!(
            parse_timestamp("2009-12-03T04:24:21.000-05:00"),
            Some(utc(2009, 12, 3, 9, 24, 21, 0))
        );
        assert_eq!(
            parse_timestamp(" 2024-01-01T00:00:00.123456+00:00\n"),
            Some(utc(2024, 1, 1, 0, 0, 0, 0) + chrono::Duration::microseconds(123_456))
        );
    }

    #[test]
    fn the_oddities_seen_in_ses_payloads() {
        let expected = Some(utc(2018, 10, 8, 14, 5, 45, 0));
        for text in [
            "2018-10-08T14:05:45 +0000",
            "2018-10-08T14:05:45+0000",
            "2018-10-08 14:05:45Z",
            "2018-10-08 14:05:45 +00:00",
            "2018-10-08t14:05:45z",
            "2018-10-08T16:05:45+02",
            "2018-10-08T09:05:45 -0500",
        ] {
            assert_eq!(parse_timestamp(text), expected, "{text}");
        }
        assert_eq!(
            parse_timestamp("2018-10-08T14:05:45.250 +0000"),
            Some(utc(2018, 10, 8, 14, 5, 45, 250))
        );
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for text in [
            "",
            "yesterday",
            "2018-10-08",
            "2018-10-08T14:05:45",
            "2018-10-08T14:05:45 UTC",
            "2018-10-08T14:05:45+00000",
            "2018-13-08T14:05:45Z",
            "2018-10-08X14:05:45Z",
            "Mon, 08 Oct 2018 14:05:45 +0000",
            "2018-10-08T14:05:45+ab:cd",
            "2018-10-08T\u{e9}14:05:45Z",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }

    #[test]
    fn serde_helpers_name_the_bad_value() {
        #[derive(Debug, serde::Deserialize)]
        struct T {
            #[serde(deserialize_with = "deserialize")]
            at: DateTime<Utc>,
            #[serde(default, deserialize_with = "deserialize_option")]
            maybe: Option<DateTime<Utc>>,
        }
        let ok: T = serde_json::from_value(
            serde_json::json!({"at": "2018-10-08T14:05:45 +0000", "maybe": null}),
        )
        .expect("parses");
        assert_eq!(ok.at, utc(2018, 10, 8, 14, 5, 45, 0));
        assert_eq!(ok.maybe, None);
        let err = serde_json::from_value::<T>(serde_json::json!({"at": "yesterday"}))
            .expect_err("not a timestamp")
            .to_string();
        assert_eq!(
            err,
            "expected a timestamp like 2017-08-05T00:41:02.669Z, got \"yesterday\""
        );
        let err = serde_json::from_value::<T>(
            serde_json::json!({"at": "2018-10-08T14:05:45Z", "maybe": "soon"}),
        )
        .expect_err("not a timestamp")
        .to_string();
        assert!(err.contains("got \"soon\""), "{err}");
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = parse_timestamp(&text);
        }

        /// One width for every time, so sorting the text sorts the times (`...49Z` would sort
        /// after `...49.500Z`), and sub-millisecond digits are cut, never rounded up.
        #[test]
        fn the_one_shape_sorts_as_time(
            a in 0i64..4_102_444_800_000_000, b in 0i64..4_102_444_800_000_000,
        ) {
            let (ta, tb) = (
                DateTime::from_timestamp_micros(a).expect("in range"),
                DateTime::from_timestamp_micros(b).expect("in range"),
            );
            let (fa, fb) = (format_timestamp(ta), format_timestamp(tb));
            prop_assert_eq!(fa.len(), "2022-04-01T21:24:49.000Z".len());
            prop_assert!(fa.ends_with('Z'));
            prop_assert_eq!(fa.cmp(&fb), (a / 1000).cmp(&(b / 1000)));
            let back = parse_timestamp(&fa).expect("parses back");
            prop_assert!(back <= ta && ta - back < chrono::Duration::milliseconds(1));
        }

        #[test]
        fn formatted_times_parse_back(secs in 0i64..4_102_444_800, millis in 0u32..1000) {
            let t = DateTime::from_timestamp(secs, millis * 1_000_000).expect("in range");
            let text = format_timestamp(t);
            prop_assert_eq!(parse_timestamp(&text), Some(t));
            let odd = t.format("%Y-%m-%dT%H:%M:%S%.3f +0000").to_string();
            prop_assert_eq!(parse_timestamp(&odd), Some(t));
        }
    }
}
