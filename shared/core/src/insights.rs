//! CloudWatch Logs Insights queries over the event stream. One place for the field names the
//! queries rely on (they are the `RecipientEvent` JSON names) and for how a scope becomes a filter.

use crate::ledger::counters::Scope;

/// Quotes a value for a Logs Insights string literal.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The filter clause selecting one scope's events (None for the whole account).
pub fn scope_filter(scope: &Scope) -> Option<String> {
    Some(match scope {
        Scope::Account => return None,
        Scope::ConfigurationSet(v) => format!("configuration_set = {}", quote(v)),
        Scope::Identity(v) => format!("source_arn like {}", quote(&format!(":identity/{v}"))),
        // A field with `:` or `-` in its name is written in backticks (CWL_QuerySyntax-Guidelines).
        Scope::FromDomain(v) => format!(
            "(`tags.ses:from-domain.0` = {q} or source_domain = {q})",
            q = quote(v)
        ),
        Scope::Provider(v) => format!("mailbox_provider = {}", quote(v)),
        Scope::Tenant(v) => format!(
            "`tags.{}.0` = {}",
            crate::model::documented::SES_TENANT_TAG,
            quote(v)
        ),
        Scope::Tag { name, value } => format!("`tags.{name}.0` = {}", quote(value)),
        Scope::MailboxSimulator => format!(
            "recipient_domain = {}",
            quote(crate::ledger::counters::MAILBOX_SIMULATOR_DOMAIN)
        ),
    })
}

fn with_scope(scope: &Scope, condition: &str) -> String {
    match scope_filter(scope) {
        Some(f) => format!("filter {condition} and {f}"),
        None => format!("filter {condition}"),
    }
}

/// Every complaint of a scope, newest first: the events behind a complaint rate. The log is at
/// least once, so the list is sorted, then each event kept once (`dedup`, after which AWS allows
/// only `limit`).
pub fn complaints(scope: &Scope) -> String {
    format!(
        "fields @timestamp, event_time, recipient, mailbox_provider, complaint_feedback_type, complaint_subtype, ses_message_id, configuration_set, event_id\n\
         | {}\n| sort event_time desc\n| dedup event_id\n| limit 1000",
        with_scope(scope, "event_type = \"Complaint\"")
    )
}

/// Every counted hard bounce of a scope.
pub fn hard_bounces(scope: &Scope) -> String {
    format!(
        "fields @timestamp, event_time, recipient, bounce_type, bounce_subtype, bounce_status, bounce_diagnostic_code, ses_message_id, event_id\n\
         | {}\n| sort event_time desc\n| dedup event_id\n| limit 1000",
        with_scope(
            scope,
            &format!(
                "event_type = \"Bounce\" and bounce_type = \"Permanent\" and bounce_subtype not in [{}]",
                crate::model::documented::SUPPRESSION_LIST_SUBTYPES
                    .iter()
                    .map(|s| quote(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        )
    )
}

/// The complaint-rate computation itself, per day, naive and feedback-loop side by side: the
/// feedback-loop rate divides complaints from `feedback_loop_providers` (not those SES made from
/// its suppression list) by deliveries to them. Each event counts once however often the log
/// holds it: a first `stats` by `event_id`, a second over its groups (CWL_QuerySyntax-Stats). The
/// flags are numbers from documented functions: `strcontains` gives 1 or 0, membership in the
/// provider list is `strcontains` of `|a|b|` over `|provider|`, `isempty` is 1 for no subtype;
/// comparisons are documented for `filter` alone. It reads only deliveries and complaints, and
/// says so first: `event_type` is a field index of the event log (template.yaml), so the query
/// scans those events alone. For the account, this is template.yaml's saved
/// `ComplaintRateQuery` (a test holds the two equal).
pub fn complaint_rate(scope: &Scope, feedback_loop_providers: &[String]) -> String {
    let filter = match scope_filter(scope) {
        Some(f) => format!("| filter {f}\n"),
        None => String::new(),
    };
    // Provider names are `[a-z0-9-]` (the parameter's pattern); anything else could not be one.
    let providers: Vec<&str> = feedback_loop_providers
        .iter()
        .map(String::as_str)
        .filter(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .collect();
    format!(
        "filter event_type in [\"Delivery\", \"Complaint\"]\n\
         {filter}\
         | fields strcontains(event_type, \"Delivery\") as is_delivery,\n\
         \x20 strcontains(event_type, \"Complaint\") as is_complaint,\n\
         \x20 strcontains(\"|{p}|\", concat(\"|\", mailbox_provider, \"|\")) as is_fbl,\n\
         \x20 isempty(complaint_subtype) as not_suppressed\n\
         | stats max(is_delivery) as delivery, max(is_complaint) as complaint,\n\
         \x20 max(is_delivery * is_fbl) as fbl_delivery, max(is_complaint * is_fbl * not_suppressed) as fbl_complaint,\n\
         \x20 min(@timestamp) as @t by event_id\n\
         | stats sum(complaint) as complaints, sum(delivery) as deliveries,\n\
         \x20 sum(fbl_complaint) as fbl_complaints, sum(fbl_delivery) as fbl_deliveries,\n\
         \x20 100 * sum(complaint) / sum(delivery) as naive_rate_pct,\n\
         \x20 100 * sum(fbl_complaint) / sum(fbl_delivery) as feedback_loop_rate_pct\n\
         \x20 by datefloor(@t, 24h)",
        p = providers.join("|")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_filters_quote_their_values() {
        assert_eq!(scope_filter(&Scope::Account), None);
        assert_eq!(
            scope_filter(&Scope::Provider("ya\"hoo".into())).as_deref(),
            Some("mailbox_provider = \"ya\\\"hoo\"")
        );
        let q = complaints(&Scope::Tag {
            name: "tenant".into(),
            value: "acme".into(),
        });
        assert!(
            q.contains("filter event_type = \"Complaint\" and `tags.tenant.0` = \"acme\""),
            "{q}"
        );
        let rate = complaint_rate(&Scope::Account, &["yahoo".into(), "microsoft".into()]);
        assert!(
            rate.contains(
                "strcontains(\"|yahoo|microsoft|\", concat(\"|\", mailbox_provider, \"|\"))"
            ),
            "{rate}"
        );
        assert!(
            rate.starts_with("filter event_type in [\"Delivery\", \"Complaint\"]\n"),
            "the rate query does not narrow on the event_type index first:\n{rate}"
        );
    }
}
