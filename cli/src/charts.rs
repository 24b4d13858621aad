//! Pictures of a period, for people who would rather look than read: daily volume, the naive and
//! the feedback-loop complaint rate against SES's review and pause levels, and the bounce rate
//! against its own, each with SES's figure where it is known. SVG text drawn with plotters; the
//! numbers come from the exact counters, day by day, through the same `over_period` as the
//! summary's figures.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use plotters::prelude::*;
use ses_ledger::alarm::Thresholds;
use ses_ledger::counters::Metric;
use ses_ledger::rates::{over_period, HourlyCounts, WindowRates};

const WIDTH: u32 = 900;
const HEIGHT: u32 = 340;

/// The series' colours. The browser test looks for them in a screenshot, so they are its
/// contract too (cli/tests/report_html_browser.rs).
pub mod colour {
    use plotters::style::RGBColor;
    pub const SENDS: RGBColor = RGBColor(0x55, 0x55, 0x55);
    pub const DELIVERIES: RGBColor = RGBColor(0x1b, 0x9e, 0x77);
    pub const FEEDBACK_LOOP_DELIVERIES: RGBColor = RGBColor(0x75, 0x70, 0xb3);
    pub const NAIVE: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
    pub const FEEDBACK_LOOP: RGBColor = RGBColor(0xd9, 0x5f, 0x02);
    pub const BOUNCE: RGBColor = RGBColor(0x66, 0x3d, 0x99);
    pub const REVIEW: RGBColor = RGBColor(0xe6, 0xab, 0x02);
    pub const PAUSE: RGBColor = RGBColor(0xcc, 0x00, 0x00);
    pub const SES: RGBColor = RGBColor(0x00, 0x00, 0x00);
}

/// One UTC day of the account's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub date: NaiveDate,
    pub rates: WindowRates,
}

impl Day {
    fn count(&self, metric: Metric) -> f64 {
        self.rates.totals.get(metric) as f64
    }
}

/// Every day from `first` to `last` (inclusive), days without counts included, so a quiet day
/// shows as a gap in the rates and a zero in the volume rather than vanishing.
pub fn days(hours: &[HourlyCounts], first: NaiveDate, last: NaiveDate) -> Vec<Day> {
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|date| {
            let from = start_of(date);
            Day {
                date,
                rates: over_period(hours, from, from + Duration::days(1)),
            }
        })
        .collect()
}

