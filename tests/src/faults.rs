//! A fault-injecting HTTP client for the SDK clients the tests build: it sits where the SDK hands
//! a signed request to the network, so every DynamoDB and CloudWatch Logs call of the adapters
//! under test can fail the ways AWS fails, at a configured rate, reproducibly (a seeded RNG):
//!
//! - an error before the write (a 500 that never reached the server);
//! - an error after the write committed (the request reached the server, which applied it; the
//!   client is told 500): the worst case, a success that looks like a failure;
//! - a connection reset, before sending or after the server answered;
//! - throttling (400 `ThrottlingException`).
//!
//! docs/testing.md says why an HTTP-client layer and not a proxy: it needs no extra process, sees
//! each call exactly once, and works unchanged for every service the SDK speaks JSON to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One way a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    ErrorBeforeWrite,
    ErrorAfterCommit,
    ResetBeforeSend,
    ResetAfterAnswer,
    Throttled,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::ErrorBeforeWrite,
        Fault::ErrorAfterCommit,
        Fault::ResetBeforeSend,
        Fault::ResetAfterAnswer,
        Fault::Throttled,
    ];
}

/// How often calls fail, and what has been injected so far.
#[derive(Debug)]
pub struct FaultPlan {
    rate: f64,
    rng: Mutex<ChaCha8Rng>,
    injected: Mutex<BTreeMap<Fault, u64>>,
    calls: Mutex<u64>,
    /// Off while the test reads the results.
    enabled: Mutex<bool>,
}

impl FaultPlan {
    /// `rate` of all calls fail, each fault kind equally often.
    pub fn new(rate: f64, seed: u64) -> Arc<FaultPlan> {
        Arc::new(FaultPlan {
            rate,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            injected: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(0),
            enabled: Mutex::new(true),
        })
    }

    pub fn set_enabled(&self, on: bool) {
        if let Ok(mut e) = self.enabled.lock() {
            *e = on;
        }
    }

    fn draw(&self) -> Option<Fault> {
        if let Ok(mut calls) = self.calls.lock() {
            *calls += 1;
        }
        if !self.enabled.lock().map(|e| *e).unwrap_or(false) {
            return None;
        }
        let mut rng = self.rng.lock().ok()?;
        if !rng.gen_bool(self.rate) {
            return None;
        }
        let fault = Fault::ALL[rng.gen_range(0..Fault::ALL.len())];
        drop(rng);
        if let Ok(mut injected) = self.injected.lock() {
            *injected.entry(fault).or_insert(0) += 1;
        }
        Some(fault)
    }

    /// Faults injected so far, by kind.
    pub fn injected(&self) -> BTreeMap<Fault, u64> {
        self.injected.lock().map(|i| i.clone()).unwrap_or_default()
    }

    /// Calls seen so far, faulted or not.
    pub fn calls(&self) -> u64 {
        self.calls.lock().map(|c| *c).unwrap_or(0)
    }

    /// A plain-HTTP client (the local stack's endpoints) whose calls fail by this plan.
    pub fn client(self: &Arc<Self>) -> SharedHttpClient {
        let inner = aws_smithy_http_client::Builder::new().build_http();
        let plan = Arc::clone(self);
        http_client_fn(move |settings, components| {
            SharedHttpConnector::new(FaultyConnector {
                inner: inner.http_connector(settings, components),
                plan: Arc::clone(&plan),
            })
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    plan: Arc<FaultPlan>,
}

fn json_error(status: u16, kind: &str, message: &str) -> HttpResponse {
    let body = format!("{{\"__type\":\"{kind}\",\"message\":\"{message}\"}}");
    let mut response = HttpResponse::new(
        status
            .try_into()
            .unwrap_or_else(|_| 500u16.try_into().expect("500")),
        SdkBody::from(body),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let fault = self.plan.draw();
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            match fault {
                None => inner.call(request).await,
                Some(Fault::ErrorBeforeWrite) => Ok(json_error(
                    500,
                    "InternalServerError",
                    "injected before the write",
                )),
                Some(Fault::Throttled) => Ok(json_error(
                    400,
                    "ThrottlingException",
                    "injected: rate exceeded",
                )),
                Some(Fault::ResetBeforeSend) => Err(ConnectorError::io(
                    "connection reset by peer (injected before sending)".into(),
                )),
                Some(Fault::ErrorAfterCommit) => {
                    // The server applies the request; its answer is lost.
                    let _ = inner.call(request).await;
                    Ok(json_error(
                        500,
                        "InternalServerError",
                        "injected after the write committed",
                    ))
                }
                Some(Fault::ResetAfterAnswer) => {
                    let _ = inner.call(request).await;
                    Err(ConnectorError::io(
                        "connection reset by peer (injected after the server answered)".into(),
                    ))
                }
            }
        })
    }
}
