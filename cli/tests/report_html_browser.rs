//! The evidence folder's report.html, rendered offline in Debian's headless Chromium and
//! screenshotted: each chart draws the data it names.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (the `local-stack` feature, see cli/Cargo.toml).
#![cfg(feature = "local-stack")]

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use ses_ledger_integration_tests::*;

/// The series' colours, as cli/src/charts.rs's `colour` module names them: its contract with
/// this test.
const SENDS: [u8; 3] = [0x55, 0x55, 0x55];
const DELIVERIES: [u8; 3] = [0x1b, 0x9e, 0x77];
const FEEDBACK_LOOP_DELIVERIES: [u8; 3] = [0x75, 0x70, 0xb3];
const NAIVE: [u8; 3] = [0x1f, 0x77, 0xb4];
const FEEDBACK_LOOP: [u8; 3] = [0xd9, 0x5f, 0x02];
const BOUNCE: [u8; 3] = [0x66, 0x3d, 0x99];

/// The recipient domains `simulate` writes to, by whether their provider sends SES complaint
/// feedback: Yahoo, Microsoft and Comcast do (the ledger's default list); Google, Apple and a
/// company's own domain do not.
const FEEDBACK_LOOP_DOMAINS: [&str; 4] = ["yahoo.com", "outlook.com", "hotmail.com", "comcast.net"];
const OTHER_DOMAINS: [&str; 4] = ["gmail.com", "icloud.com", "company.example", "corp.example"];
/// SES's mailbox simulator: mail to it never counts.
const MAILBOX_SIMULATOR: &str = "simulator.amazonses.com";
/// Bounce and complaint subtypes SES writes when it did not send to a suppressed address: no
/// rate counts them.
const SUPPRESSION_LIST_SUBTYPES: [&str; 2] =
    ["OnAccountSuppressionList", "OnTenantSuppressionList"];

/// How many tenths of each simulated day's messages the ledger gets. `simulate` sends as much
/// every day, and a flat line cannot show whether it is drawn from the right days; so the days
/// differ, and every message that draws a complaint is kept: the quieter the day, the higher its
/// complaint rate, the quietest (the third) highest.
const KEPT_TENTHS: [u64; 5] = [6, 10, 3, 8, 5];

/// A screenshot, decoded to RGB.
struct Screenshot {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

/// Within a small distance of `colour` (anti-aliased edges blend into the white).
fn like(p: [u8; 3], colour: [u8; 3]) -> bool {
    p.iter()
        .zip(colour)
        .map(|(a, b)| a.abs_diff(b) as u32)
        .sum::<u32>()
        <= 12
}

impl Screenshot {
    fn pixels_like(&self, colour: [u8; 3]) -> usize {
        self.rgb.iter().filter(|p| like(**p, colour)).count()
    }

    fn row(&self, y: usize) -> &[[u8; 3]] {
        &self.rgb[y * self.width..(y + 1) * self.width]
    }

    /// The charts' y axes, top to bottom: columns with a dark run an eighth of the window high
    /// or more (a 1-pixel line may fall across two columns), as [left, right, top, bottom] in
    /// pixels, right and bottom exclusive. No line of a chart covers its y axis.
    fn y_axes(&self) -> Vec<[usize; 4]> {
        let mut axes: Vec<[usize; 4]> = Vec::new();
        for x in 0..self.width {
            let column: Vec<[u8; 3]> = (0..self.height)
                .map(|y| self.rgb[y * self.width + x])
                .collect();
            for (top, bottom) in runs(&column, dark) {
                if bottom - top < self.height / 8 {
                    continue;
                }
                match axes
                    .iter_mut()
                    .find(|a| a[1] == x && a[2] < bottom && top < a[3])
                {
                    Some(a) => *a = [a[0], x + 1, a[2].min(top), a[3].max(bottom)],
                    None => axes.push([x, x + 1, top, bottom]),
                }
            }
        }
        axes.sort_by_key(|a| a[2]);
        axes
    }

