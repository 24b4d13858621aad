//! `evidence`: a folder to attach to an SES review case. The figures come from the exact counters,
//! the event lists from the event stream, and every figure names its formula and the Logs Insights
//! query that reproduces it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ses_ledger::alarm::{SesFigure, Thresholds};
use ses_ledger::counters::{Metric, Scope};
use ses_ledger::event::{EventType, RecipientEvent};
use ses_ledger::insights;
use ses_ledger::ports::CounterReader;
use ses_ledger::rates::{over_period, HourlyCounts, WindowRates};

use crate::charts::{self, Charts, SesToday};
use crate::html;

pub struct Period {
    pub from: DateTime<Utc>,
    /// Exclusive.
    pub to: DateTime<Utc>,
}

impl Period {
    /// `--from` and `--to` are days; `to` is inclusive.
    pub fn from_dates(from: NaiveDate, to: NaiveDate) -> anyhow::Result<Period> {
        anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
        Ok(Period {
            from: from
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
                .ok_or_else(|| anyhow::anyhow!("bad --from"))?,
            to: (to + Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
                .ok_or_else(|| anyhow::anyhow!("bad --to"))?,
        })
    }
}

/// Complaint and bounce events of the period from the event log (deduplicated by event id).
pub async fn fetch_events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    period: &Period,
) -> anyhow::Result<Vec<RecipientEvent>> {
    // Backfilled lines carry their ingestion time as @timestamp: look from the start of the period
    // to now, then keep what happened in the period.
    let mut events: BTreeMap<String, RecipientEvent> = BTreeMap::new();
    let mut token = None;
    loop {
        let out = logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(period.from.timestamp_millis())
            .end_time(Utc::now().timestamp_millis() + 60_000)
            .filter_pattern("{ ($.event_type = \"Complaint\") || ($.event_type = \"Bounce\") }")
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "FilterLogEvents on {group}: {}",
                    ses_ledger::ports::StoreError::service("FilterLogEvents", e)
                )
            })?;
        for e in out.events() {
            let Some(text) = e.message() else { continue };
            // Lines of other shapes (none are expected) are skipped, not fatal.
            let Ok(event) = serde_json::from_str::<RecipientEvent>(text) else {
                continue;
            };
            if matches!(event.event_type, EventType::Complaint | EventType::Bounce)
                && event.event_time >= period.from
                && event.event_time < period.to
            {
                events.insert(event.event_id.clone(), event);
            }
        }
        match out.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    let mut events: Vec<RecipientEvent> = events.into_values().collect();
    events.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    Ok(events)
}

/// What the folder holds.
pub struct EvidenceFiles {
    pub summary: String,
    pub complaints_csv: String,
    pub bounces_csv: String,
    pub daily_csv: String,
    pub queries: String,
    pub charts: Charts,
    /// The summary, the charts and the tables in one page that needs no network.
    pub report_html: String,
}

/// What the pictures are drawn against: SES's levels and, when read, SES's own figures now.
pub struct PictureContext {
    pub complaint: Thresholds,
    pub bounce: Thresholds,
    /// SES's complaint and bounce figures for the account; None when not read (`--no-ses`).
    pub ses: Option<(SesFigure, SesFigure)>,
    pub now: DateTime<Utc>,
}

impl PictureContext {
    fn ses_today(&self) -> SesToday {
        let reported = |f: &SesFigure| match f {
            SesFigure::Reported(v) => Some(*v),
            _ => None,
        };
        SesToday {
            date: Some(self.now.date_naive()),
            complaint: self.ses.as_ref().and_then(|s| reported(&s.0)),
            bounce: self.ses.as_ref().and_then(|s| reported(&s.1)),
        }
    }

    fn describe_ses(&self) -> String {
        match &self.ses {
            None => "not read (--no-ses)".into(),
            Some((complaint, bounce)) => format!(
                "read {} (`AWS/SES` `Reputation.ComplaintRate` and `Reputation.BounceRate`, over SES's own window, not this period): complaint rate {}, bounce rate {}",
                ses_ledger::timestamp::format_timestamp(self.now),
                complaint.describe(),
                bounce.describe()
            ),
        }
    }
}

