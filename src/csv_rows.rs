//! CSV tables whose header and rows come from one `#[derive(Serialize, Default)]` row
//! type: the field names (after `#[serde(rename)]`) are the columns, in declaration
//! order, and [`table`] writes the header even when there are no rows. Pure.
//!
//! Cells keep the format rarecall's files have always had. Text, integers and bools
//! are written by `csv` as before (quotes only where needed, `true` / `false`), and
//! `None` is an empty cell. Floats are not: `csv` writes an `f64` with `ryu` (`1.0`,
//! `1e-7`, `1e20`), the files use Rust's `Display` (`1`, `0.0000001`,
//! `100000000000000000000`), so float fields say
//! `#[serde(serialize_with = "csv_rows::display")]` (or `opt_display` for an
//! `Option`).

use std::fmt::Display;

use serde::{Serialize, Serializer};

use crate::error::{Error, Result};

fn csv_err(e: impl Display) -> Error {
    Error::Output {
        location: "csv".into(),
        problem: e.to_string(),
        fix: "report this as a bug".into(),
    }
}

/// `rows` as CSV bytes: the header of `R` ([`columns`]), then one record per row.
pub(crate) fn table<R: Serialize + Default>(rows: impl IntoIterator<Item = R>) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(columns::<R>()?).map_err(csv_err)?;
    for r in rows {
        w.serialize(r).map_err(csv_err)?;
    }
    w.into_inner().map_err(csv_err)
}

/// The columns of row type `R`: its field names, as `csv` writes them in a header
/// (read back from the header of a default row, so they cannot drift from the type).
pub(crate) fn columns<R: Serialize + Default>() -> Result<Vec<String>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(R::default()).map_err(csv_err)?;
    let bytes = w.into_inner().map_err(csv_err)?;
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    let header = rdr.headers().map_err(csv_err)?;
    Ok(header.iter().map(str::to_string).collect())
}

/// The cells of one row as text, exactly as [`table`] writes them.
pub(crate) fn cells<R: Serialize>(row: &R) -> Result<Vec<String>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.serialize(row).map_err(csv_err)?;
    let bytes = w.into_inner().map_err(csv_err)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice());
    match rdr.records().next() {
        Some(rec) => Ok(rec.map_err(csv_err)?.iter().map(str::to_string).collect()),
        None => Err(csv_err("a row serialized to no record")),
    }
}

/// A cell written with `Display` (for `f64`: `1`, `0.0000001`, `NaN`, `inf`).
pub(crate) fn display<T: Display, S: Serializer>(
    v: &T,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// [`display`] for an optional value; `None` is an empty cell.
pub(crate) fn opt_display<T: Display, S: Serializer>(
    v: &Option<T>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct Row<'a> {
        text: &'a str,
        #[serde(rename = "match")]
        kind: Option<String>,
        n: i64,
        flag: bool,
        maybe: Option<bool>,
        #[serde(serialize_with = "display")]
        x: f64,
        #[serde(serialize_with = "opt_display")]
        y: Option<f64>,
    }

    const FLOATS: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        0.1 + 0.2,
        1e-7,
        1.5e-12,
        1e20,
        1.2345678901234568e21,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        f64::MAX,
    ];

    /// What the writers did before row types: `to_string()` cells, `write_record`.
    fn old_bytes(rows: &[Vec<String>]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in rows {
            w.write_record(r).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn header_and_cells_match_the_old_to_string_writer() {
        let texts = [
            "plain",
            "a,b",
            "say \"hi\"",
            "line\nbreak",
            "",
            " lead",
            "ünï",
        ];
        let mut rows = Vec::new();
        let mut old = vec![
            ["text", "match", "n", "flag", "maybe", "x", "y"]
                .map(String::from)
                .to_vec(),
        ];
        for (i, &x) in FLOATS.iter().enumerate() {
            let text = texts[i % texts.len()];
            let kind = (i % 3 != 0).then(|| texts[(i + 1) % texts.len()].to_string());
            let maybe = [None, Some(true), Some(false)][i % 3];
            let y = (i % 2 == 1).then_some(FLOATS[FLOATS.len() - 1 - i]);
            let n = [0, -1, i64::MAX, i64::MIN][i % 4];
            old.push(vec![
                text.to_string(),
                kind.clone().unwrap_or_default(),
                n.to_string(),
                (i % 2 == 0).to_string(),
                maybe.map(|b| b.to_string()).unwrap_or_default(),
                x.to_string(),
                y.map(|v| v.to_string()).unwrap_or_default(),
            ]);
            rows.push(Row {
                text,
                kind,
                n,
                flag: i % 2 == 0,
                maybe,
                x,
                y,
            });
        }
        let new = table(rows.iter().map(|r| Row {
            kind: r.kind.clone(),
            ..*r
        }))
        .unwrap();
        assert_eq!(
            String::from_utf8(new).unwrap(),
            String::from_utf8(old_bytes(&old)).unwrap()
        );
        for (r, o) in rows.iter().zip(&old[1..]) {
            assert_eq!(&cells(r).unwrap(), o);
        }
        // The formats that differ from csv's own f64 cells.
        let cell = |x: f64| {
            cells(&Row {
                x,
                ..Row::default()
            })
            .unwrap()[5]
                .clone()
        };
        assert_eq!(cell(1.0), "1");
        assert_eq!(cell(1e-7), "0.0000001");
        assert_eq!(cell(1e20), "100000000000000000000");
        assert_eq!(cell(f64::NAN), "NaN");
    }

    #[test]
    fn no_rows_still_write_the_header() {
        let bytes = table(Vec::<Row>::new()).unwrap();
        assert_eq!(bytes, b"text,match,n,flag,maybe,x,y\n");
        assert_eq!(
            columns::<Row>().unwrap(),
            ["text", "match", "n", "flag", "maybe", "x", "y"]
        );
    }
}