    /// Where the screenshot shows `chart`: its y axis (`axis`, from `y_axes`) and its x axis's
    /// tick marks, a pixel wide, against the SVG's.
    fn placement(&self, axis: [usize; 4], chart: &Chart) -> Placement {
        let [left, right, top, bottom] = axis;
        let [y_axis_x, y_axis_top, y_axis_bottom] = chart.y_axis;
        let scale_y = (bottom - top) as f64 / (y_axis_bottom - y_axis_top);
        let at = |svg_y: f64| top as f64 + scale_y * (svg_y - y_axis_top);
        // The row 3 pixels into the ticks, which are 5 long below the x axis (left of the y
        // axis, its labels).
        let row = self.row(at(chart.x_axis[2] + 3.5) as usize);
        let seen: Vec<f64> = runs(row, dark)
            .into_iter()
            .filter(|(l, _)| *l + 2 >= right)
            .map(|(l, r)| (l + r) as f64 / 2.0)
            .collect();
        let drawn = &chart.ticks_x;
        assert!(
            seen.len() == drawn.len() && drawn.len() >= 2,
            "the screenshot shows ticks at {seen:?}, the SVG draws them at {drawn:?}"
        );
        let scale = (seen[seen.len() - 1] - seen[0]) / (drawn[drawn.len() - 1] - drawn[0]);
        let dx = seen[0] - scale * drawn[0];
        for (s, d) in seen.iter().zip(drawn) {
            assert!(
                (s - (dx + scale * d)).abs() <= 1.0,
                "ticks {seen:?} are not {drawn:?} scaled"
            );
        }
        assert!(
            (scale - scale_y).abs() <= 0.01 * scale
                && ((left + right) as f64 / 2.0 - (dx + scale * y_axis_x)).abs() <= 1.0,
            "the y axis at {axis:?} is not where the ticks put it (scale {scale}, dx {dx})"
        );
        Placement {
            scale,
            dx,
            dy: top as f64 - scale * y_axis_top,
        }
    }

