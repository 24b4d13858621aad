//! A loopback stand-in for the parts of SES v2 that moto 5.2.5 lacks: the account-level
//! suppression list (`ses-ledger suppression`), tenants with their reputation entities (the
//! alarm's tenant status), and what `ses-ledger doctor` reads and sends: configuration sets with
//! their event destinations, email identities with their default configuration set, and
//! `SendEmail` to the mailbox simulator. It speaks the operations' REST-JSON wire format as the
//! SDK sends it: `GET` and `PUT /v2/email/suppression/addresses` (the list paged with `NextToken`
//! at a page size of its own, so a test sees more than one page), `POST /v2/email/tenants/get`,
//! `GET /v2/email/reputation/entities/RESOURCE/<ARN>`, `POST /v2/email/list-configuration-sets`,
//! `GET /v2/email/configuration-sets/<NAME>/event-destinations`, `POST
//! /v2/email/list-identities`, `GET /v2/email/identities/<NAME>` and `POST
//! /v2/email/outbound-emails`; and, for SES classic (awsQuery, `POST /`),
//! `GetIdentityNotificationAttributes`, whose topics moto 5.2.5 leaves out of its answer. It
//! ignores the SigV4 signature.
//!
//! `SendEmail` does what SES documents for the mailbox simulator: for each event type the
//! configuration set's enabled SNS destinations match, it publishes to the destination's topic
//! (moto's SNS, a real publish) the event-publishing record of that type, built from AWS's own
//! example records (events/ses/event-publishing) with this message's id, time, sender,
//! recipient and tags. A test can drop one event type of one address, as a broken destination
//! would. It is the only stand-in of this project that is not an emulator of AWS's making; what
//! it fakes is listed in docs/testing.md.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

#[derive(Default)]
struct State {
    /// Address -> (reason, last update in epoch seconds).
    entries: BTreeMap<String, (String, i64)>,
    list_calls: usize,
    put_calls: usize,
    /// Tenant name -> (its `Tenant` object, its `ReputationEntity` object if SES has one).
    tenants: BTreeMap<String, (Value, Option<Value>)>,
    /// Configuration set -> its event destinations, as `GetConfigurationSetEventDestinations`
    /// returns them.
    configuration_sets: BTreeMap<String, Vec<Value>>,
    /// Identity -> (identity type, default configuration set).
    identities: BTreeMap<String, (String, Option<String>)>,
    /// Where `SendEmail` publishes (moto's SNS).
    sns: Option<aws_sdk_sns::Client>,
    /// (address, event type) pairs `SendEmail` does not publish.
    dropped: BTreeSet<(String, String)>,
    /// (message id, recipient) of every message sent.
    sent: Vec<(String, String)>,
    /// SES classic's identity notifications: identity -> (Bounce, Complaint, Delivery topics,
    /// headers included).
    notifications: BTreeMap<String, ([Option<String>; 3], bool)>,
}

