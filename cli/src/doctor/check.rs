//! One line of `doctor`'s answer and how the lines are printed. Pure.

use serde::Serialize;

/// How a check came out. A warning is worth reading; only a failure makes `doctor` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One check: what was looked at, how it came out, and what to do when it did not pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The group it belongs to: stack, ses, coverage, queries, alerts, canary.
    pub area: &'static str,
    /// What was checked, e.g. `function IngestFunction` or `configuration set marketing`.
    pub subject: String,
    pub status: Status,
    /// What was found, with the numbers.
    pub detail: String,
    /// What to do about it (warnings and failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(
        area: &'static str,
        subject: impl Into<String>,
        detail: impl Into<String>,
    ) -> Check {
        Check {
            area,
            subject: subject.into(),
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(
        area: &'static str,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Warn,
            fix: Some(fix.into()),
            ..Check::pass(area, subject, detail)
        }
    }

    pub fn fail(
        area: &'static str,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Fail,
            fix: Some(fix.into()),
            ..Check::pass(area, subject, detail)
        }
    }
}

/// Every check of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub stack: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    pub fn failed(&self) -> bool {
        self.count(Status::Fail) > 0
    }

    /// One line per check (`PASS  area  subject: detail`), the fix indented under it, and a
    /// closing line with the counts.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            out.push_str(&format!(
                "{}  {:<8} {}: {}\n",
                c.status.label(),
                c.area,
                c.subject,
                c.detail
            ));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("      fix: {fix}\n"));
            }
        }
        out.push_str(&format!(
            "\n{} checks of stack {}: {} passed, {} warned, {} failed\n",
            self.checks.len(),
            self.stack,
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.count(Status::Fail)
        ));
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "stack": self.stack,
            "passed": self.count(Status::Pass),
            "warned": self.count(Status::Warn),
            "failed": self.count(Status::Fail),
            "checks": self.checks,
        })
    }
}

/// At most `n` names, then how many more: a line stays readable for an account with thousands
/// of identities (`--output json` lists them all).
pub fn some_of(names: &[String], n: usize) -> String {
    if names.len() <= n {
        names.join(", ")
    } else {
        format!("{} and {} more", names[..n].join(", "), names.len() - n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_fails_the_run_and_a_warning_does_not() {
        let mut report = Report {
            stack: "s".into(),
            checks: vec![
                Check::pass("stack", "a", "fine"),
                Check::warn("ses", "b", "odd", "look"),
            ],
        };
        assert!(!report.failed());
        report
            .checks
            .push(Check::fail("queries", "c", "broken", "fix it"));
        assert!(report.failed());
        let text = report.to_text();
        assert!(
            text.contains("FAIL  queries  c: broken\n      fix: fix it\n"),
            "{text}"
        );
        assert!(
            text.ends_with("3 checks of stack s: 1 passed, 1 warned, 1 failed\n"),
            "{text}"
        );
        let json = report.to_json();
        assert_eq!(json["failed"], 1);
        assert_eq!(json["checks"][2]["status"], "fail");
        assert!(json["checks"][0].get("fix").is_none());
    }

    #[test]
    fn long_lists_are_cut_with_a_count() {
        let names: Vec<String> = (0..12).map(|i| format!("n{i}")).collect();
        assert_eq!(some_of(&names[..2], 3), "n0, n1");
        assert_eq!(some_of(&names, 3), "n0, n1, n2 and 9 more");
    }
}