/// Builds every file from counters and events. Pure apart from reading counters.
pub async fn build(
    counters: &impl CounterReader,
    events: &[RecipientEvent],
    period: &Period,
    log_group: &str,
    feedback_loop_providers: &[String],
    pictures: &PictureContext,
) -> anyhow::Result<EvidenceFiles> {
    let last_bucket = period.to - Duration::hours(1);
    let account = counters
        .hourly(&Scope::Account, period.from, last_bucket)
        .await?;
    let overall = over_period(&account, period.from, period.to);
    let mut scopes = counters.scopes().await?;
    scopes.retain(|s| {
        matches!(
            s,
            Scope::ConfigurationSet(_) | Scope::Tenant(_) | Scope::Tag { .. } | Scope::Provider(_)
        )
    });
    scopes.sort();
    let mut per_scope: Vec<(Scope, WindowRates)> = Vec::new();
    for scope in scopes {
        let hours = counters.hourly(&scope, period.from, last_bucket).await?;
        let rates = over_period(&hours, period.from, period.to);
        if !rates.totals.metrics.is_empty() {
            per_scope.push((scope, rates));
        }
    }

    let mut daily: BTreeMap<NaiveDate, Vec<&HourlyCounts>> = BTreeMap::new();
    for h in &account {
        daily.entry(h.bucket.date_naive()).or_default().push(h);
    }
    let columns = Metric::ALL;
    let mut daily_csv = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["date".to_string()];
    header.extend(columns.iter().map(|m| m.attribute().to_string()));
    daily_csv.write_record(&header)?;
    let mut daily_md = String::from("| date | sends | deliveries | feedback-loop deliveries | hard bounces (counted) | other bounces | complaints |\n|---|---|---|---|---|---|---|\n");
    for (day, hours) in &daily {
        let sum = |m: Metric| hours.iter().map(|h| h.totals.get(m)).sum::<u64>();
        let mut row = vec![day.to_string()];
        row.extend(columns.iter().map(|m| sum(*m).to_string()));
        daily_csv.write_record(&row)?;
        writeln!(
            daily_md,
            "| {day} | {} | {} | {} | {} | {} | {} |",
            sum(Metric::Sends),
            sum(Metric::Deliveries),
            sum(Metric::FeedbackLoopDeliveries),
            sum(Metric::CountedHardBounces),
            sum(Metric::OtherBounces),
            sum(Metric::Complaints)
        )?;
    }

    let complaints: Vec<&RecipientEvent> = events
        .iter()
        .filter(|e| e.event_type == EventType::Complaint)
        .collect();
    let bounces: Vec<&RecipientEvent> = events
        .iter()
        .filter(|e| e.event_type == EventType::Bounce)
        .collect();
    let tally = |items: &[&RecipientEvent], key: &dyn Fn(&RecipientEvent) -> String| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for e in items {
            *m.entry(key(e)).or_default() += 1;
        }
        let mut rows: Vec<(String, usize)> = m.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        rows
    };
    let md_table = |title: &str, rows: &[(String, usize)]| {
        let mut s = format!("| {title} | count |\n|---|---|\n");
        for (k, v) in rows {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        if rows.is_empty() {
            s.push_str("| (none) | 0 |\n");
        }
        s
    };

    let mut summary = String::new();
    writeln!(
        summary,
        "# SES sending evidence, {} to {}\n",
        period.from.date_naive(),
        (period.to - Duration::days(1)).date_naive()
    )?;
    writeln!(summary, "Produced by ses-ledger from exact, deduplicated counts of every SES event (each event counted once, whichever format or retry delivered it). Times are UTC; periods are [from, to).\n")?;
    writeln!(summary, "## Rates over the whole period (account)\n")?;
    writeln!(summary, "| figure | formula | value |\n|---|---|---|")?;
    writeln!(
        summary,
        "| naive complaint rate | complaints / deliveries | {} |",
        overall.naive_complaint.describe()
    )?;
    writeln!(summary, "| feedback-loop complaint rate | complaints from {p} not from the suppression list / deliveries to {p} | {} |", overall.feedback_loop_complaint.describe(), p = feedback_loop_providers.join(", "))?;
    writeln!(summary, "| bounce rate (SES rules) | Permanent bounces except OnAccountSuppressionList and OnTenantSuppressionList / deliveries + bounces | {} |\n", overall.bounce.describe())?;
    writeln!(summary, "SES computes its complaint rate only over mail to providers that send it complaint feedback (Gmail does not); the feedback-loop figure is the comparable one.\n")?;
    writeln!(
        summary,
        "SES's own figures for the account: {}.\n",
        pictures.describe_ses()
    )?;
    writeln!(summary, "## Daily volumes (account)\n\n{daily_md}")?;
    if !per_scope.is_empty() {
        writeln!(summary, "## By configuration set, tenant and provider\n")?;
        writeln!(summary, "| scope | deliveries | naive complaint | feedback-loop complaint | bounce (SES rules) |\n|---|---|---|---|---|")?;
        for (scope, r) in &per_scope {
            writeln!(
                summary,
                "| {scope} | {} | {} | {} | {} |",
                r.totals.get(Metric::Deliveries),
                r.naive_complaint.describe(),
                r.feedback_loop_complaint.describe(),
                r.bounce.describe()
            )?;
        }
        writeln!(summary)?;
    }
    writeln!(
        summary,
        "## Bounces by type\n\n{}",
        md_table(
            "type/subtype",
            &tally(&bounces, &|e| e.event_subtype.clone().unwrap_or_default())
        )
    )?;
    writeln!(
        summary,
        "## Complaints by provider\n\n{}",
        md_table(
            "provider",
            &tally(&complaints, &|e| e
                .mailbox_provider
                .clone()
                .unwrap_or_default())
        )
    )?;
    writeln!(
        summary,
        "## Complaints by feedback type\n\n{}",
        md_table(
            "feedback type",
            &tally(&complaints, &|e| e
                .detail
                .complaint_feedback_type
                .clone()
                .unwrap_or_else(|| "unspecified".into()))
        )
    )?;
    writeln!(summary, "Every complaint and bounce is listed in complaints.csv and bounces.csv; daily.csv has the daily counts; queries.md the CloudWatch Logs Insights queries that reproduce each figure from the event stream.")?;

    let mut complaints_csv = csv::Writer::from_writer(Vec::new());
    complaints_csv.write_record([
        "event_time",
        "recipient",
        "mailbox_provider",
        "feedback_type",
        "complaint_subtype",
        "user_agent",
        "ses_message_id",
        "configuration_set",
        "sent_at",
        "event_id",
    ])?;
    for e in &complaints {
        complaints_csv.write_record([
            ses_ledger::timestamp::format_timestamp(e.event_time),
            e.recipient.clone().unwrap_or_default(),
            e.mailbox_provider.clone().unwrap_or_default(),
            e.detail.complaint_feedback_type.clone().unwrap_or_default(),
            e.detail.complaint_subtype.clone().unwrap_or_default(),
            e.detail.complaint_user_agent.clone().unwrap_or_default(),
            e.ses_message_id.clone(),
            e.configuration_set.clone().unwrap_or_default(),
            e.sent_at
                .map(ses_ledger::timestamp::format_timestamp)
                .unwrap_or_default(),
            e.event_id.clone(),
        ])?;
    }
    let mut bounces_csv = csv::Writer::from_writer(Vec::new());
    bounces_csv.write_record([
        "event_time",
        "recipient",
        "mailbox_provider",
        "bounce_type",
        "bounce_subtype",
        "status",
        "diagnostic_code",
        "counts_toward_bounce_rate",
        "ses_message_id",
        "event_id",
    ])?;
    for e in &bounces {
        bounces_csv.write_record([
            ses_ledger::timestamp::format_timestamp(e.event_time),
            e.recipient.clone().unwrap_or_default(),
            e.mailbox_provider.clone().unwrap_or_default(),
            e.detail.bounce_type.clone().unwrap_or_default(),
            e.detail.bounce_subtype.clone().unwrap_or_default(),
            e.detail.bounce_status.clone().unwrap_or_default(),
            e.detail.bounce_diagnostic_code.clone().unwrap_or_default(),
            e.is_counted_hard_bounce().to_string(),
            e.ses_message_id.clone(),
            e.event_id.clone(),
        ])?;
    }

    let queries = format!(
        "# CloudWatch Logs Insights queries\n\nLog group `{log_group}`, time range {} to {} (UTC). Each query reproduces a figure of summary.md from the event stream.\n\n\
         ## Complaint rate per day (naive and feedback-loop)\n\n```\n{}\n```\n\n## Every complaint\n\n```\n{}\n```\n\n## Every counted hard bounce\n\n```\n{}\n```\n",
        ses_ledger::timestamp::format_timestamp(period.from),
        ses_ledger::timestamp::format_timestamp(period.to),
        insights::complaint_rate(&Scope::Account, feedback_loop_providers),
        insights::complaints(&Scope::Account),
        insights::hard_bounces(&Scope::Account),
    );
    let first_day = period.from.date_naive();
    let last_day = (period.to - Duration::days(1)).date_naive();
    let charts = charts::draw(
        &charts::days(&account, first_day, last_day),
        &pictures.complaint,
        &pictures.bounce,
        pictures.ses_today(),
    )?;
    let report_html = html::page(
        &format!("SES sending evidence, {first_day} to {last_day}"),
        &format!(
            "ses-ledger, {}. The files beside this page: summary.md, complaints.csv, bounces.csv, daily.csv, queries.md and the charts as SVG.",
            ses_ledger::timestamp::format_timestamp(pictures.now)
        ),
        &charts,
        // The page has the title already.
        summary.split_once('\n').map_or("", |(_title, rest)| rest),
    );
    Ok(EvidenceFiles {
        charts,
        report_html,
        summary,
        complaints_csv: String::from_utf8(complaints_csv.into_inner()?)?,
        bounces_csv: String::from_utf8(bounces_csv.into_inner()?)?,
        daily_csv: String::from_utf8(daily_csv.into_inner()?)?,
        queries,
    })
}

pub fn write(dir: &Path, files: &EvidenceFiles) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in [
        ("summary.md", &files.summary),
        ("complaints.csv", &files.complaints_csv),
        ("bounces.csv", &files.bounces_csv),
        ("daily.csv", &files.daily_csv),
        ("queries.md", &files.queries),
        ("report.html", &files.report_html),
    ] {
        std::fs::write(dir.join(name), text)?;
    }
    for (name, _, svg) in files.charts.files() {
        std::fs::write(dir.join(name), svg)?;
    }
    Ok(())
}