pub struct SesV2Stub {
    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_SESV2`.
    pub url: String,
    page_size: usize,
    state: Arc<Mutex<State>>,
}

impl SesV2Stub {
    /// Serves on a free loopback port until the runtime ends, with `entries` (address, reason)
    /// already listed.
    pub async fn start(page_size: usize, entries: &[(&str, &str)]) -> SesV2Stub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        {
            let mut s = state.lock().expect("state");
            for (address, reason) in entries {
                s.entries
                    .insert(address.to_string(), (reason.to_string(), 1_700_000_000));
            }
        }
        let served = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(answer(request, &state, page_size).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        SesV2Stub {
            url,
            page_size,
            state,
        }
    }

    /// Adds a tenant: its sending status and, when given, its reputation entity (the
    /// `ReputationEntity` object of `GetReputationEntity`, without its reference).
    pub fn add_tenant(&self, name: &str, sending_status: &str, entity: Option<Value>) -> String {
        let arn = format!("arn:aws:ses:us-east-1:123456789012:tenant/{name}/t-{name}");
        let tenant = json!({
            "TenantName": name,
            "TenantId": format!("t-{name}"),
            "TenantArn": arn,
            "SendingStatus": sending_status,
            "CreatedTimestamp": 1_750_000_000,
        });
        let entity = entity.map(|mut e| {
            e["ReputationEntityReference"] = json!(arn);
            e["ReputationEntityType"] = json!("RESOURCE");
            e
        });
        self.state
            .lock()
            .expect("state")
            .tenants
            .insert(name.to_string(), (tenant, entity));
        arn
    }

    /// Adds a configuration set with its event destinations (each as the API returns it:
    /// `Name`, `Enabled`, `MatchingEventTypes`, `SnsDestination`...).
    pub fn add_configuration_set(&self, name: &str, destinations: Vec<Value>) {
        self.state
            .lock()
            .expect("state")
            .configuration_sets
            .insert(name.to_string(), destinations);
    }

    /// Adds an identity verified for sending (`DOMAIN` or `EMAIL_ADDRESS`), with its default
    /// configuration set.
    pub fn add_identity(&self, name: &str, identity_type: &str, default_set: Option<&str>) {
        self.state.lock().expect("state").identities.insert(
            name.to_string(),
            (identity_type.to_string(), default_set.map(str::to_string)),
        );
    }

    /// SES classic's notification topics of an identity (Bounce, Complaint, Delivery; None for
    /// one not set), and whether they include headers.
    pub fn set_notifications(&self, identity: &str, topics: [Option<&str>; 3], headers: bool) {
        self.state.lock().expect("state").notifications.insert(
            identity.to_string(),
            (topics.map(|t| t.map(str::to_string)), headers),
        );
    }

    /// `SendEmail` publishes its events with this client (pointed at moto's SNS).
    pub fn publish_with(&self, sns: aws_sdk_sns::Client) {
        self.state.lock().expect("state").sns = Some(sns);
    }

    /// `SendEmail` to `address` will not publish its `event_type` event (`Bounce`...).
    pub fn drop_event(&self, address: &str, event_type: &str) {
        self.state
            .lock()
            .expect("state")
            .dropped
            .insert((address.to_string(), event_type.to_string()));
    }

    /// (message id, recipient) of every message `SendEmail` took.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.state.lock().expect("state").sent.clone()
    }

    /// Address -> reason, as the list stands.
    pub fn entries(&self) -> BTreeMap<String, String> {
        let s = self.state.lock().expect("state");
        s.entries
            .iter()
            .map(|(a, (r, _))| (a.clone(), r.clone()))
            .collect()
    }

    /// (ListSuppressedDestinations calls, PutSuppressedDestination calls) so far.
    pub fn calls(&self) -> (usize, usize) {
        let s = self.state.lock().expect("state");
        (s.list_calls, s.put_calls)
    }

    pub fn page_size(&self) -> usize {
        self.page_size
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn bad_request(message: &str) -> Response<Full<Bytes>> {
    let mut r = reply(StatusCode::BAD_REQUEST, json!({ "message": message }));
    r.headers_mut().insert(
        "x-amzn-errortype",
        hyper::header::HeaderValue::from_static("BadRequestException"),
    );
    r
}

fn not_found(message: &str) -> Response<Full<Bytes>> {
    let mut r = reply(StatusCode::NOT_FOUND, json!({ "message": message }));
    r.headers_mut().insert(
        "x-amzn-errortype",
        hyper::header::HeaderValue::from_static("NotFoundException"),
    );
    r
}

async fn answer(
    request: Request<Incoming>,
    state: &Mutex<State>,
    page_size: usize,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    if path == "/" && request.method() == Method::POST {
        return classic(request, state).await;
    }
    if path == "/v2/email/tenants/get" && request.method() == Method::POST {
        let Ok(body) = request.into_body().collect().await else {
            return bad_request("unreadable body");
        };
        let name = serde_json::from_slice::<Value>(&body.to_bytes())
            .ok()
            .and_then(|b| b["TenantName"].as_str().map(str::to_string))
            .unwrap_or_default();
        let s = state.lock().expect("state");
        return match s.tenants.get(&name) {
            Some((tenant, _)) => reply(StatusCode::OK, json!({ "Tenant": tenant })),
            None => not_found(&format!("tenant {name} does not exist")),
        };
    }
    if let Some(reference) = path.strip_prefix("/v2/email/reputation/entities/RESOURCE/") {
        // The SDK escapes the ARN's `:` and `/` in the path.
        let arn = percent_encoding::percent_decode_str(reference)
            .decode_utf8_lossy()
            .into_owned();
        let s = state.lock().expect("state");
        return match s
            .tenants
            .values()
            .find(|(t, _)| t["TenantArn"] == arn.as_str())
            .and_then(|(_, e)| e.clone())
        {
            Some(entity) => reply(StatusCode::OK, json!({ "ReputationEntity": entity })),
            None => not_found(&format!("no reputation entity {arn}")),
        };
    }
    if path == "/v2/email/list-configuration-sets"
        || path == "/v2/email/list-identities"
        || path == "/v2/email/outbound-emails"
        || path.starts_with("/v2/email/configuration-sets/")
        || path.starts_with("/v2/email/identities/")
    {
        return doctor_routes(&path, request, state).await;
    }
    if path != "/v2/email/suppression/addresses" {
        return reply(StatusCode::NOT_FOUND, json!({ "message": "not emulated" }));
    }
    match *request.method() {
        Method::GET => {
            let start = request
                .uri()
                .query()
                .unwrap_or_default()
                .split('&')
                .find_map(|p| p.strip_prefix("NextToken="))
                .map(|t| t.parse::<usize>())
                .transpose();
            let Ok(start) = start else {
                return bad_request("bad NextToken");
            };
            let start = start.unwrap_or(0);
            let mut s = state.lock().expect("state");
            s.list_calls += 1;
            let page: Vec<Value> = s
                .entries
                .iter()
                .skip(start)
                .take(page_size)
                .map(|(address, (reason, time))| {
                    json!({ "EmailAddress": address, "Reason": reason, "LastUpdateTime": time })
                })
                .collect();
            let mut body = json!({ "SuppressedDestinationSummaries": page });
            if start + page_size < s.entries.len() {
                body["NextToken"] = json!((start + page_size).to_string());
            }
            reply(StatusCode::OK, body)
        }
        Method::PUT => {
            let Ok(body) = request.into_body().collect().await else {
                return bad_request("unreadable body");
            };
            let Ok(body) = serde_json::from_slice::<Value>(&body.to_bytes()) else {
                return bad_request("body is not JSON");
            };
            let (Some(address), Some(reason)) =
                (body["EmailAddress"].as_str(), body["Reason"].as_str())
            else {
                return bad_request("EmailAddress and Reason are required");
            };
            if !matches!(reason, "BOUNCE" | "COMPLAINT") {
                return bad_request("Reason must be BOUNCE or COMPLAINT");
            }
            let mut s = state.lock().expect("state");
            s.put_calls += 1;
            s.entries
                .insert(address.to_string(), (reason.to_string(), 1_800_000_000));
            reply(StatusCode::OK, json!({}))
        }
        _ => reply(StatusCode::METHOD_NOT_ALLOWED, json!({})),
    }
}

/// A path segment as the SDK escaped it.
fn decoded(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// What `doctor` reads and the canary sends.
async fn doctor_routes(
    path: &str,
    request: Request<Incoming>,
    state: &Mutex<State>,
) -> Response<Full<Bytes>> {
    if path == "/v2/email/list-configuration-sets" {
        let s = state.lock().expect("state");
        let names: Vec<&String> = s.configuration_sets.keys().collect();
        return reply(StatusCode::OK, json!({ "ConfigurationSets": names }));
    }
    if path == "/v2/email/list-identities" {
        let s = state.lock().expect("state");
        let identities: Vec<Value> = s
            .identities
            .iter()
            .map(|(name, (kind, _))| {
                json!({ "IdentityType": kind, "IdentityName": name, "SendingEnabled": true, "VerificationStatus": "SUCCESS" })
            })
            .collect();
        return reply(StatusCode::OK, json!({ "EmailIdentities": identities }));
    }
    if let Some(rest) = path.strip_prefix("/v2/email/configuration-sets/") {
        let Some(name) = rest.strip_suffix("/event-destinations") else {
            return reply(StatusCode::NOT_FOUND, json!({ "message": "not emulated" }));
        };
        let name = decoded(name);
        let s = state.lock().expect("state");
        return match s.configuration_sets.get(&name) {
            Some(d) => reply(StatusCode::OK, json!({ "EventDestinations": d })),
            None => not_found(&format!("Configuration set <{name}> does not exist.")),
        };
    }
    if let Some(name) = path.strip_prefix("/v2/email/identities/") {
        let name = decoded(name);
        let s = state.lock().expect("state");
        return match s.identities.get(&name) {
            Some((kind, set)) => {
                let mut body = json!({
                    "IdentityType": kind,
                    "VerifiedForSendingStatus": true,
                    "VerificationStatus": "SUCCESS",
                    "FeedbackForwardingStatus": true,
                });
                if let Some(set) = set {
                    body["ConfigurationSetName"] = json!(set);
                }
                reply(StatusCode::OK, body)
            }
            None => not_found(&format!("Email identity <{name}> does not exist.")),
        };
    }
    // POST /v2/email/outbound-emails: SendEmail.
    let Ok(body) = request.into_body().collect().await else {
        return bad_request("unreadable body");
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body.to_bytes()) else {
        return bad_request("body is not JSON");
    };
    send_email(&body, state).await
}

/// The events SES publishes for a message to each mailbox simulator address, as its guide
/// describes the simulator, and the bounce each bounce carries.
fn simulator_events(address: &str) -> Option<&'static [&'static str]> {
    Some(match address {
        "success@simulator.amazonses.com" | "ooto@simulator.amazonses.com" => &["Send", "Delivery"],
        "bounce@simulator.amazonses.com" | "suppressionlist@simulator.amazonses.com" => {
            &["Send", "Bounce"]
        }
        "complaint@simulator.amazonses.com" => &["Send", "Delivery", "Complaint"],
        _ => return None,
    })
}

async fn send_email(body: &Value, state: &Mutex<State>) -> Response<Full<Bytes>> {
    let from = body["FromEmailAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let to: Vec<String> = body["Destination"]["ToAddresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let set = body["ConfigurationSetName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let message_id = format!(
        "0100{}-{}-000000",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let (destinations, sns, dropped, identity) = {
        let mut s = state.lock().expect("state");
        let domain = from
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        let identity = [from.clone(), domain]
            .into_iter()
            .find(|i| s.identities.contains_key(i));
        let Some(identity) = identity else {
            return bad_request(&format!("Email address is not verified. The following identities failed the check in region US-EAST-1: {from}"));
        };
        let Some(destinations) = s.configuration_sets.get(&set).cloned() else {
            return not_found(&format!("Configuration set <{set}> does not exist."));
        };
        if to.is_empty() {
            return bad_request("Missing final '@domain'");
        }
        for t in &to {
            s.sent.push((message_id.clone(), t.clone()));
        }
        (destinations, s.sns.clone(), s.dropped.clone(), identity)
    };
    let mut records = Vec::new();
    for address in &to {
        let Some(events) = simulator_events(address) else {
            continue;
        };
        for event in events {
            if dropped.contains(&(address.clone(), event.to_string())) {
                continue;
            }
            records.push((
                event.to_string(),
                record(event, &message_id, &from, &identity, address, &set, body),
            ));
        }
    }
    let topics = |event: &str| -> Vec<String> {
        let api_name = match event {
            "DeliveryDelay" => "DELIVERY_DELAY".to_string(),
            other => other.to_ascii_uppercase(),
        };
        destinations
            .iter()
            .filter(|d| d["Enabled"].as_bool().unwrap_or(false))
            .filter(|d| {
                d["MatchingEventTypes"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == api_name.as_str()))
            })
            .filter_map(|d| d["SnsDestination"]["TopicArn"].as_str().map(str::to_string))
            .collect()
    };
    if let Some(sns) = sns {
        for (event, record) in records {
            for topic in topics(&event) {
                if let Err(e) = sns
                    .publish()
                    .topic_arn(&topic)
                    .message(record.to_string())
                    .send()
                    .await
                {
                    return reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        json!({ "message": format!("stand-in could not publish to {topic}: {e}") }),
                    );
                }
            }
        }
    }
    reply(StatusCode::OK, json!({ "MessageId": message_id }))
}

/// One event-publishing record of `event` for this message, from AWS's example record of that
/// type.
fn record(
    event: &str,
    message_id: &str,
    from: &str,
    identity: &str,
    to: &str,
    set: &str,
    request: &Value,
) -> Value {
    let file = format!(
        "ses/event-publishing/{}-record.json",
        event.to_ascii_lowercase()
    );
    let mut r = ses_ledger::testkit::fixtures::fixture(&file);
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut tags = json!({
        "ses:configuration-set": [set],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": [from.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()],
        "ses:caller-identity": ["ses-ledger-doctor"],
    });
    for tag in request["EmailTags"].as_array().into_iter().flatten() {
        if let (Some(n), Some(v)) = (tag["Name"].as_str(), tag["Value"].as_str()) {
            tags[n] = json!([v]);
        }
    }
    r["mail"]["timestamp"] = json!(now);
    r["mail"]["messageId"] = json!(message_id);
    r["mail"]["source"] = json!(from);
    r["mail"]["sourceArn"] = json!(format!(
        "arn:aws:ses:us-east-1:123456789012:identity/{identity}"
    ));
    r["mail"]["destination"] = json!([to]);
    r["mail"]["tags"] = tags;
    if let Some(headers) = r["mail"]["commonHeaders"].as_object_mut() {
        headers.insert("to".into(), json!([to]));
        headers.insert("from".into(), json!([from]));
        headers.insert("messageId".into(), json!(message_id));
    }
    r["mail"].as_object_mut().map(|m| m.remove("headers"));
    match event {
        "Delivery" => {
            r["delivery"]["timestamp"] = json!(now);
            r["delivery"]["recipients"] = json!([to]);
        }
        "Bounce" => {
            let subtype = if to.starts_with("suppressionlist@") {
                "OnAccountSuppressionList"
            } else {
                "General"
            };
            r["bounce"]["timestamp"] = json!(now);
            r["bounce"]["bounceType"] = json!("Permanent");
            r["bounce"]["bounceSubType"] = json!(subtype);
            r["bounce"]["bouncedRecipients"] = json!([{
                "emailAddress": to, "action": "failed", "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown"
            }]);
        }
        "Complaint" => {
            r["complaint"]["timestamp"] = json!(now);
            r["complaint"]["complainedRecipients"] = json!([{ "emailAddress": to }]);
        }
        _ => {}
    }
    r
}

/// SES classic's `GetIdentityNotificationAttributes` (awsQuery: a form body, an XML answer).
async fn classic(request: Request<Incoming>, state: &Mutex<State>) -> Response<Full<Bytes>> {
    let Ok(body) = request.into_body().collect().await else {
        return bad_request("unreadable body");
    };
    let form = String::from_utf8_lossy(&body.to_bytes()).into_owned();
    let fields: Vec<(String, String)> = form
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode = |t: &str| decoded(&t.replace('+', " "));
            (decode(k), decode(v))
        })
        .collect();
    let action = fields
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    if action != "GetIdentityNotificationAttributes" {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({ "message": format!("{action} is not emulated") }),
        );
    }
    let s = state.lock().expect("state");
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut entries = String::new();
    for (_, identity) in fields
        .iter()
        .filter(|(k, _)| k.starts_with("Identities.member."))
    {
        let (topics, headers) = s.notifications.get(identity).cloned().unwrap_or_default();
        let mut value = format!(
            "<ForwardingEnabled>true</ForwardingEnabled>\
             <HeadersInBounceNotificationsEnabled>{headers}</HeadersInBounceNotificationsEnabled>\
             <HeadersInComplaintNotificationsEnabled>{headers}</HeadersInComplaintNotificationsEnabled>\
             <HeadersInDeliveryNotificationsEnabled>{headers}</HeadersInDeliveryNotificationsEnabled>"
        );
        for (element, topic) in ["BounceTopic", "ComplaintTopic", "DeliveryTopic"]
            .iter()
            .zip(&topics)
        {
            if let Some(t) = topic {
                value.push_str(&format!("<{element}>{}</{element}>", escape(t)));
            }
        }
        entries.push_str(&format!(
            "<entry><key>{}</key><value>{value}</value></entry>",
            escape(identity)
        ));
    }
    let xml = format!(
        "<GetIdentityNotificationAttributesResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">\
         <GetIdentityNotificationAttributesResult><NotificationAttributes>{entries}</NotificationAttributes>\
         </GetIdentityNotificationAttributesResult><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
         </GetIdentityNotificationAttributesResponse>",
        uuid::Uuid::new_v4()
    );
    let mut response = Response::new(Full::new(Bytes::from(xml)));
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/xml"),
    );
    response
}
