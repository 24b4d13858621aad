//! The baseline of scripts/measure-init.sh: the smallest `lambda_runtime` function (it echoes its
//! event), built with the same profile and dependency versions as the real functions, so their
//! start-up is measured against what the runtime itself costs.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