    /// The topmost pixels of `colour` in `within` and not in `outside` (boxes in the
    /// screenshot's pixels): the middle of their row and of their columns.
    fn topmost(&self, colour: [u8; 3], within: [f64; 4], outside: [f64; 4]) -> Option<(f64, f64)> {
        let clamp = |v: f64, max: usize| (v.max(0.0) as usize).min(max);
        for y in clamp(within[1], self.height)..clamp(within[3], self.height) {
            let columns: Vec<usize> = (clamp(within[0], self.width)..clamp(within[2], self.width))
                .filter(|x| like(self.row(y)[*x], colour))
                .filter(|x| !inside(outside, (*x as f64 + 0.5, y as f64 + 0.5)))
                .collect();
            if !columns.is_empty() {
                let mean = columns.iter().sum::<usize>() as f64 / columns.len() as f64;
                return Some((mean + 0.5, y as f64 + 0.5));
            }
        }
        None
    }
}

fn dark(p: [u8; 3]) -> bool {
    p.iter().all(|c| *c < 170)
}

/// The runs of pixels `keep` picks, as (first, end) columns.
fn runs(row: &[[u8; 3]], keep: fn([u8; 3]) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for x in 0..=row.len() {
        match (x < row.len() && keep(row[x]), start) {
            (true, None) => start = Some(x),
            (false, Some(s)) => {
                out.push((s, x));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// `(x0, y0, x1, y1)` holds the point.
fn inside(b: [f64; 4], (x, y): (f64, f64)) -> bool {
    b[0] <= x && x <= b[2] && b[1] <= y && y <= b[3]
}

/// An SVG drawn in the screenshot: screen = d + scale * svg.
#[derive(Debug)]
struct Placement {
    scale: f64,
    dx: f64,
    dy: f64,
}

impl Placement {
    fn to_screen(&self, b: [f64; 4]) -> [f64; 4] {
        [
            self.dx + self.scale * b[0],
            self.dy + self.scale * b[1],
            self.dx + self.scale * b[2],
            self.dy + self.scale * b[3],
        ]
    }

    fn to_svg(&self, (x, y): (f64, f64)) -> (f64, f64) {
        ((x - self.dx) / self.scale, (y - self.dy) / self.scale)
    }
}

/// Debian's headless Chromium renders `page` with every host name unresolvable (and the page's
/// own policy forbids any fetch), then takes a screenshot.
fn screenshot(page: &Path, dir: &Path) -> Screenshot {
    let chromium =
        std::env::var("SES_LEDGER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let id = uuid::Uuid::new_v4().simple().to_string();
    let png_path = dir.join(format!("screenshot-{id}.png"));
    let out = Command::new("timeout")
        .arg("120")
        .arg(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1000,1500",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join(format!("chromium-{id}")).display()
        ))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!("{chromium} did not start ({e}): scripts/install-chromium.sh installs it")
        });
    assert!(
        png_path.exists(),
        "{chromium} wrote no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).expect("screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let channels = info.color_type.samples();
    assert!(info.bit_depth == png::BitDepth::Eight && channels >= 3);
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect::<Vec<_>>();
    assert_eq!(rgb.len(), 1000 * 1500, "the window's size");
    Screenshot {
        width: info.width as usize,
        height: info.height as usize,
        rgb,
    }
}

/// The stroke colours an SVG draws with, other than black, white and greys (axes and grid).
fn stroke_colours(svg: &str) -> BTreeSet<[u8; 3]> {
    svg.split("stroke=\"#")
        .skip(1)
        .filter_map(|rest| {
            let hex = rest.get(..6)?;
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
            Some([byte(0)?, byte(2)?, byte(4)?])
        })
        .filter(|[r, g, b]| !(r == g && g == b))
        .collect()
}

/// What one day holds, counted by this test from the SES JSON, not by the ledger.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct DayCounts {
    sends: u64,
    deliveries: u64,
    /// Deliveries to `FEEDBACK_LOOP_DOMAINS`.
    fbl_deliveries: u64,
    /// Permanent bounces not from a suppression list: SES's bounce rate's numerator.
    hard_bounces: u64,
    other_bounces: u64,
    complaints: u64,
    /// Complaints from `FEEDBACK_LOOP_DOMAINS` not from a suppression list.
    fbl_complaints: u64,
}

fn type_of(message: &Value) -> &str {
    message["eventType"]
        .as_str()
        .or_else(|| message["notificationType"].as_str())
        .unwrap_or_default()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// The events of `stream` (SES messages, one a line) by the UTC day of the event's own time
/// (`delivery.timestamp`, `bounce.timestamp`, `complaint.timestamp`; `mail.timestamp` for a
/// send), each event once however often and in whichever format the stream brings it (its type,
/// message id and recipient), recipients at SES's mailbox simulator left out.
fn count_by_day(stream: &str) -> BTreeMap<NaiveDate, DayCounts> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let addresses = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["emailAddress"].as_str().map(str::to_string))
            .collect()
    };
    let mut seen = BTreeSet::new();
    let mut days: BTreeMap<NaiveDate, DayCounts> = BTreeMap::new();
    for line in stream.lines() {
        let m: Value = serde_json::from_str(line).expect("an SES message a line");
        let kind = type_of(&m);
        let mail = &m["mail"];
        let (object, recipients) = match kind {
            "Send" => (&m["send"], strings(&mail["destination"])),
            "Delivery" => (&m["delivery"], strings(&m["delivery"]["recipients"])),
            "Bounce" => (&m["bounce"], addresses(&m["bounce"]["bouncedRecipients"])),
            "Complaint" => (
                &m["complaint"],
                addresses(&m["complaint"]["complainedRecipients"]),
            ),
            _ => continue,
        };
        let time = object["timestamp"]
            .as_str()
            .or_else(|| mail["timestamp"].as_str())
            .expect("a timestamp");
        let day = utc(time).date_naive();
        let id = mail["messageId"].as_str().expect("mail.messageId");
        let subtype = object["bounceSubType"]
            .as_str()
            .or_else(|| object["complaintSubType"].as_str())
            .unwrap_or_default();
        let suppressed = SUPPRESSION_LIST_SUBTYPES.contains(&subtype);
        for recipient in recipients {
            let recipient = recipient.to_lowercase();
            let domain = recipient.rsplit_once('@').map_or("", |(_, d)| d);
            if domain == MAILBOX_SIMULATOR
                || !seen.insert((kind.to_string(), id.to_string(), recipient.clone()))
            {
                continue;
            }
            let fbl = FEEDBACK_LOOP_DOMAINS.contains(&domain);
            assert!(
                fbl || OTHER_DOMAINS.contains(&domain),
                "{recipient}: is its provider one that sends SES complaint feedback?"
            );
            let c = days.entry(day).or_default();
            match kind {
                "Send" => c.sends += 1,
                "Delivery" => {
                    c.deliveries += 1;
                    c.fbl_deliveries += u64::from(fbl);
                }
                "Bounce" if object["bounceType"] == "Permanent" && !suppressed => {
                    c.hard_bounces += 1
                }
                "Bounce" => c.other_bounces += 1,
                _ => {
                    c.complaints += 1;
                    c.fbl_complaints += u64::from(fbl && !suppressed);
                }
            }
        }
    }
    days
}

/// `simulated` (SES messages, one a line) with `KEPT_TENTHS` of each day's messages, each
/// whole: every event of a kept message (by the serial that ends simulate's message ids) and
/// none of the others'.
fn uneven_days(simulated: &str, first: NaiveDate) -> String {
    let messages: Vec<Value> = simulated
        .lines()
        .map(|l| serde_json::from_str(l).expect("an SES message a line"))
        .collect();
    let complained: BTreeSet<&str> = messages
        .iter()
        .filter(|m| type_of(m) == "Complaint")
        .filter_map(|m| m["mail"]["messageId"].as_str())
        .collect();
    let mut kept = String::new();
    for (line, m) in simulated.lines().zip(&messages) {
        let id = m["mail"]["messageId"].as_str().expect("mail.messageId");
        let serial: u64 = id
            .rsplit('-')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{id}: simulate's message ids end in a serial"));
        let sent = utc(m["mail"]["timestamp"].as_str().expect("mail.timestamp"));
        let kept_tenths = usize::try_from((sent.date_naive() - first).num_days())
            .ok()
            .and_then(|day| KEPT_TENTHS.get(day))
            .unwrap_or_else(|| panic!("{id} sent on a day KEPT_TENTHS does not name"));
        if complained.contains(id) || serial % 10 < *kept_tenths {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// A chart's line and what it shows on a day (None: no point), from the day's counts. The
/// rates are percentages, as the charts' axes label them.
struct Line {
    name: &'static str,
    /// 0: volume, 1: complaint rate, 2: bounce rate (the page's order).
    chart: usize,
    colour: [u8; 3],
    value: fn(&DayCounts) -> Option<f64>,
    /// The data has one clear highest day, and the line's highest point is on it.
    peak: bool,
    /// The same of the lowest day and point (where the page's days hold no ties).
    low: bool,
}

fn percent(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64 * 100.0)
}

fn lines() -> [Line; 6] {
    [
        Line {
            name: "sends",
            chart: 0,
            colour: SENDS,
            value: |c| Some(c.sends as f64),
            peak: false,
            low: false,
        },
        Line {
            name: "deliveries",
            chart: 0,
            colour: DELIVERIES,
            value: |c| Some(c.deliveries as f64),
            peak: true,
            low: true,
        },
        Line {
            name: "deliveries to feedback-loop providers",
            chart: 0,
            colour: FEEDBACK_LOOP_DELIVERIES,
            value: |c| Some(c.fbl_deliveries as f64),
            peak: false,
            low: false,
        },
        Line {
            name: "naive complaint rate",
            chart: 1,
            colour: NAIVE,
            value: |c| percent(c.complaints, c.deliveries),
            peak: true,
            low: false,
        },
        Line {
            name: "feedback-loop complaint rate",
            chart: 1,
            colour: FEEDBACK_LOOP,
            value: |c| percent(c.fbl_complaints, c.fbl_deliveries),
            peak: true,
            low: false,
        },
        Line {
            name: "bounce rate",
            chart: 2,
            colour: BOUNCE,
            // Over delivery attempts: deliveries and every bounce.
            value: |c| {
                percent(
                    c.hard_bounces,
                    c.deliveries + c.hard_bounces + c.other_bounces,
                )
            },
            peak: false,
            low: false,
        },
    ]
}

/// The `<name …>` elements of an SVG: their attributes and the text before their closing tag.
fn elements<'a>(svg: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let close = format!("</{name}>");
    svg.split(&format!("<{name} "))
        .skip(1)
        .filter_map(|rest| {
            let (tag, after) = rest.split_once('>')?;
            let text = if tag.ends_with('/') {
                ""
            } else {
                after.split_once(close.as_str()).map_or("", |(t, _)| t)
            };
            Some((tag, text.trim()))
        })
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = tag
        .match_indices(&key)
        .find(|(i, _)| *i == 0 || tag.as_bytes()[i - 1] == b' ')?
        .0
        + key.len();
    tag[start..].split('"').next()
}

fn number(tag: &str, name: &str) -> f64 {
    attr(tag, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {name} in <{tag}>"))
}

fn points(tag: &str) -> Vec<(f64, f64)> {
    attr(tag, "points")
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').expect("x,y");
            (x.parse().expect("x"), y.parse().expect("y"))
        })
        .collect()
}

fn is_colour(value: Option<&str>, colour: [u8; 3]) -> bool {
    let hex = format!("#{:02x}{:02x}{:02x}", colour[0], colour[1], colour[2]);
    value.is_some_and(|v| v.eq_ignore_ascii_case(&hex))
}

/// A point of a line as a person reads it: the day labelled under it and its value against the
/// y axis's labels.
#[derive(Debug, Clone, Copy)]
struct Point {
    x: f64,
    y: f64,
    value: f64,
}

/// A chart's SVG, read from what it draws.
struct Chart {
    svg: String,
    width: f64,
    height: f64,
    /// (x, day) of the labels under the x axis, left to right.
    labels: Vec<(f64, NaiveDate)>,
    /// (y, value) of the labels beside the y axis.
    values: Vec<(f64, f64)>,
    /// The legend's box: x0, y0, x1, y1.
    legend: [f64; 4],
    /// The x axis: x0, x1, y.
    x_axis: [f64; 3],
    /// The y axis: x, y0, y1.
    y_axis: [f64; 3],
    /// The x axis's tick marks, left to right.
    ticks_x: Vec<f64>,
}

impl Chart {
    /// `svg`, its x axis labelled with days among `among` (the labels say no year).
    fn read(svg: &str, among: &[NaiveDate]) -> Chart {
        let root = elements(svg, "svg").first().expect("an <svg>").0;
        let texts = elements(svg, "text");
        let mut labels: Vec<(f64, NaiveDate)> = texts
            .iter()
            .filter_map(|(tag, text)| {
                let day = among
                    .iter()
                    .find(|d| d.format("%m-%d").to_string() == *text)?;
                Some((number(tag, "x"), *day))
            })
            .collect();
        let values: Vec<(f64, f64)> = texts
            .iter()
            .filter_map(|(tag, text)| {
                let v = text.strip_suffix('%').unwrap_or(text).parse().ok()?;
                Some((number(tag, "y"), v))
            })
            .collect();
        labels.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(labels.len() >= 2, "the x axis's labels: {labels:?}");
        assert!(values.len() >= 2, "the y axis's labels: {values:?}");
        let legends: Vec<[f64; 4]> = elements(svg, "rect")
            .iter()
            .filter(|(tag, _)| attr(tag, "fill") == Some("none"))
            .map(|(tag, _)| {
                let (x, y) = (number(tag, "x"), number(tag, "y"));
                [x, y, x + number(tag, "width"), y + number(tag, "height")]
            })
            .collect();
        assert_eq!(legends.len(), 1, "one legend box");
        let black: Vec<Vec<(f64, f64)>> = elements(svg, "polyline")
            .iter()
            .filter(|(tag, _)| is_colour(attr(tag, "stroke"), [0, 0, 0]))
            .map(|(tag, _)| points(tag))
            .filter(|p| p.len() == 2)
            .collect();
        let x_axis = black
            .iter()
            .filter(|p| p[0].1 == p[1].1)
            .max_by(|a, b| (a[1].0 - a[0].0).total_cmp(&(b[1].0 - b[0].0)))
            .map(|p| [p[0].0, p[1].0, p[0].1])
            .expect("an x axis");
        let y_axis = black
            .iter()
            .filter(|p| p[0].0 == p[1].0)
            .max_by(|a, b| (a[1].1 - a[0].1).total_cmp(&(b[1].1 - b[0].1)))
            .map(|p| [p[0].0, p[0].1, p[1].1])
            .expect("a y axis");
        let mut ticks_x: Vec<f64> = black
            .iter()
            .filter(|p| p[0].0 == p[1].0 && p[0].1 == x_axis[2] && p[1].1 > x_axis[2])
            .map(|p| p[0].0)
            .collect();
        ticks_x.sort_by(f64::total_cmp);
        Chart {
            svg: svg.to_string(),
            width: number(root, "width"),
            height: number(root, "height"),
            labels,
            values,
            legend: legends[0],
            x_axis,
            y_axis,
            ticks_x,
        }
    }

