//! A loopback stand-in for the parts of SES v2 that moto 5.2.5 lacks: the account-level
//! suppression list (`ses-ledger suppression`) and tenants with their reputation entities (the
//! alarm's tenant status). It speaks the operations' REST-JSON wire format as the SES v2 API
//! reference gives it: `GET` and `PUT /v2/email/suppression/addresses` (the list paged with
//! `NextToken` at a page size of its own, so a test sees more than one page), `POST
//! /v2/email/tenants/get` and `GET /v2/email/reputation/entities/RESOURCE/<ARN>`; it ignores the
//! SigV4 signature. It is the only stand-in of this project that is not an emulator of AWS's
//! making; what it cannot show is in docs/deployment.md.

use std::collections::BTreeMap;
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
