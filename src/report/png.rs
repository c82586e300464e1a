//! SVG to PNG (resvg), with DejaVu Sans bundled in the binary (the `dejavu` crate)
//! as the only font: no system fonts are looked up, so `pr_curve.png` renders the
//! same everywhere, and its text cannot be dropped the way resvg drops all text
//! when its font database is empty. Pure.

use std::sync::Arc;

use resvg::{tiny_skia, usvg};

use crate::error::{Error, Result};

/// The family the bundled fonts register as; every generic family maps to it.
const FAMILY: &str = "DejaVu Sans";

/// Pixels per SVG unit: 2 for a sharp image on high-density screens and slides.
const SCALE: f32 = 2.0;

fn png_err(e: impl std::fmt::Display) -> Error {
    Error::Output {
        location: "pr_curve.png".into(),
        problem: format!("the chart could not be rendered ({e})"),
        fix: "report this as a bug, with the run's pr_curve.svg".into(),
    }
}

/// The font database: DejaVu Sans regular and bold, standing in for every generic
/// family (plotters writes `sans-serif`).
pub(crate) fn fonts() -> usvg::fontdb::Database {
    let mut db = usvg::fontdb::Database::new();
    db.load_font_data(dejavu::sans::regular().to_vec());
    db.load_font_data(dejavu::sans::bold().to_vec());
    db.set_sans_serif_family(FAMILY);
    db.set_serif_family(FAMILY);
    db.set_monospace_family(FAMILY);
    db
}

/// Renders `svg` to PNG bytes at [`SCALE`] on white, with `db` as the fonts.
pub(crate) fn render_with(svg: &str, db: usvg::fontdb::Database) -> Result<Vec<u8>> {
    let opt = usvg::Options {
        font_family: FAMILY.into(),
        fontdb: Arc::new(db),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &opt).map_err(png_err)?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(SCALE)
        .ok_or_else(|| png_err("empty size"))?;
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| png_err("empty size"))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(SCALE, SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(png_err)
}

/// Renders `svg` to PNG bytes with the bundled fonts.
pub(crate) fn render(svg: &str) -> Result<Vec<u8>> {
    render_with(svg, fonts())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Non-white pixels of a PNG.
    fn ink(png: &[u8]) -> usize {
        let p = tiny_skia::Pixmap::decode_png(png).unwrap();
        p.pixels()
            .iter()
            .filter(|c| c.red() < 200 || c.green() < 200 || c.blue() < 200)
            .count()
    }

    #[test]
    fn text_is_drawn_with_the_bundled_font_and_lost_without_it() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="30" font-family="sans-serif" font-size="20">precision</text></svg>"#;
        // With an empty database resvg drops the text silently: a white image.
        let blank = render_with(svg, usvg::fontdb::Database::new()).unwrap();
        assert_eq!(ink(&blank), 0);
        let drawn = render(svg).unwrap();
        assert!(ink(&drawn) > 200, "{}", ink(&drawn));
        let p = tiny_skia::Pixmap::decode_png(&drawn).unwrap();
        assert_eq!((p.width(), p.height()), (400, 80));
    }

    #[test]
    fn a_chart_renders_with_its_labels() {
        let svg = super::super::plots::pr_curve(&[0.0, 1.0], &[1.0, 0.1], &[], None, 0.5).unwrap();
        let png = render(&svg).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        assert!(ink(&png) > 5_000);
        assert!(render("not svg").is_err());
    }
}
