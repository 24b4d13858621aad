//! The evidence folder's report.html, rendered offline in Debian's headless Chromium and
//! screenshotted: each chart draws the data it names.

// Needs the local stack that scripts/test.sh starts; `cargo test --workspace` alone compiles
// this file to nothing (the `local-stack` feature, see cli/Cargo.toml).
#![cfg(feature = "local-stack")]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use ses_ledger_integration_tests::*;

/// A screenshot, decoded to RGB.
struct Screenshot {
    rgb: Vec<[u8; 3]>,
}

impl Screenshot {
    /// Pixels within a small distance of `colour` (anti-aliased edges blend into the white).
    fn pixels_like(&self, colour: [u8; 3]) -> usize {
        self.rgb
            .iter()
            .filter(|p| {
                p.iter()
                    .zip(colour)
                    .map(|(a, b)| a.abs_diff(b) as u32)
                    .sum::<u32>()
                    <= 12
            })
            .count()
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
    Screenshot { rgb }
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

/// The evidence folder's report.html, as a person would see it: Debian's headless Chromium
/// (scripts/install-chromium.sh installs it) renders it with no network and takes a screenshot,
/// and the screenshot shows every line of every chart in its colour. `report --html` writes the
/// same kind of page.
#[tokio::test]
async fn evidence_report_html_renders_its_charts_offline_in_a_real_browser() {
    let aws = local_aws().await;
    let config = fresh_ledger(&aws, "clihtml").await;
    let dir = scratch("html");
    let first = (Utc::now() - Duration::days(5)).date_naive();
    let last = Utc::now().date_naive();
    let start = format!("{first}T00:00:00Z");
    simulate_and_replay(
        &config,
        &dir,
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
    let mut colours = BTreeSet::new();
    for chart in ["daily-volume", "complaint-rate", "bounce-rate"] {
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).expect(chart);
        assert!(page.contains(&svg), "{chart}.svg is inline in the page");
        colours.extend(stroke_colours(&svg));
    }
    // Every day of the period is on the axis.
    for day in first.iter_days().take_while(|d| *d <= last) {
        let label = day.format("%m-%d").to_string();
        assert!(
            page.contains(&format!("\n{label}\n</text>")),
            "{day} on the axis"
        );
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

    // The longest window reaches back a week, so the simulated days fill the charts.
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
    let report_colours: BTreeSet<[u8; 3]> = html
        .split("<svg")
        .skip(1)
        .flat_map(stroke_colours)
        .collect();
    assert!(report_colours.len() >= 7);
    for colour in &report_colours {
        let n = shot.pixels_like(*colour);
        assert!(n >= 300, "{n} pixels of {colour:02x?}");
    }
}
