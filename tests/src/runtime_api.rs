//! A function binary of the workspace run as Lambda runs it, for one test: the Lambda Runtime API
//! (`/2018-06-01/runtime/invocation/next`, `/{id}/response`, `/{id}/error`, `/init/error`) served
//! on a loopback port, and the binary started against it with the environment a deployed stack
//! gives the function. Each test gets its own process, so its environment (the table, the log
//! group the stack named) is its own; cargo-lambda's emulator serves the suite's shared functions.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::{oneshot, Notify};

type Answer = Result<Value, Value>;

#[derive(Default)]
struct Queue {
    pending: VecDeque<(String, Value)>,
    waiting: HashMap<String, oneshot::Sender<Answer>>,
    init_error: Option<String>,
}

pub struct LocalFunction {
    pub name: String,
    /// Where its stdout goes (stderr beside it, `.stderr`).
    pub log: PathBuf,
    queue: Arc<Mutex<Queue>>,
    ready: Arc<Notify>,
    child: tokio::process::Child,
}

/// The workspace's build of a function binary (`ingest`, `count`, `alarm`): beside the test
/// binaries' folder, where `cargo build --workspace` put it before the tests ran.
pub fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run the suite with scripts/test.sh (it builds the workspace first)",
        path.display()
    );
    path
}

impl LocalFunction {
    /// Starts `binary` with `environment` (a deployed function's variables) plus the process's
    /// own `AWS_*` variables (credentials, Region, the local stack's endpoints) and nothing else.
    pub async fn start(
        name: &str,
        binary: PathBuf,
        environment: &BTreeMap<String, String>,
    ) -> LocalFunction {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("address").to_string();
        let queue = Arc::new(Mutex::new(Queue::default()));
        let ready = Arc::new(Notify::new());
        let (served, wake) = (queue.clone(), ready.clone());
        let function = name.to_string();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (queue, wake, function) = (served.clone(), wake.clone(), function.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (queue, wake, function) =
                            (queue.clone(), wake.clone(), function.clone());
                        async move {
                            Ok::<_, Infallible>(serve(request, &queue, &wake, &function).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let inherited = std::env::vars().filter(|(k, _)| k.starts_with("AWS_"));
        // What the function prints (its JSON log lines), for a failing test to point at.
        let log = std::env::temp_dir().join(format!("ses-ledger-function-{name}.log"));
        let child = tokio::process::Command::new(binary)
            .env_clear()
            .envs(inherited)
            .envs(environment)
            .env("AWS_LAMBDA_RUNTIME_API", &address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .kill_on_drop(true)
            .stdout(std::fs::File::create(&log).expect("the function's log file"))
            .stderr(
                std::fs::File::create(log.with_extension("stderr"))
                    .expect("the function's log file"),
            )
            .spawn()
            .expect("start the function binary");
        LocalFunction {
            name: name.to_string(),
            log,
            queue,
            ready,
            child,
        }
    }

    /// One invocation: the function's response, or its error document.
    pub async fn invoke(&mut self, payload: Value) -> Answer {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.queue.lock().expect("queue");
            if let Some(e) = &q.init_error {
                panic!("{} failed to start: {e}", self.name);
            }
            q.waiting.insert(id.clone(), tx);
            q.pending.push_back((id, payload));
        }
        self.ready.notify_waiters();
        self.ready.notify_one();
        tokio::pin!(rx);
        let started = std::time::Instant::now();
        loop {
            tokio::select! {
                answer = &mut rx => return answer.unwrap_or_else(|_| panic!("{}: the emulator dropped the invocation", self.name)),
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            if let Some(status) = self.child.try_wait().ok().flatten() {
                panic!(
                    "{} exited ({status}) before answering: its stderr above says why",
                    self.name
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} gave no answer in 60 s (its log: {})",
                self.name,
                self.log.display()
            );
        }
    }
}

fn respond(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r
}

async fn serve(
    request: Request<Incoming>,
    queue: &Mutex<Queue>,
    ready: &Notify,
    function: &str,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return respond(StatusCode::NOT_FOUND, Bytes::new());
    };
    if method == Method::GET && rest == "invocation/next" {
        // Long poll, as Lambda's does, until an invocation is queued.
        loop {
            let next = queue.lock().expect("queue").pending.pop_front();
            if let Some((id, payload)) = next {
                let mut r = respond(StatusCode::OK, Bytes::from(payload.to_string()));
                let deadline = (chrono::Utc::now().timestamp_millis() + 300_000).to_string();
                let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
                for (k, v) in [
                    ("lambda-runtime-aws-request-id", id.as_str()),
                    ("lambda-runtime-deadline-ms", deadline.as_str()),
                    ("lambda-runtime-invoked-function-arn", arn.as_str()),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000",
                    ),
                ] {
                    r.headers_mut()
                        .insert(k, hyper::header::HeaderValue::from_str(v).expect("header"));
                }
                return r;
            }
            tokio::select! {
                _ = ready.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if rest == "init/error" {
        queue.lock().expect("queue").init_error = Some(json.to_string());
        return respond(StatusCode::ACCEPTED, Bytes::new());
    }
    if let Some(id_and_kind) = rest.strip_prefix("invocation/") {
        if let Some((id, kind)) = id_and_kind.split_once('/') {
            let waiting = queue.lock().expect("queue").waiting.remove(id);
            if let Some(tx) = waiting {
                let _ = tx.send(if kind == "response" {
                    Ok(json)
                } else {
                    Err(json)
                });
                return respond(StatusCode::ACCEPTED, Bytes::new());
            }
        }
    }
    respond(StatusCode::NOT_FOUND, Bytes::new())
}
