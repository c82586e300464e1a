//! The page: one self-contained HTML file (inline SVG and CSS, no script, no
//! network). Its Content-Security-Policy forbids every external load, so a stray
//! reference shows up as an error in a browser (the integration test looks for
//! exactly that). Pure: a [`Page`] in, bytes out.

/// The policy of the page: nothing from anywhere, inline styles, `data:` images.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// One block of a section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// A chart as inline SVG text (from `plots`).
    Svg(String),
    /// A table: header and rows of cell text.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// Label and value lines.
    Facts(Vec<(String, String)>),
    /// A paragraph.
    Text(String),
}

/// A titled part of the page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Section {
    pub(crate) title: String,
    pub(crate) blocks: Vec<Block>,
}

/// The whole page.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Page {
    pub(crate) title: String,
    pub(crate) subtitle: String,
    /// Shown in a box at the top (drift above the threshold, an empty list, ...).
    pub(crate) warnings: Vec<String>,
    pub(crate) sections: Vec<Section>,
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1040px;color:#222;padding:0 16px}\
h1{font-size:24px;margin-bottom:2px}h2{font-size:19px;margin-top:34px;border-bottom:1px solid #ccc;padding-bottom:4px}\
.sub{color:#555;margin-top:0}table{border-collapse:collapse;font-size:13px;margin:8px 0}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f2f2f2}\
td.n{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;grid-template-columns:max-content auto;gap:4px 18px;font-size:15px}\
dt{color:#555}dd{margin:0;font-weight:bold}.warn{background:#fff3cd;border:1px solid #e0b000;padding:8px 14px;margin:14px 0}\
svg{max-width:100%;height:auto;display:block;margin:8px 0}";

/// Whether a cell reads as a number (right-aligned).
fn numeric(s: &str) -> bool {
    let t = s.trim_end_matches('%').trim();
    !t.is_empty() && t.parse::<f64>().is_ok()
}

/// The page as UTF-8 HTML.
pub(crate) fn render(page: &Page) -> Vec<u8> {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    h.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        escape(CSP)
    ));
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!(
        "<title>{}</title>\n<style>{STYLE}</style></head><body>\n",
        escape(&page.title)
    ));
    h.push_str(&format!(
        "<h1>{}</h1>\n<p class=\"sub\">{}</p>\n",
        escape(&page.title),
        escape(&page.subtitle)
    ));
    for w in &page.warnings {
        h.push_str(&format!("<div class=\"warn\">{}</div>\n", escape(w)));
    }
    for s in &page.sections {
        h.push_str(&format!("<section><h2>{}</h2>\n", escape(&s.title)));
        for b in &s.blocks {
            block(&mut h, b);
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body></html>\n");
    h.into_bytes()
}

fn block(h: &mut String, b: &Block) {
    match b {
        // The SVG comes from plotters, which escapes its own text.
        Block::Svg(svg) => {
            h.push_str("<figure>");
            h.push_str(svg);
            h.push_str("</figure>\n");
        }
        Block::Table { header, rows } => {
            h.push_str("<table><thead><tr>");
            for c in header {
                h.push_str(&format!("<th>{}</th>", escape(c)));
            }
            h.push_str("</tr></thead><tbody>\n");
            for r in rows {
                h.push_str("<tr>");
                for c in r {
                    let class = if numeric(c) { " class=\"n\"" } else { "" };
                    h.push_str(&format!("<td{class}>{}</td>", escape(c)));
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</tbody></table>\n");
        }
        Block::Facts(facts) => {
            h.push_str("<dl>");
            for (k, v) in facts {
                h.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)));
            }
            h.push_str("</dl>\n");
        }
        Block::Text(t) => h.push_str(&format!("<p>{}</p>\n", escape(t))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let page = Page {
            title: "run <1>".into(),
            subtitle: "a & b".into(),
            warnings: vec!["drift \"high\"".into()],
            sections: vec![Section {
                title: "Summary".into(),
                blocks: vec![
                    Block::Facts(vec![("threshold".into(), "0.12".into())]),
                    Block::Table {
                        header: vec!["name".into(), "psi".into()],
                        rows: vec![vec!["<script>".into(), "0.3".into()]],
                    },
                    Block::Svg("<svg></svg>".into()),
                    Block::Text("x".into()),
                ],
            }],
        };
        let h = String::from_utf8(render(&page)).unwrap();
        assert!(h.contains("content=\"default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:\""));
        assert!(h.contains("<title>run &lt;1&gt;</title>"));
        assert!(h.contains("&lt;script&gt;") && !h.contains("<script>"));
        assert!(h.contains("<td class=\"n\">0.3</td>"));
        assert!(h.contains("drift &quot;high&quot;"));
        // Nothing that loads from elsewhere.
        for bad in ["http://", "https://", "src=", "<link", "@import"] {
            assert!(!h.contains(bad), "{bad}");
        }
    }
}
