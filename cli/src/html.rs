//! One self-contained HTML page: the summary, the charts and the tables together, for a browser
//! with no network. The SVGs are inline, the style is inline, there is no script and nothing is
//! fetched. Text is Markdown rendered by pulldown-cmark with raw HTML escaped, since scope names
//! and provider names come from the mail's tags and domains.

use pulldown_cmark::{html, CowStr, Event, Options, Parser};

use crate::charts::Charts;

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;max-width:960px;margin:24px auto;padding:0 12px;color:#222}\
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #bbb;padding:3px 8px;text-align:left;font-size:13px}\
th{background:#eee}figure{margin:12px 0}figcaption{font-size:13px;color:#555}code,pre{background:#f4f4f4}\
pre{padding:8px;overflow-x:auto}";

/// Markdown to HTML; raw HTML in the text is shown as text, never interpreted.
pub fn markdown(text: &str) -> String {
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

fn escape(text: &str) -> String {
    let mut out = String::new();
    html::push_html(&mut out, std::iter::once(Event::Text(CowStr::from(text))));
    out
}

/// The page: a title, a line under it, the charts, then the Markdown body (summary and tables).
pub fn page(title: &str, subtitle: &str, charts: &Charts, body_markdown: &str) -> String {
    let mut figures = String::new();
    for (file, caption, svg) in charts.files() {
        figures.push_str(&format!(
            "<figure id=\"{}\">{svg}<figcaption>{}</figcaption></figure>\n",
            file.trim_end_matches(".svg"),
            escape(caption)
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n<p>{}</p>\n{figures}{}</body></html>\n",
        escape(title),
        escape(title),
        escape(subtitle),
        markdown(body_markdown)
    )
}

/// A Markdown table; `|` in a cell is escaped so a scope name cannot split its row.
pub fn markdown_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charts() -> Charts {
        Charts {
            volume: "<svg id=\"v\"></svg>".into(),
            complaint: "<svg id=\"c\"></svg>".into(),
            bounce: "<svg id=\"b\"></svg>".into(),
        }
    }

    #[test]
    fn raw_html_in_the_text_is_shown_not_run() {
        let body = markdown_table(
            &["scope"],
            &[vec!["tag:tenant=<script>alert(1)</script>".into()]],
        );
        let page = page(
            "t",
            "s",
            &charts(),
            &format!("<img src=x onerror=alert(1)>\n\n{body}"),
        );
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
    }

    #[test]
    fn a_pipe_in_a_cell_stays_in_its_cell() {
        let html = markdown(&markdown_table(
            &["a", "b"],
            &[vec!["x|y".into(), "z".into()]],
        ));
        assert!(html.contains("<td>x|y</td>"), "{html}");
        assert!(html.contains("<td>z</td>"), "{html}");
    }

    #[test]
    fn the_page_holds_its_charts_inline_and_reaches_for_nothing() {
        let page = page(
            "Title & co",
            "sub",
            &charts(),
            "# Summary\n\n| a |\n|---|\n| 1 |\n",
        );
        for id in ["v", "c", "b"] {
            assert!(page.contains(&format!("<svg id=\"{id}\"></svg>")), "{page}");
        }
        assert!(page.contains("<title>Title &amp; co</title>"));
        assert!(page.contains("<table>"));
        assert!(
            page.contains("default-src 'none'"),
            "a browser may fetch nothing"
        );
        for reach in ["src=\"http", "href=\"http", "url(http", "<script", "<link"] {
            assert!(!page.contains(reach), "{reach} in {page}");
        }
    }
}
