//! CloudWatch Embedded Metric Format: the log lines the functions print so that CloudWatch makes
//! metrics of them, with no PutMetricData call. One builder, so every line keeps the rules of the
//! specification (docs/deployment.md, "What we rely on from AWS"): metric values are numbers, a
//! directive declares at most 100 metrics, every declared dimension is a string member of the
//! line. A metric with no value (a rate with no denominator) is left out, declaration and member,
//! rather than written as `null`, which makes the line invalid. [`check`] states the same rules
//! independently, for the tests over every line the functions print.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The namespace of every metric ses-ledger publishes.
pub const NAMESPACE: &str = "SesLedger";

/// The specification's limit of metrics per directive.
pub const MAX_METRICS: usize = 100;
/// The specification's limit of dimensions per dimension set.
pub const MAX_DIMENSIONS: usize = 30;

/// The units the specification allows (CloudWatch's `StandardUnit`s) that ses-ledger uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::None => "None",
        }
    }
}

/// One EMF line in the making.
#[derive(Debug, Clone)]
pub struct Line {
    timestamp: DateTime<Utc>,
    dimension_sets: Vec<Vec<String>>,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, Unit, f64)>,
}

impl Line {
    /// A line at `timestamp` whose metrics are published once per dimension set in `sets`
    /// (each a list of dimension names; an empty set publishes the metric without dimensions).
    pub fn new(timestamp: DateTime<Utc>, sets: &[&[&str]]) -> Line {
        Line {
            timestamp,
            dimension_sets: sets
                .iter()
                .map(|set| set.iter().map(|d| d.to_string()).collect())
                .collect(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
        }
    }

    /// A dimension; a value over the specification's 1,024 characters is cut to them (a scope
    /// key can be that long: a tag value is the sender's).
    pub fn dimension(mut self, name: &str, value: &str) -> Line {
        self.dimensions
            .push((name.into(), value.chars().take(1024).collect()));
        self
    }

    /// A metric; `None`, or a value that is not a finite number, leaves it out of the line.
    pub fn metric(mut self, name: &str, unit: Unit, value: Option<f64>) -> Line {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            self.metrics.push((name.into(), unit, v));
        }
        self
    }

    pub fn count(self, name: &str, n: u64) -> Line {
        self.metric(name, Unit::Count, Some(n as f64))
    }