fn start_of(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// SES's own figures as read now (fractions), and the day they belong to.
#[derive(Debug, Clone, Copy, Default)]
pub struct SesToday {
    pub date: Option<NaiveDate>,
    pub complaint: Option<f64>,
    pub bounce: Option<f64>,
}

/// The three pictures, as SVG documents.
pub struct Charts {
    pub volume: String,
    pub complaint: String,
    pub bounce: String,
}

impl Charts {
    /// (file name, caption, SVG) of each picture, in the order a page shows them.
    pub fn files(&self) -> [(&'static str, &'static str, &str); 3] {
        [
            ("daily-volume.svg", "Daily volume", self.volume.as_str()),
            (
                "complaint-rate.svg",
                "Complaint rate per day, naive and feedback-loop",
                self.complaint.as_str(),
            ),
            (
                "bounce-rate.svg",
                "Bounce rate per day (SES rules)",
                self.bounce.as_str(),
            ),
        ]
    }
}

type Value = fn(&Day) -> Option<f64>;

/// A line of the chart: its legend, colour and value per day (None leaves a gap).
struct Series {
    name: &'static str,
    colour: RGBColor,
    value: Value,
}

pub fn draw(
    days: &[Day],
    complaint: &Thresholds,
    bounce: &Thresholds,
    ses: SesToday,
) -> anyhow::Result<Charts> {
    let ses_day = |figure: Option<f64>| {
        let index = days.iter().position(|d| Some(d.date) == ses.date)?;
        Some((index, figure?))
    };
    Ok(Charts {
        volume: chart(
            "Daily volume (account)",
            "events per day",
            days,
            &[
                Series {
                    name: "sends",
                    colour: colour::SENDS,
                    value: |d| Some(d.count(Metric::Sends)),
                },
                Series {
                    name: "deliveries",
                    colour: colour::DELIVERIES,
                    value: |d| Some(d.count(Metric::Deliveries)),
                },
                Series {
                    name: "deliveries to feedback-loop providers",
                    colour: colour::FEEDBACK_LOOP_DELIVERIES,
                    value: |d| Some(d.count(Metric::FeedbackLoopDeliveries)),
                },
            ],
            Scale::Count,
            &[],
            None,
        )?,
        complaint: chart(
            "Complaint rate (account)",
            "complaints per delivery",
            days,
            &[
                Series {
                    name: "naive: complaints / all deliveries",
                    colour: colour::NAIVE,
                    value: |d| d.rates.naive_complaint.value(),
                },
                Series {
                    name: "feedback-loop: as SES counts (deliveries to providers that report)",
                    colour: colour::FEEDBACK_LOOP,
                    value: |d| d.rates.feedback_loop_complaint.value(),
                },
            ],
            Scale::Percent,
            &levels(complaint),
            ses_day(ses.complaint),
        )?,
        bounce: chart(
            "Bounce rate (account, SES rules)",
            "counted hard bounces per send",
            days,
            &[Series {
                name: "bounce rate: permanent bounces not from a suppression list",
                colour: colour::BOUNCE,
                value: |d| d.rates.bounce.value(),
            }],
            Scale::Percent,
            &levels(bounce),
            ses_day(ses.bounce),
        )?,
    })
}

fn levels(t: &Thresholds) -> [(&'static str, RGBColor, f64); 2] {
    [
        ("SES review", colour::REVIEW, t.review),
        ("SES may pause sending", colour::PAUSE, t.pause),
    ]
}

#[derive(Clone, Copy)]
enum Scale {
    Count,
    /// Fractions, drawn as percentages.
    Percent,
}

impl Scale {
    fn of(self, fraction_or_count: f64) -> f64 {
        match self {
            Scale::Count => fraction_or_count,
            Scale::Percent => fraction_or_count * 100.0,
        }
    }

    fn label(self, y: f64) -> String {
        match self {
            Scale::Count => format!("{y:.0}"),
            Scale::Percent => format!("{y:.2}%"),
        }
    }
}

/// The runs of consecutive days that have a value: each is drawn as its own line, so a day
/// without deliveries is a gap, not a zero.
/// Consecutive (day, value) points of one line.
type Run = Vec<(i32, f64)>;

fn runs(days: &[Day], value: Value, scale: Scale) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut open = false;
    for (i, day) in days.iter().enumerate() {
        match value(day) {
            Some(v) => {
                if !open {
                    runs.push(Vec::new());
                    open = true;
                }
                if let Some(run) = runs.last_mut() {
                    run.push((day_x(i), scale.of(v)));
                }
            }
            None => open = false,
        }
    }
    runs
}

#[allow(clippy::too_many_arguments)]
/// The x coordinate of the day at `index`.
fn day_x(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

fn chart(
    title: &str,
    y_description: &str,
    days: &[Day],
    series: &[Series],
    scale: Scale,
    levels: &[(&'static str, RGBColor, f64)],
    ses: Option<(usize, f64)>,
) -> anyhow::Result<String> {
    let drawn: Vec<(&Series, Vec<Run>)> = series
        .iter()
        .map(|s| (s, runs(days, s.value, scale)))
        .collect();
    // The levels are always in view: how far below them a rate runs is the point of the picture.
    let top = drawn
        .iter()
        .flat_map(|(_, runs)| runs.iter().flatten().map(|p| p.1))
        .chain(levels.iter().map(|l| scale.of(l.2)))
        .chain(ses.map(|s| scale.of(s.1)))
        .fold(0.0f64, f64::max);
    // The top third is left to the legend, so it covers no line.
    let top = if top > 0.0 { top * 1.5 } else { 1.0 };
    // Days are whole numbers on the x axis, with a day's margin on either side, so the axis
    // labels fall on days.
    let last = day_x(days.len());

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(70)
            .build_cartesian_2d(-1i32..last, 0f64..top)?;
        let x_label = |x: &i32| {
            usize::try_from(*x)
                .ok()
                .and_then(|i| days.get(i))
                .map(|d| d.date.format("%m-%d").to_string())
                .unwrap_or_default()
        };
        let y_label = |y: &f64| scale.label(*y);
        c.configure_mesh()
            .x_labels((days.len() + 2).clamp(3, 14))
            .x_label_formatter(&x_label)
            .y_labels(6)
            .y_label_formatter(&y_label)
            .y_desc(y_description)
            .light_line_style(WHITE)
            .draw()?;
        for (name, colour, level) in levels {
            let y = scale.of(*level);
            let colour = *colour;
            c.draw_series(LineSeries::new(
                [(-1, y), (last, y)],
                colour.stroke_width(2),
            ))?
            .label(format!("{name} ({})", scale.label(y)))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        }
        for (s, runs) in &drawn {
            let colour = s.colour;
            let empty = runs.is_empty();
            c.draw_series(LineSeries::new(
                runs.first().cloned().unwrap_or_default(),
                colour.stroke_width(3),
            ))?
            .label(if empty {
                format!("{} (no data)", s.name)
            } else {
                s.name.to_string()
            })
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(3)));
            for run in runs.iter().skip(1) {
                c.draw_series(LineSeries::new(run.clone(), colour.stroke_width(3)))?;
            }
            // A single day between gaps draws no line: a dot marks every day that has a value.
            c.draw_series(
                runs.iter()
                    .flatten()
                    .map(|p| Circle::new(*p, 3, colour.filled())),
            )?;
        }
        if let Some((index, figure)) = ses {
            let y = scale.of(figure);
            c.draw_series(std::iter::once(Circle::new(
                (day_x(index), y),
                6,
                colour::SES.filled(),
            )))?
            .label(format!("SES's own figure, read today ({})", scale.label(y)))
            .legend(|(x, y)| Circle::new((x + 10, y), 5, colour::SES.filled()));
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ses_ledger::rates::Totals;

    fn hour(day: u32, h: u32, counts: &[(Metric, u64)]) -> HourlyCounts {
        let mut totals = Totals::default();
        for (m, n) in counts {
            totals.metrics.insert(*m, *n);
        }
        HourlyCounts {
            bucket: Utc.with_ymd_and_hms(2026, 11, day, h, 0, 0).unwrap(),
            totals,
        }
    }

    fn date(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn every_day_of_the_period_is_a_point_and_hours_add_up_within_their_day() {
        let hours = [
            hour(2, 0, &[(Metric::Deliveries, 1000), (Metric::Complaints, 1)]),
            hour(
                2,
                23,
                &[(Metric::Deliveries, 1000), (Metric::Complaints, 3)],
            ),
            hour(4, 5, &[(Metric::Deliveries, 10)]),
            // Outside the period.
            hour(6, 0, &[(Metric::Deliveries, 99), (Metric::Complaints, 99)]),
        ];
        let d = days(&hours, date(1), date(4));
        assert_eq!(
            d.iter().map(|d| d.date).collect::<Vec<_>>(),
            [date(1), date(2), date(3), date(4)]
        );
        assert_eq!(
            d[0].rates.naive_complaint.value(),
            None,
            "no deliveries, no rate"
        );
        assert_eq!(d[1].rates.naive_complaint.value(), Some(4.0 / 2000.0));
        assert_eq!(d[2].count(Metric::Deliveries), 0.0);
        assert_eq!(d[3].rates.naive_complaint.value(), Some(0.0));
    }

    #[test]
    fn a_day_without_a_rate_breaks_the_line() {
        let hours = [
            hour(1, 0, &[(Metric::Deliveries, 100)]),
            hour(2, 0, &[(Metric::Deliveries, 100), (Metric::Complaints, 1)]),
            hour(4, 0, &[(Metric::Deliveries, 100)]),
        ];
        let d = days(&hours, date(1), date(4));
        let r = runs(&d, |d| d.rates.naive_complaint.value(), Scale::Percent);
        assert_eq!(r, vec![vec![(0, 0.0), (1, 1.0)], vec![(3, 0.0)]]);
    }

    #[test]
    fn the_charts_show_the_levels_the_series_and_ses_figure() {
        let hours = [
            hour(
                1,
                0,
                &[
                    (Metric::Deliveries, 1000),
                    (Metric::Sends, 1000),
                    (Metric::Complaints, 2),
                ],
            ),
            hour(2, 0, &[(Metric::Deliveries, 1000), (Metric::Sends, 1000)]),
        ];
        let d = days(&hours, date(1), date(2));
        let charts = draw(
            &d,
            &Thresholds::SES_COMPLAINT,
            &Thresholds::SES_BOUNCE,
            SesToday {
                date: Some(date(2)),
                complaint: Some(0.0042),
                bounce: None,
            },
        )
        .unwrap();
        for svg in [&charts.volume, &charts.complaint, &charts.bounce] {
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(svg.contains("11-01") && svg.contains("11-02"), "dated axis");
        }
        assert!(charts.complaint.contains("SES review (0.10%)"));
        assert!(charts.complaint.contains("SES may pause sending (0.50%)"));
        assert!(charts.complaint.contains("own figure, read today (0.42%)"));
        assert!(charts.bounce.contains("SES review (5.00%)"));
        assert!(
            !charts.bounce.contains("own figure"),
            "no SES bounce figure given"
        );
        assert!(charts
            .volume
            .contains("deliveries to feedback-loop providers"));
        let hex = |c: RGBColor| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        assert!(charts
            .complaint
            .to_uppercase()
            .contains(&hex(colour::NAIVE)));
        assert!(charts
            .complaint
            .to_uppercase()
            .contains(&hex(colour::PAUSE)));
    }

    #[test]
    fn a_series_with_no_value_says_so() {
        let d = days(&[], date(1), date(3));
        let charts = draw(
            &d,
            &Thresholds::SES_COMPLAINT,
            &Thresholds::SES_BOUNCE,
            SesToday::default(),
        )
        .unwrap();
        assert!(charts
            .complaint
            .contains("naive: complaints / all deliveries (no data)"));
    }
}
