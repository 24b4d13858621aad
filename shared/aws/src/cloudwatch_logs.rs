//! CloudWatch Logs adapter for the event stream: one JSON line per recipient event in a dedicated
//! log group, one log stream per function instance.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_cloudwatchlogs::Client;
use chrono::{DateTime, Duration, Utc};
use tokio::sync::OnceCell;

use ses_ledger::event::RecipientEvent;
use ses_ledger::ports::{EventLog, StoreError};

/// PutLogEvents limits (CloudWatch Logs quotas).
pub const MAX_EVENTS_PER_BATCH: usize = 10_000;
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Each log event counts its UTF-8 message plus this overhead toward the batch size.
pub const PER_EVENT_OVERHEAD: usize = 26;
/// A batch may not span more than 24 hours.
pub const MAX_BATCH_SPAN: Duration = Duration::hours(24);
/// Largest message of one log event.
pub const MAX_EVENT_BYTES: usize = 256 * 1024 - PER_EVENT_OVERHEAD;

/// One line ready for PutLogEvents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub timestamp_ms: i64,
    pub message: String,
}

/// The log-event timestamp: the event's own time when CloudWatch accepts it, otherwise the
/// ingestion time. PutLogEvents rejects events older than 14 days (or the retention) and more than
/// 2 hours ahead, and backfills routinely carry such times; the line itself always carries both.
pub fn log_timestamp(event: &RecipientEvent) -> DateTime<Utc> {
    let oldest = event.ingested_at - Duration::days(14) + Duration::hours(1);
    let newest = event.ingested_at + Duration::hours(1);
    if event.event_time >= oldest && event.event_time <= newest {
        event.event_time
    } else {
        event.ingested_at
    }
}

/// Renders an event as a log line. A line over CloudWatch's size limit would fail its whole
/// batch on every retry, so it is made to fit instead: first the raw payload (kept only for
/// unknown types) is left out; if the line is still too long (a subject, tags or diagnostic
/// text near SNS's 256 KB), the line holds what DynamoDB keeps of the event
/// ([`RecipientEvent::ledger_view`]) with its origin. `raw.omitted` says which happened.
pub fn to_line(event: &RecipientEvent) -> Result<LogLine, serde_json::Error> {
    let mut message = serde_json::to_string(event)?;
    if message.len() > MAX_EVENT_BYTES {
        let mut slim = event.clone();
        slim.raw = Some(serde_json::json!({ "omitted": "payload larger than a log event" }));
        message = serde_json::to_string(&slim)?;
    }
    if message.len() > MAX_EVENT_BYTES {
        let mut view = event.ledger_view();
        view.origin = event.origin.clone();
        view.raw = Some(serde_json::json!({
            "omitted": "fields larger than a log event: this line holds what the ledger keeps"
        }));
        message = serde_json::to_string(&view)?;
    }
    Ok(LogLine {
        timestamp_ms: log_timestamp(event).timestamp_millis(),
        message,
    })
}