    /// The day at `x`, against the x axis's outermost labels; None between days.
    fn day_at(&self, x: f64) -> Option<NaiveDate> {
        let ((x0, d0), (x1, d1)) = (self.labels[0], self.labels[self.labels.len() - 1]);
        let per_day = (x1 - x0) / (d1 - d0).num_days() as f64;
        let offset = ((x - x0) / per_day).round();
        ((x - x0 - offset * per_day).abs() <= 1.0).then(|| d0 + Duration::days(offset as i64))
    }

    /// The days the x axis spans, a day's margin either side left out.
    fn days(&self) -> Vec<NaiveDate> {
        let (Some(from), Some(to)) = (self.day_at(self.x_axis[0]), self.day_at(self.x_axis[1]))
        else {
            panic!("the x axis {:?} does not end on days", self.x_axis)
        };
        (from + Duration::days(1))
            .iter_days()
            .take_while(|d| *d < to)
            .collect()
    }

    /// The value at height `y`, against the y axis's outermost labels.
    fn value_at(&self, y: f64) -> f64 {
        let low = self.values.iter().max_by(|a, b| a.0.total_cmp(&b.0));
        let high = self.values.iter().min_by(|a, b| a.0.total_cmp(&b.0));
        let (Some(low), Some(high)) = (low, high) else {
            unreachable!("two labels")
        };
        low.1 + (y - low.0) * (high.1 - low.1) / (high.0 - low.0)
    }

