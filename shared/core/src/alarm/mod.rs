//! The alarm's rules: judge every scope's rates against thresholds, with hysteresis, and say so
//! only when a level changes. All pure; the use case that wires them to the ports is
//! `usecase::Alarm`.

mod alert;
mod config;
mod emf;
mod evaluate;
mod level;
mod tenant;

pub use alert::{compose_alert, explain, Alert};
pub use config::AlarmConfig;
pub use emf::emf_lines;
pub use evaluate::{evaluate, Evaluation, SesFigure};
pub use level::{Level, RateKind, Thresholds};
pub use tenant::{StatusRecord, TenantStanding, TenantStatus};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_rise_at_thresholds_and_fall_only_below_the_hysteresis_band() {
        let t = Thresholds::SES_COMPLAINT;
        assert_eq!(t.next_level(0.0004, Level::Normal, 0.8), Level::Normal);
        assert_eq!(t.next_level(0.001, Level::Normal, 0.8), Level::Review);
        assert_eq!(
            t.next_level(0.0009, Level::Review, 0.8),
            Level::Review,
            "holds inside the band"
        );
        assert_eq!(t.next_level(0.00079, Level::Review, 0.8), Level::Warning);
        assert_eq!(t.next_level(0.0, Level::Pause, 0.8), Level::Normal);
        assert_eq!(t.next_level(0.006, Level::Warning, 0.8), Level::Pause);
    }

    #[test]
    fn configuration_rejects_percentages_and_falling_thresholds() {
        let bad =
            AlarmConfig::from_lookup(|n| (n == "SES_LEDGER_COMPLAINT_REVIEW").then(|| "5".into()));
        assert!(bad.unwrap_err().problem.contains("fraction"));
        let bad = AlarmConfig::from_lookup(|n| {
            (n == "SES_LEDGER_COMPLAINT_WARNING").then(|| "0.01".into())
        });
        assert!(bad.unwrap_err().problem.contains("must rise"));
        // The documented defaults (README's configuration table, SES's own thresholds), written
        // out: comparing with `default()` could not catch a changed default.
        let d = AlarmConfig::from_lookup(|_| None).unwrap();
        assert_eq!(
            (d.complaint.warning, d.complaint.review, d.complaint.pause),
            (0.0005, 0.001, 0.005)
        );
        assert_eq!(
            (d.bounce.warning, d.bounce.review, d.bounce.pause),
            (0.02, 0.05, 0.10)
        );
        assert_eq!((d.min_complaint_volume, d.min_bounce_volume), (1000, 1000));
        assert_eq!(d.hysteresis, 0.8);
        assert_eq!(
            d.windows,
            vec![
                crate::ledger::rates::Window::Hours(24),
                crate::ledger::rates::Window::Hours(168),
                crate::ledger::rates::Window::Hours(720),
                crate::ledger::rates::Window::RecentSends {
                    sends: 100_000,
                    max_days: 90
                }
            ]
        );
        assert_eq!(d.feedback_loop_providers, ["yahoo", "microsoft", "comcast"]);
    }

    #[test]
    fn a_window_longer_than_the_counters_live_is_refused() {
        let ledger = crate::config::LedgerConfig::default();
        let d = AlarmConfig::from_lookup(|_| None).unwrap();
        d.check_counters_outlive_windows(&ledger)
            .expect("the defaults fit: 90 days of windows, counters kept 100");
        let long = AlarmConfig::from_lookup(|n| {
            (n == "SES_LEDGER_RECENT_SENDS_MAX_DAYS").then(|| "120".into())
        })
        .unwrap();
        let e = long.check_counters_outlive_windows(&ledger).unwrap_err();
        assert_eq!(e.variable, "SES_LEDGER_RECENT_SENDS_MAX_DAYS");
        let text = e.to_string();
        assert!(
            text.contains("120 days") && text.contains("100 days"),
            "{text}"
        );
        let short_ttl = crate::config::LedgerConfig {
            counter_ttl_days: 90,
            ..ledger
        };
        assert!(d.check_counters_outlive_windows(&short_ttl).is_err());
    }
}
