//! What `doctor` reads from AWS, as plain facts for `rules.rs`. One function per question; an
//! AWS error comes back as its message (with the error code), so the caller can turn it into a
//! failed check that names the permission instead of stopping the run.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use chrono::{DateTime, Utc};

use super::rules::{EventDestination, Identity, QueryOutcome};

/// An AWS error as one line: the operation and the service's code and message (or, for an
/// error that never reached the service, the whole chain of causes).
pub fn say<E>(operation: &str, e: E) -> String
where
    E: aws_sdk_cloudwatch::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{operation}: {code}: {message}"),
        (Some(code), None) => format!("{operation}: {code}"),
        _ => format!(
            "{operation}: {}",
            aws_sdk_cloudwatch::error::DisplayErrorContext(&e)
        ),
    }
}

/// The clients doctor uses, built once from one SDK configuration.
pub struct Clients {
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sesv2: aws_sdk_sesv2::Client,
    pub ses: aws_sdk_ses::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Clients {
        Clients {
            lambda: aws_sdk_lambda::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            sesv2: aws_sdk_sesv2::Client::new(sdk),
            ses: aws_sdk_ses::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

/// A function's state, last update status and the reason Lambda gives.
pub struct FunctionState {
    pub state: Option<String>,
    pub last_update: Option<String>,
    pub reason: Option<String>,
}

pub async fn function_state(c: &Clients, name: &str) -> Result<FunctionState, String> {
    let out = c
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .map_err(|e| say("GetFunction", e))?;
    let config = out.configuration();
    Ok(FunctionState {
        state: config
            .and_then(|c| c.state())
            .map(|s| s.as_str().to_string()),
        last_update: config
            .and_then(|c| c.last_update_status())
            .map(|s| s.as_str().to_string()),
        reason: config
            .and_then(|c| c.state_reason().or(c.last_update_status_reason()))
            .map(str::to_string),
    })
}

/// Messages in a queue: visible and in flight (SQS's approximate counts).
pub async fn queue_depth(c: &Clients, url: &str) -> Result<u64, String> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = c
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| say("GetQueueAttributes", e))?;
    let attrs = out.attributes();
    let get = |a: A| {
        attrs
            .and_then(|m| m.get(&a))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(get(A::ApproximateNumberOfMessages) + get(A::ApproximateNumberOfMessagesNotVisible))
}

/// One metric to read: namespace, name, dimensions, statistic.
#[derive(Debug, Clone)]
pub struct MetricQuery {
    pub id: String,
    pub namespace: &'static str,
    pub name: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub stat: &'static str,
}

/// Each query's datapoints (time, value) over `from..to` at `period` seconds, in one or more
/// GetMetricData calls (500 queries per call at most).
pub async fn metric_points(
    c: &Clients,
    queries: &[MetricQuery],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    period: i32,
) -> Result<BTreeMap<String, Vec<(i64, f64)>>, String> {
    let mut out: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for chunk in queries.chunks(500) {
        let mut request = c
            .cloudwatch
            .get_metric_data()
            .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                from.timestamp(),
            ))
            .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                to.timestamp(),
            ));
        for q in chunk {
            let mut metric = Metric::builder().namespace(q.namespace).metric_name(q.name);
            for (name, value) in &q.dimensions {
                metric = metric.dimensions(Dimension::builder().name(*name).value(value).build());
            }
            request = request.metric_data_queries(
                MetricDataQuery::builder()
                    .id(&q.id)
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric.build())
                            .period(period)
                            .stat(q.stat)
                            .build(),
                    )
                    .return_data(true)
                    .build(),
            );
        }
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| say("GetMetricData", e))?;
            for r in page.metric_data_results() {
                let points = out
                    .entry(r.id().unwrap_or_default().to_string())
                    .or_default();
                points.extend(
                    r.timestamps()
                        .iter()
                        .map(|t| t.secs())
                        .zip(r.values().iter().copied()),
                );
            }
        }
    }
    Ok(out)
}

/// Every configuration set name in the account and Region (paged).
pub async fn configuration_sets(c: &Clients) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .sesv2
            .list_configuration_sets()
            .set_next_token(token)
            .page_size(1000)
            .send()
            .await
            .map_err(|e| say("ListConfigurationSets", e))?;
        names.extend(out.configuration_sets().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(names);
        }
    }
}

pub async fn event_destinations(c: &Clients, set: &str) -> Result<Vec<EventDestination>, String> {
    let out = c
        .sesv2
        .get_configuration_set_event_destinations()
        .configuration_set_name(set)
        .send()
        .await
        .map_err(|e| say("GetConfigurationSetEventDestinations", e))?;
    Ok(out
        .event_destinations()
        .iter()
        .map(|d| EventDestination {
            configuration_set: set.to_string(),
            name: d.name().to_string(),
            enabled: d.enabled(),
            types: d
                .matching_event_types()
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
            sns_topic: d.sns_destination().map(|s| s.topic_arn().to_string()),
            event_bus: d
                .event_bridge_destination()
                .map(|b| b.event_bus_arn().to_string()),
        })
        .collect())
}

