//! The sample events in the repository's `events/` folder.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `events/` at the repository root.
pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// The text of `events/<relative>`; panics with the path when it cannot be read.
pub fn fixture_text(relative: &str) -> String {
    let path = events_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `events/<relative>` as JSON; panics with the path when it is not.
pub fn fixture(relative: &str) -> Value {
    let text = fixture_text(relative);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{relative}: {e}"))
}

/// Every folder of `events/` whose documents the envelope detection takes as they are (not
/// `malformed/`, whose messages are rejected, nor `expected/`).
pub const DOCUMENT_FOLDERS: [&str; 11] = [
    "ses/notification",
    "ses/event-publishing",
    "sns",
    "sqs",
    "eventbridge",
    "dlq",
    "skipped",
    "oddities",
    "tenants/ses",
    "tenants/sns",
    "privacy",
];

/// `(file stem, document)` of every `*.json` fixture in `events/<folder>`, sorted by name.
pub fn fixtures_in(folder: &str) -> Vec<(String, Value)> {
    let dir = events_dir().join(folder);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let doc = fixture(&format!("{folder}/{n}.json"));
            (n, doc)
        })
        .collect()
}