    /// How much a pixel of height stands for.
    fn per_pixel(&self) -> f64 {
        (self.value_at(0.0) - self.value_at(1.0)).abs()
    }

    /// The line drawn in `colour`, read point by point; every point has its dot.
    fn line(&self, colour: [u8; 3], name: &str) -> BTreeMap<NaiveDate, Point> {
        let mut vertices: Vec<(f64, f64)> = elements(&self.svg, "polyline")
            .iter()
            .filter(|(tag, _)| is_colour(attr(tag, "stroke"), colour))
            .map(|(tag, _)| points(tag))
            // The legend's key.
            .filter(|p| !p.iter().all(|p| inside(self.legend, *p)))
            .flatten()
            .collect();
        let mut dots: Vec<(f64, f64)> = elements(&self.svg, "circle")
            .iter()
            .filter(|(tag, _)| is_colour(attr(tag, "fill"), colour))
            .map(|(tag, _)| (number(tag, "cx"), number(tag, "cy")))
            .collect();
        vertices.sort_by(|a, b| a.0.total_cmp(&b.0));
        dots.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(vertices, dots, "{name}: a dot on each point of the line");
        let mut read = BTreeMap::new();
        for (x, y) in vertices {
            let day = self
                .day_at(x)
                .unwrap_or_else(|| panic!("{name}: a point at x {x}, between days"));
            let point = Point {
                x,
                y,
                value: self.value_at(y),
            };
            assert!(
                read.insert(day, point).is_none(),
                "{name}: two points on {day}"
            );
        }
        read
    }
}

/// What `line` shows on each of `days` that has a value, by `counts`.
fn expected(
    line: &Line,
    counts: &BTreeMap<NaiveDate, DayCounts>,
    days: &[NaiveDate],
) -> BTreeMap<NaiveDate, f64> {
    days.iter()
        .filter_map(|d| {
            let value = (line.value)(&counts.get(d).copied().unwrap_or_default())?;
            Some((*d, value))
        })
        .collect()
}

/// `line` in `chart` shows each day of `days` as `counts` have it: a point on each day with a
/// value and on no other, at that value (read against the chart's own y labels, within a pixel
/// and a half); the line as read.
fn assert_line(
    chart: &Chart,
    line: &Line,
    counts: &BTreeMap<NaiveDate, DayCounts>,
    days: &[NaiveDate],
) -> BTreeMap<NaiveDate, Point> {
    let read = chart.line(line.colour, line.name);
    let expected = expected(line, counts, days);
    assert_eq!(
        read.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{}: a point on each day with a value, and only those",
        line.name
    );
    let tolerance = 1.5 * chart.per_pixel();
    for (day, value) in &expected {
        let shown = read[day].value;
        assert!(
            (shown - value).abs() <= tolerance,
            "{} on {day}: the chart shows {shown:.3}, the stream holds {value:.3} (±{tolerance:.3})",
            line.name
        );
    }
    read
}

/// The day with the highest (or lowest) value of `line` by `counts`, which stands at least
/// `margin` clear of every other day's, so a picture can show it.
fn clear_extreme(
    line: &Line,
    counts: &BTreeMap<NaiveDate, DayCounts>,
    days: &[NaiveDate],
    highest: bool,
    margin: f64,
) -> NaiveDate {
    let mut values: Vec<(NaiveDate, f64)> = expected(line, counts, days).into_iter().collect();
    values.sort_by(|a, b| a.1.total_cmp(&b.1));
    if highest {
        values.reverse();
    }
    let [(day, best), (_, next), ..] = values[..] else {
        panic!("{}: {values:?} has no two days", line.name)
    };
    assert!(
        (best - next).abs() >= margin,
        "{}: the stream's {} day {day} ({best:.3}) is less than {margin:.3} from the next \
         ({next:.3}); choose KEPT_TENTHS so that one day stands out",
        line.name,
        if highest { "highest" } else { "lowest" }
    );
    day
}

/// The highest (smallest y) or lowest point of a line read from its chart, which no other
/// point shares.
fn extreme_point(read: &BTreeMap<NaiveDate, Point>, highest: bool) -> (NaiveDate, Point) {
    let mut points: Vec<(NaiveDate, Point)> = read.iter().map(|(d, p)| (*d, *p)).collect();
    points.sort_by(|a, b| a.1.y.total_cmp(&b.1.y));
    if !highest {
        points.reverse();
    }
    assert!(
        points.len() < 2 || points[0].1.y != points[1].1.y,
        "two points at the extreme: {points:?}"
    );
    points[0]
}

/// The page's three charts show `counts` on each of their days: every line at its values, its
/// peak (and, with `lows`, its low) on the day the counts put it, and the screenshot draws each
/// peak where its SVG does. The charts' day labels are among `among`.
fn assert_charts_show(
    svgs: &[String],
    shot: &Screenshot,
    counts: &BTreeMap<NaiveDate, DayCounts>,
    among: &[NaiveDate],
    lows: bool,
) {
    assert_eq!(svgs.len(), 3);
    let charts: Vec<Chart> = svgs.iter().map(|s| Chart::read(s, among)).collect();
    let axes = shot.y_axes();
    assert_eq!(axes.len(), 3, "the screenshot's y axes: {axes:?}");
    for line in lines() {
        let chart = &charts[line.chart];
        let days = chart.days();
        let read = assert_line(chart, &line, counts, &days);
        let margin = 3.0 * chart.per_pixel();
        let extremes = [(true, line.peak), (false, line.low && lows)];
        for (highest, _) in extremes.into_iter().filter(|e| e.1) {
            let day = clear_extreme(&line, counts, &days, highest, margin);
            let (drawn, point) = extreme_point(&read, highest);
            assert_eq!(
                drawn,
                day,
                "{}: the {} point is on {drawn}, the stream's {} day is {day}",
                line.name,
                if highest { "highest" } else { "lowest" },
                if highest { "highest" } else { "lowest" },
            );
            if !highest {
                continue;
            }
            // The browser draws the peak where the SVG puts it: the colour's topmost pixel in
            // the chart (the legend's key left out) is over the same day.
            let placed = shot.placement(axes[line.chart], chart);
            let margin = 2.0;
            let legend = [
                chart.legend[0] - margin,
                chart.legend[1] - margin,
                chart.legend[2] + margin,
                chart.legend[3] + margin,
            ];
            let top = shot
                .topmost(
                    line.colour,
                    placed.to_screen([0.0, 0.0, chart.width, chart.height]),
                    placed.to_screen(legend),
                )
                .unwrap_or_else(|| panic!("{}: not in the screenshot", line.name));
            let (x, y) = placed.to_svg(top);
            assert!(
                (x - point.x).abs() <= 3.0 && (y - point.y).abs() <= 4.0,
                "{}: the screenshot's topmost pixel of it is at ({x:.1}, {y:.1}) in the SVG's \
                 units ({placed:?}), the SVG's peak at ({}, {})",
                line.name,
                point.x,
                point.y
            );
        }
    }
}

/// `simulate` with `args` written to `dir/simulated.jsonl`; `uneven_days` of it written to
/// `dir/stream.jsonl` and replayed into the ledger; the stream replayed.
fn simulate_uneven_days_and_replay(
    config: &ses_ledger::config::LedgerConfig,
    dir: &Path,
    first: NaiveDate,
    args: &[&str],
) -> String {
    let simulated = dir.join("simulated.jsonl");
    let sim = Command::new(cli())
        .arg("simulate")
        .args(args)
        .arg("--out")
        .arg(&simulated)
        .output()
        .expect("simulate");
    assert_ok(&sim);
    let stream = uneven_days(
        &std::fs::read_to_string(&simulated).expect("the simulated stream"),
        first,
    );
    let path = dir.join("stream.jsonl");
    std::fs::write(&path, &stream).expect("stream.jsonl");
    let replay = run(
        config,
        &["replay", "--quiet", path.to_str().unwrap_or_default()],
    );
    assert_ok(&replay);
    stream
}

/// The evidence folder's report.html, as a person would see it: Debian's headless Chromium
/// (scripts/install-chromium.sh installs it) renders it with no network and takes a screenshot,
/// and the screenshot shows every line of every chart in its colour. Each line shows what the
/// replayed stream holds, day by day, as this test counts it from the SES JSON: a point on each
/// day at the count or rate the stream gives it, read against the chart's own axis labels, the
/// peaks and the low on the right days; and the browser draws the peaks where the SVG does.
/// `report --html` writes the same kind of page.
#[tokio::test]
async fn evidence_report_html_renders_its_charts_offline_in_a_real_browser() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clihtml").await;
    let dir = scratch("html");
    // One `now`: midnight may not fall between the period's two ends.
    let now = Utc::now();
    let first = (now - Duration::days(5)).date_naive();
    let last = now.date_naive();
    let period: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    let start = format!("{first}T00:00:00Z");
    let stream = simulate_uneven_days_and_replay(
        &config,
        &dir,
        first,
        &[
            "--days",
            "5",
            "--sends-per-day",
            "400",
            "--complaints-per-day",
            "3",
            "--seed",
            "5",
            "--start",
            &start,
        ],
    );
    assert!(TableDiffStream::default().count(&aws, &config).await > 0);
    let counts = count_by_day(&stream);
    assert!(
        counts.keys().all(|d| period.contains(d)),
        "every event in the period: {counts:?}"
    );