/// Orders lines by time (PutLogEvents requires it) and cuts them into batches within the limits.
pub fn plan_batches(mut lines: Vec<LogLine>) -> Vec<Vec<LogLine>> {
    lines.sort_by_key(|l| l.timestamp_ms);
    let mut batches: Vec<Vec<LogLine>> = Vec::new();
    let mut bytes = 0;
    for line in lines {
        let size = line.message.len() + PER_EVENT_OVERHEAD;
        let fits = batches.last().is_some_and(|b| {
            b.len() < MAX_EVENTS_PER_BATCH
                && bytes + size <= MAX_BATCH_BYTES
                && b.first().is_some_and(|f| {
                    line.timestamp_ms - f.timestamp_ms < MAX_BATCH_SPAN.num_milliseconds()
                })
        });
        if !fits {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(b) = batches.last_mut() {
            b.push(line);
        }
    }
    batches
}

pub struct CloudWatchEventLog {
    client: Client,
    group: String,
    stream: String,
    stream_ready: OnceCell<()>,
}

impl CloudWatchEventLog {
    /// `stream` should be unique per writer (one per function instance).
    pub fn new(client: Client, group: impl Into<String>, stream: impl Into<String>) -> Self {
        CloudWatchEventLog {
            client,
            group: group.into(),
            stream: stream.into(),
            stream_ready: OnceCell::new(),
        }
    }

    /// A stream name for a new instance: date, then a random id (Lambda's own convention).
    pub fn instance_stream_name(now: DateTime<Utc>) -> String {
        format!(
            "{}/{}",
            now.format("%Y/%m/%d"),
            uuid::Uuid::new_v4().simple()
        )
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    async fn ensure_stream(&self) -> Result<(), StoreError> {
        self.stream_ready
            .get_or_try_init(|| async {
                let created = self
                    .client
                    .create_log_stream()
                    .log_group_name(&self.group)
                    .log_stream_name(&self.stream)
                    .send()
                    .await;
                match created {
                    Ok(_) => Ok(()),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_already_exists_exception()) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(StoreError::service("CreateLogStream", e)),
                }
            })
            .await
            .map(|_| ())
    }
}

impl EventLog for CloudWatchEventLog {
    async fn append(&self, events: &[RecipientEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.ensure_stream().await?;
        let lines = events
            .iter()
            .map(to_line)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt {
                key: "log line".into(),
                message: e.to_string(),
            })?;
        for batch in plan_batches(lines) {
            let input: Vec<InputLogEvent> = batch
                .into_iter()
                .map(|l| {
                    InputLogEvent::builder()
                        .timestamp(l.timestamp_ms)
                        .message(l.message)
                        .build()
                        .map_err(|e| StoreError::service("build InputLogEvent", e))
                })
                .collect::<Result<_, _>>()?;
            let out = self
                .client
                .put_log_events()
                .log_group_name(&self.group)
                .log_stream_name(&self.stream)
                .set_log_events(Some(input))
                .send()
                .await
                .map_err(|e| StoreError::service("PutLogEvents", e))?;
            if let Some(rejected) = out.rejected_log_events_info() {
                return Err(StoreError::Refused {
                    operation: "PutLogEvents",
                    message: format!("log events rejected: {rejected:?}"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ses_ledger::event::Origin;
    use ses_ledger::normalise::normalise;
    use ses_ledger::testkit::fixtures::fixture;

    fn line(ts: i64, len: usize) -> LogLine {
        LogLine {
            timestamp_ms: ts,
            message: "x".repeat(len),
        }
    }

    #[test]
    fn batches_respect_count_size_span_and_order() {
        let many: Vec<LogLine> = (0..25_000).map(|i| line(25_000 - i, 10)).collect();
        let batches = plan_batches(many);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![10_000, 10_000, 5_000]
        );
        assert!(batches[0]
            .windows(2)
            .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));

        // Five lines of 200,000 bytes (plus 26 each) fit in 1 MiB; a sixth would not.
        let big: Vec<LogLine> = (0..10).map(|i| line(i, 200_000)).collect();
        let batches = plan_batches(big);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 5]);
        for b in &batches {
            let bytes: usize = b.iter().map(|l| l.message.len() + PER_EVENT_OVERHEAD).sum();
            assert!(bytes <= MAX_BATCH_BYTES);
        }
        let just_fits = MAX_BATCH_BYTES / 2 - PER_EVENT_OVERHEAD;
        assert_eq!(
            plan_batches(vec![line(0, just_fits), line(1, just_fits)]).len(),
            1
        );
        assert_eq!(
            plan_batches(vec![line(0, just_fits), line(1, just_fits + 1)]).len(),
            2
        );

        let day = MAX_BATCH_SPAN.num_milliseconds();
        let spread = vec![line(0, 1), line(day - 1, 1), line(day, 1)];
        assert_eq!(plan_batches(spread).len(), 2);
        assert!(plan_batches(Vec::new()).is_empty());
    }

    fn delivery(event_time: DateTime<Utc>, ingested_at: DateTime<Utc>) -> RecipientEvent {
        let ses = fixture("ses/event-publishing/delivery-record.json");
        let mut events =
            normalise(&ses, &Origin::default(), ingested_at).expect("official example");
        let mut event = events.remove(0);
        event.event_time = event_time;
        event
    }

    #[test]
    fn log_timestamps_fall_back_to_ingestion_outside_what_cloudwatch_accepts() {
        let now = Utc::now();
        let stamp = |age: Duration| log_timestamp(&delivery(now - age, now));
        // The template allows no retention below 30 days, so PutLogEvents' 14-day limit is
        // the binding one; an hour of margin covers the time the batch takes to arrive.
        assert_eq!(stamp(Duration::days(13)), now - Duration::days(13));
        let oldest = Duration::days(14) - Duration::hours(1);
        assert_eq!(stamp(oldest), now - oldest);
        assert_eq!(stamp(oldest + Duration::milliseconds(1)), now);
        assert_eq!(stamp(Duration::days(14)), now);
        assert_eq!(stamp(Duration::days(400)), now);
        assert_eq!(stamp(-Duration::minutes(59)), now + Duration::minutes(59));
        assert_eq!(stamp(-Duration::hours(3)), now);
        let line = to_line(&delivery(now - Duration::days(30), now)).expect("line");
        assert_eq!(line.timestamp_ms, now.timestamp_millis());
        let text: serde_json::Value = serde_json::from_str(&line.message).expect("json");
        assert_eq!(
            text["event_time"],
            serde_json::json!(ses_ledger::timestamp::format_timestamp(
                now - Duration::days(30)
            )),
            "the line keeps the real event time, in the one shape"
        );
    }

    #[test]
    fn an_oversize_line_drops_the_raw_payload_and_keeps_the_event() {
        let now = Utc::now();
        let small = delivery(now, now);
        assert_eq!(
            to_line(&small).expect("line").message,
            serde_json::to_string(&small).expect("json")
        );
        let mut huge = small.clone();
        huge.raw = Some(serde_json::json!({ "blob": "x".repeat(300 * 1024) }));
        let line = to_line(&huge).expect("line");
        assert!(
            line.message.len() <= MAX_EVENT_BYTES,
            "{}",
            line.message.len()
        );
        let text: serde_json::Value = serde_json::from_str(&line.message).expect("json");
        assert_eq!(text["event_id"], small.event_id.as_str());
        assert_eq!(text["recipient"], "recipient@example.com");
        assert_eq!(text["raw"]["omitted"], "payload larger than a log event");

        // Near SNS's limit in a field of the event itself: the ledger's view of it still fits.
        let mut long_subject = small.clone();
        long_subject.subject = Some("s".repeat(200 * 1024));
        long_subject.detail.delivery_smtp_response = Some("250 ".repeat(20 * 1024));
        let line = to_line(&long_subject).expect("line");
        assert!(
            line.message.len() <= MAX_EVENT_BYTES,
            "{}",
            line.message.len()
        );
        let text: serde_json::Value = serde_json::from_str(&line.message).expect("json");
        assert_eq!(text["event_id"], small.event_id.as_str());
        assert_eq!(text["recipient"], "recipient@example.com");
        assert!(text["raw"]["omitted"]
            .as_str()
            .is_some_and(|m| m.contains("what the ledger keeps")));
        assert!(text.get("subject").is_none());
    }
}
