//! A column of short strings (interaction and member ids) held as one text buffer
//! and the end of each row in it. Pure.
//!
//! As `Vec<String>`, an id costs a 24-byte header plus its own heap block (at least
//! 24 usable bytes with glibc's allocator): 56 bytes or more for a 10-character id, one
//! allocation per row. Here it costs its length plus 8 bytes, and the column two
//! allocations: the ids were about a third of the feature table (issue 17).

use std::ops::Index;

/// Strings by row: row `i` is `text[ends[i - 1]..ends[i]]` (from 0 for row 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrColumn {
    text: String,
    ends: Vec<usize>,
}

impl StrColumn {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len());
    }

    /// Row `i`, or None past the end.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| &self[i])
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.ends.truncate(n);
            self.text.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }
}

impl Index<usize> for StrColumn {
    type Output = str;

    /// Row `i`; panics past the end, as a slice does.
    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(s) => s,
            None => panic!("row {i} of a column of {} strings", self.len()),
        }
    }
}

impl<S: AsRef<str>> Extend<S> for StrColumn {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        for s in iter {
            self.push(s.as_ref());
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for StrColumn {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> StrColumn {
        let mut c = StrColumn::default();
        c.extend(iter);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_as_pushed() {
        let mut c: StrColumn = ["M0000001", "", "é-id", "I0000000042"]
            .into_iter()
            .collect();
        assert_eq!(c.len(), 4);
        assert_eq!(&c[0], "M0000001");
        assert_eq!(&c[1], "");
        assert_eq!(&c[2], "é-id");
        assert_eq!(c.get(4), None);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            ["M0000001", "", "é-id", "I0000000042"]
        );
        c.truncate(2);
        assert_eq!(c.iter().collect::<Vec<_>>(), ["M0000001", ""]);
        c.push("x");
        c.extend(vec!["y".to_string()]);
        assert_eq!(c.iter().collect::<Vec<_>>(), ["M0000001", "", "x", "y"]);
        c.truncate(0);
        assert!(c.is_empty());
        assert_eq!(c, StrColumn::default());
    }
}