/// Every identity verified for sending, with its default configuration set (SES v2) and its
/// notification topics (SES classic, 100 identities per call, the API's limit).
pub async fn identities(c: &Clients) -> Result<Vec<Identity>, String> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .sesv2
            .list_email_identities()
            .set_next_token(token)
            .page_size(1000)
            .send()
            .await
            .map_err(|e| say("ListEmailIdentities", e))?;
        names.extend(
            out.email_identities()
                .iter()
                .filter(|i| {
                    i.verification_status()
                        .is_none_or(|s| s.as_str() == "SUCCESS")
                })
                .filter_map(|i| i.identity_name().map(str::to_string)),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut identities = Vec::with_capacity(names.len());
    for name in &names {
        let out = c
            .sesv2
            .get_email_identity()
            .email_identity(name)
            .send()
            .await
            .map_err(|e| say("GetEmailIdentity", e))?;
        identities.push(Identity {
            name: name.clone(),
            default_configuration_set: out.configuration_set_name().map(str::to_string),
            ..Identity::default()
        });
    }
    for chunk in identities.chunks_mut(100) {
        let out = c
            .ses
            .get_identity_notification_attributes()
            .set_identities(Some(chunk.iter().map(|i| i.name.clone()).collect()))
            .send()
            .await
            .map_err(|e| say("GetIdentityNotificationAttributes", e))?;
        let attrs = out.notification_attributes();
        for identity in chunk.iter_mut() {
            if let Some(a) = attrs.get(&identity.name) {
                let topic = |t: &str| (!t.is_empty()).then(|| t.to_string());
                identity.bounce_topic = topic(a.bounce_topic());
                identity.complaint_topic = topic(a.complaint_topic());
                identity.delivery_topic = topic(a.delivery_topic());
                identity.headers_in_notifications = a.headers_in_bounce_notifications_enabled()
                    && a.headers_in_complaint_notifications_enabled()
                    && a.headers_in_delivery_notifications_enabled();
            }
        }
    }
    Ok(identities)
}

/// The stack's saved queries: every query definition whose name starts with `prefix`.
pub struct SavedQuery {
    pub name: String,
    pub query: String,
    pub log_groups: Vec<String>,
}

pub async fn saved_queries(c: &Clients, prefix: &str) -> Result<Vec<SavedQuery>, String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .logs
            .describe_query_definitions()
            .query_definition_name_prefix(prefix)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| say("DescribeQueryDefinitions", e))?;
        out.extend(page.query_definitions().iter().map(|d| SavedQuery {
            name: d.name().unwrap_or_default().to_string(),
            query: d.query_string().unwrap_or_default().to_string(),
            log_groups: d.log_group_names().to_vec(),
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Runs one query over `from..to` and waits for it to end, at most `budget`.
pub async fn run_query(
    c: &Clients,
    log_groups: &[String],
    query: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    budget: Duration,
) -> QueryOutcome {
    let started = c
        .logs
        .start_query()
        .set_log_group_names(Some(log_groups.to_vec()))
        .query_string(query)
        .start_time(from.timestamp())
        .end_time(to.timestamp())
        .send()
        .await;
    let id = match started {
        Ok(out) => out.query_id().unwrap_or_default().to_string(),
        Err(e) => {
            return QueryOutcome::Refused {
                message: say("StartQuery", e),
            }
        }
    };
    let begun = std::time::Instant::now();
    loop {
        match c.logs.get_query_results().query_id(&id).send().await {
            Ok(out) => {
                let status = out
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                match status.as_str() {
                    "Complete" => {
                        return QueryOutcome::Complete {
                            records_matched: out
                                .statistics()
                                .map(|s| s.records_matched() as u64)
                                .unwrap_or(0),
                        }
                    }
                    "Scheduled" | "Running" | "" => {}
                    _ => return QueryOutcome::Ended { status },
                }
            }
            Err(e) => {
                return QueryOutcome::Ended {
                    status: say("GetQueryResults", e),
                }
            }
        }
        if begun.elapsed() >= budget {
            // Stop it: a query left running holds one of the account's concurrent queries.
            let _ = c.logs.stop_query().query_id(&id).send().await;
            return QueryOutcome::StillRunning {
                seconds: begun.elapsed().as_secs(),
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every subscription ARN of a topic (`PendingConfirmation` for unconfirmed ones).
pub async fn subscriptions(c: &Clients, topic: &str) -> Result<Vec<String>, String> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(topic)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| say("ListSubscriptionsByTopic", e))?;
        arns.extend(
            out.subscriptions()
                .iter()
                .filter_map(|s| s.subscription_arn().map(str::to_string)),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(arns);
        }
    }
}