    let out = dir.join("evidence");
    let evidence = run(
        &config,
        &[
            "evidence",
            "--no-ses",
            "--from",
            &first.to_string(),
            "--to",
            &last.to_string(),
            "--out",
            out.to_str().unwrap_or_default(),
        ],
    );
    assert_ok(&evidence);
    let page = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    // The page carries the summary's figures and the three pictures, each also a file.
    let naive_line = summary
        .lines()
        .find(|l| l.starts_with("| naive complaint rate"))
        .expect("the naive rate in the summary");
    let naive_figure = naive_line.rsplit('|').nth(1).unwrap_or_default().trim();
    assert!(
        naive_figure.contains(" / ") && page.contains(naive_figure),
        "{naive_figure} not in the page"
    );
    // daily.csv has the days as the stream has them.
    let daily = std::fs::read_to_string(out.join("daily.csv")).expect("daily.csv");
    let mut rows = daily.lines();
    let header: Vec<&str> = rows.next().expect("a header").split(',').collect();
    let mut ledger: BTreeMap<NaiveDate, DayCounts> = BTreeMap::new();
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        let n = |name: &str| -> u64 {
            let i = header.iter().position(|h| *h == name).expect(name);
            cells[i].parse().expect("a count")
        };
        let day = cells[0].parse().expect("a date");
        ledger.insert(
            day,
            DayCounts {
                sends: n("sends"),
                deliveries: n("deliveries"),
                fbl_deliveries: n("fbl_deliveries"),
                hard_bounces: n("hard_bounces"),
                other_bounces: n("other_bounces"),
                complaints: n("complaints"),
                fbl_complaints: n("fbl_complaints"),
            },
        );
    }
    assert!(ledger.keys().all(|d| period.contains(d)), "{daily}");
    for day in &period {
        assert_eq!(
            ledger.get(day).copied().unwrap_or_default(),
            counts.get(day).copied().unwrap_or_default(),
            "daily.csv on {day}"
        );
    }

    let mut colours = BTreeSet::new();
    let mut svgs = Vec::new();
    for chart in ["daily-volume", "complaint-rate", "bounce-rate"] {
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).expect(chart);
        assert!(page.contains(&svg), "{chart}.svg is inline in the page");
        colours.extend(stroke_colours(&svg));
        svgs.push(svg);
    }
    // Two coloured volume lines (sends are grey), two complaint rates, the bounce rate, and
    // SES's two levels.
    assert!(colours.len() >= 7, "{colours:?}");

    // A legend entry is 20 pixels of a 3-pixel line: 300 pixels of a colour take its line
    // across the days.
    let shot = screenshot(&out.join("report.html"), &dir);
    for colour in &colours {
        let n = shot.pixels_like(*colour);
        assert!(
            n >= 300,
            "the screenshot shows {n} pixels of the chart colour {colour:02x?}"
        );
    }
    // A colour no chart draws is not seen: the counts above are of the charts.
    assert_eq!(shot.pixels_like([0x00, 0xff, 0x00]), 0);
    // Every day of the period is on each chart's axis, labelled once.
    for svg in &svgs {
        let chart = Chart::read(svg, &period);
        let labelled: Vec<NaiveDate> = chart.labels.iter().map(|l| l.1).collect();
        assert_eq!(
            labelled, period,
            "the x axis labels each day of the period once"
        );
        assert_eq!(chart.days(), period);
    }
    assert_charts_show(&svgs, &shot, &counts, &period, true);

    // The longest window reaches back 30 days (the last-N-sends window held to 7 days of its
    // default 90), so the simulated days are the charts' last.
    let report_page = dir.join("report.html");
    let report = run_with(
        &config,
        &[("SES_LEDGER_RECENT_SENDS_MAX_DAYS", "7")],
        &[
            "report",
            "--no-ses",
            "--html",
            report_page.to_str().unwrap_or_default(),
        ],
    );
    assert_ok(&report);
    let html = std::fs::read_to_string(&report_page).expect("report --html");
    assert!(
        html.contains("<td>tag:tenant=acme</td>"),
        "every scope's rows"
    );
    assert_eq!(html.matches("<svg").count(), 3);
    let shot = screenshot(&report_page, &dir);
    let report_svgs: Vec<String> = html
        .split("<svg")
        .skip(1)
        .map(|s| format!("<svg{}</svg>", s.split("</svg>").next().unwrap_or_default()))
        .collect();
    let report_colours: BTreeSet<[u8; 3]> =
        report_svgs.iter().flat_map(|s| stroke_colours(s)).collect();
    assert!(report_colours.len() >= 7);
    for colour in &report_colours {
        let n = shot.pixels_like(*colour);
        assert!(n >= 300, "{n} pixels of {colour:02x?}");
    }
    // The same days, the last of the 30 before now; the days before them show none of it. (The
    // report reads the clock again: a day later if midnight passed.)
    let among: Vec<NaiveDate> = (last - Duration::days(31))
        .iter_days()
        .take_while(|d| *d <= last + Duration::days(1))
        .collect();
    let days = Chart::read(&report_svgs[0], &among).days();
    assert!(
        days.len() == 31 && period.iter().all(|d| days.contains(d)),
        "the report's charts show 30 days and today: {days:?}"
    );
    assert_charts_show(&report_svgs, &shot, &counts, &among, false);
}
