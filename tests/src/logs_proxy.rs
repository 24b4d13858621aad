//! A loopback proxy in front of moto's CloudWatch Logs for the two things moto 5.2.5 lacks and
//! `ses-ledger doctor` needs: saved queries (`PutQueryDefinition`, `DescribeQueryDefinitions`,
//! which moto does not implement) and a `StartQuery` that refuses what Logs Insights refuses
//! (moto runs any text). Everything else goes to moto unchanged, so log groups, log events and
//! query runs are moto's.
//!
//! What it fakes, said in docs/testing.md: the saved queries are held here, and `StartQuery`'s
//! refusal comes from this project's checker of the documented grammar
//! (`insights_grammar::check`), answered the way AWS answers one (HTTP 400,
//! `MalformedQueryException`), not from AWS's parser.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

struct State {
    /// `QueryDefinition` objects as `DescribeQueryDefinitions` returns them.
    definitions: Vec<Value>,
    /// The field names event log lines carry, for the grammar check.
    fields: BTreeSet<String>,
    /// Queries `StartQuery` was asked to run, in order.
    started: Vec<String>,
}

pub struct LogsProxy {
    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl LogsProxy {
    /// Serves on a free loopback port until the runtime ends, forwarding to `upstream` (moto's
    /// `http://127.0.0.1:<port>`).
    pub async fn start(upstream: &str) -> LogsProxy {
        let upstream = upstream
            .strip_prefix("http://")
            .unwrap_or(upstream)
            .trim_end_matches('/')
            .to_string();
        assert!(
            upstream.starts_with("127.0.0.1:"),
            "upstream must be loopback: {upstream}"
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State {
            definitions: Vec::new(),
            fields: crate::insights_grammar::event_log_fields(),
            started: Vec::new(),
        }));
        let served = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (state, upstream) = (served.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (state, upstream) = (state.clone(), upstream.clone());
                        async move { Ok::<_, Infallible>(answer(request, &state, &upstream).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        LogsProxy { url, state }
    }

    /// Saves a query, as the stack's `AWS::Logs::QueryDefinition` would.
    pub fn put_query_definition(&self, name: &str, query: &str, log_groups: &[String]) {
        let mut s = self.state.lock().expect("state");
        let id = uuid::Uuid::new_v4().to_string();
        s.definitions.push(json!({
            "queryDefinitionId": id,
            "name": name,
            "queryString": query,
            "logGroupNames": log_groups,
            "lastModified": chrono::Utc::now().timestamp_millis(),
        }));
    }

    /// The queries `StartQuery` was asked to run.
    pub fn started(&self) -> Vec<String> {
        self.state.lock().expect("state").started.clone()
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

async fn answer(
    request: Request<Incoming>,
    state: &Mutex<State>,
    upstream: &str,
) -> Response<Full<Bytes>> {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({ "message": "unreadable body" }),
        );
    };
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match target.as_str() {
        "Logs_20140328.DescribeQueryDefinitions" => {
            let prefix = input["queryDefinitionNamePrefix"]
                .as_str()
                .unwrap_or_default();
            let s = state.lock().expect("state");
            let found: Vec<&Value> = s
                .definitions
                .iter()
                .filter(|d| d["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
                .collect();
            reply(StatusCode::OK, json!({ "queryDefinitions": found }))
        }
        "Logs_20140328.StartQuery" => {
            let query = input["queryString"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let refused = {
                let mut s = state.lock().expect("state");
                s.started.push(query.clone());
                crate::insights_grammar::check(&query, &s.fields).err()
            };
            match refused {
                Some(problems) => reply(
                    StatusCode::BAD_REQUEST,
                    json!({
                        "__type": "MalformedQueryException",
                        "message": format!("Query is malformed: {}", problems.join("; ")),
                    }),
                ),
                None => forward(upstream, parts, body).await,
            }
        }
        _ => forward(upstream, parts, body).await,
    }
}

/// Sends the request to moto as it came and returns moto's answer.
async fn forward(
    upstream: &str,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let failed = |e: String| {
        reply(
            StatusCode::BAD_GATEWAY,
            json!({ "message": format!("proxy: {e}") }),
        )
    };
    let stream = match tokio::net::TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(e) => return failed(e.to_string()),
    };
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(h) => h,
            Err(e) => return failed(e.to_string()),
        };
    tokio::spawn(connection);
    let response = match sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
    {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    let (parts, body) = response.into_parts();
    match body.collect().await {
        Ok(b) => Response::from_parts(parts, Full::new(b.to_bytes())),
        Err(e) => failed(e.to_string()),
    }
}