    /// The JSON line; `None` when no metric has a value (a line without metrics says nothing).
    /// Beyond [`MAX_METRICS`], metrics go to further directives of the same line.
    pub fn to_json(&self) -> Option<Value> {
        if self.metrics.is_empty() {
            return None;
        }
        let directives: Vec<Value> = self
            .metrics
            .chunks(MAX_METRICS)
            .map(|chunk| {
                serde_json::json!({
                    "Namespace": NAMESPACE,
                    "Dimensions": self.dimension_sets,
                    "Metrics": chunk
                        .iter()
                        .map(|(name, unit, _)| serde_json::json!({"Name": name, "Unit": unit.as_str()}))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            serde_json::json!({
                "Timestamp": self.timestamp.timestamp_millis(),
                "CloudWatchMetrics": directives,
            }),
        );
        for (name, value) in &self.dimensions {
            line.insert(name.clone(), Value::from(value.as_str()));
        }
        for (name, _, value) in &self.metrics {
            // Counts as integers, so the line reads as the numbers it counts.
            let number = if value.fract() == 0.0 && value.abs() < 9.0e15 {
                Value::from(*value as i64)
            } else {
                Value::from(*value)
            };
            line.insert(name.clone(), number);
        }
        Some(Value::Object(line))
    }
}

/// Whether `line` keeps the rules of the Embedded Metric Format specification that CloudWatch
/// enforces: an `_aws` object with a numeric `Timestamp` and `CloudWatchMetrics` directives, each
/// with a `Namespace`, `Dimensions` (sets of at most 30 names, each a string member of the line)
/// and at most 100 `Metrics`, each named member a number or a list of at most 100 numbers.
pub fn check(line: &Value) -> Result<(), String> {
    let root = line.as_object().ok_or("not a JSON object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    if !aws.get("Timestamp").is_some_and(Value::is_u64) {
        return Err("_aws.Timestamp is not a number of milliseconds".into());
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is not a list")?;
    for directive in directives {
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("a directive has no Namespace")?;
        if namespace.is_empty() || namespace.len() > 255 {
            return Err(format!(
                "namespace {namespace:?} is not 1 to 255 characters"
            ));
        }
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("a directive has no Dimensions list")?;
        for set in sets {
            let names = set.as_array().ok_or("a dimension set is not a list")?;
            if names.len() > MAX_DIMENSIONS {
                return Err(format!("a dimension set has {} names", names.len()));
            }
            for name in names {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                match root.get(name).and_then(Value::as_str) {
                    None => {
                        return Err(format!(
                            "dimension {name:?} is not a string member of the line"
                        ))
                    }
                    // "This value MUST NOT contain more than 1024 characters."
                    Some(v) if v.chars().count() > 1024 => {
                        return Err(format!("dimension {name:?} is over 1024 characters"))
                    }
                    Some(_) => {}
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("a directive has no Metrics list")?;
        if metrics.len() > MAX_METRICS {
            return Err(format!("a directive declares {} metrics", metrics.len()));
        }
        for metric in metrics {
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a metric has no Name")?;
            let number = |v: &Value| v.is_number();
            match root.get(name) {
                Some(v) if number(v) => {}
                Some(Value::Array(values)) if values.len() <= 100 && values.iter().all(number) => {}
                Some(other) => return Err(format!("metric {name:?} is {other}, not a number")),
                None => return Err(format!("metric {name:?} is declared but not a member")),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).expect("valid")
    }

    #[test]
    fn a_metric_without_a_value_is_left_out_and_a_line_without_metrics_is_none() {
        let line = Line::new(now(), &[&["Scope", "Window"]])
            .dimension("Scope", "account")
            .dimension("Window", "1d")
            .metric("BounceRate", Unit::None, None)
            .metric("NaiveComplaintRate", Unit::None, Some(0.25))
            .metric("Infinite", Unit::None, Some(f64::INFINITY))
            .count("Sends", 4)
            .to_json()
            .expect("two metrics");
        assert_eq!(
            line,
            serde_json::json!({
                "_aws": {"Timestamp": 1_780_000_000_000u64, "CloudWatchMetrics": [{
                    "Namespace": "SesLedger",
                    "Dimensions": [["Scope", "Window"]],
                    "Metrics": [{"Name": "NaiveComplaintRate", "Unit": "None"}, {"Name": "Sends", "Unit": "Count"}]
                }]},
                "Scope": "account", "Window": "1d", "NaiveComplaintRate": 0.25, "Sends": 4
            })
        );
        assert_eq!(check(&line), Ok(()));
        assert!(Line::new(now(), &[&[]])
            .metric("BounceRate", Unit::None, None)
            .to_json()
            .is_none());
    }

    #[test]
    fn more_than_a_hundred_metrics_go_to_further_directives() {
        let mut line = Line::new(now(), &[&[]]);
        for i in 0..250 {
            line = line.count(&format!("m{i}"), i);
        }
        let json = line.to_json().expect("metrics");
        let sizes: Vec<usize> = json["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
            .iter()
            .map(|d| d["Metrics"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        assert_eq!(check(&json), Ok(()));
    }

    #[test]
    fn check_refuses_what_the_specification_forbids() {
        let good = serde_json::json!({
            "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{
                "Namespace": "N", "Dimensions": [["D"]], "Metrics": [{"Name": "M"}]}]},
            "D": "x", "M": 1
        });
        assert_eq!(check(&good), Ok(()));
        let broken = |path: &[&str], value: Value| {
            let mut line = good.clone();
            let mut at = &mut line;
            for (i, key) in path.iter().enumerate() {
                if i + 1 == path.len() {
                    at[*key] = value.clone();
                } else {
                    at = &mut at[*key];
                }
            }
            check(&line).expect_err(&format!("{path:?} = {value}"))
        };
        assert!(broken(&["M"], Value::Null).contains("not a number"));
        assert!(broken(&["M"], serde_json::json!("1")).contains("not a number"));
        assert!(broken(&["D"], serde_json::json!(3)).contains("not a string member"));
        assert!(broken(&["D"], serde_json::json!("x".repeat(1025))).contains("1024"));
        assert!(broken(&["_aws", "Timestamp"], serde_json::json!("now")).contains("Timestamp"));
        let mut many = good.clone();
        many["_aws"]["CloudWatchMetrics"][0]["Metrics"] =
            Value::Array((0..101).map(|_| serde_json::json!({"Name": "M"})).collect());
        assert!(check(&many).expect_err("101").contains("101 metrics"));
        let mut wide = good.clone();
        wide["_aws"]["CloudWatchMetrics"][0]["Dimensions"] =
            serde_json::json!([(0..31).map(|_| "D").collect::<Vec<_>>()]);
        assert!(check(&wide).expect_err("31").contains("31 names"));
        let mut undeclared = good.clone();
        undeclared.as_object_mut().map(|o| o.remove("M"));
        assert!(check(&undeclared)
            .expect_err("no member")
            .contains("not a member"));
    }
}
