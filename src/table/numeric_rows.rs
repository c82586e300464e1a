//! The feature table's numbers, held row by row: `width` values per row (the columns
//! of `NUMERIC_FEATURES`, null as NaN) in one buffer. Pure.
//!
//! Row-major so that the encoder reads a row's numbers together, and so that the
//! training rows' buffer can grow in place into the training matrix
//! ([`crate::matrix::Matrix::grow_rows`]): the client then never holds the numbers and
//! the matrix side by side (issue 17: they were the largest part of the table).

/// Rows of `width` numbers, row `i` at `data[i * width..(i + 1) * width]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NumericRows {
    width: usize,
    data: Vec<f64>,
}

impl NumericRows {
    /// No rows of `width` numbers.
    pub fn new(width: usize) -> NumericRows {
        NumericRows {
            width,
            data: Vec::new(),
        }
    }

    /// The rows of columns of equal length (column `j` of row `i` is `columns[j][i]`);
    /// `None` when the lengths differ.
    pub fn from_columns(columns: &[Vec<f64>]) -> Option<NumericRows> {
        let n = columns.first().map_or(0, Vec::len);
        if columns.iter().any(|c| c.len() != n) {
            return None;
        }
        let mut out = NumericRows::new(columns.len());
        out.data.reserve_exact(n * columns.len());
        for i in 0..n {
            out.data.extend(columns.iter().map(|c| c[i]));
        }
        Some(out)
    }

    /// Numbers per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `i`'s numbers.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.width..(i + 1) * self.width]
    }

    /// Row `i`'s number in column `j`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.width + j]
    }

    /// Appends one row; `row` holds `width` numbers (the builder's rows always do).
    pub(crate) fn push_row(&mut self, row: impl Iterator<Item = f64>) {
        let before = self.data.len();
        self.data.extend(row);
        debug_assert_eq!(self.data.len(), before + self.width);
    }

    /// Back to the first `n` rows.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.data.truncate(n * self.width);
    }

    /// `later`'s rows after these; into no rows they move whole (no copy).
    pub(crate) fn append(&mut self, later: NumericRows) {
        if self.data.is_empty() {
            *self = later;
        } else {
            self.data.extend(later.data);
        }
    }

    /// Reorders the rows in place: row `k` becomes the old row `order[k]` (`order` a
    /// permutation of the rows). Cycle by cycle, one row held aside: no second copy of
    /// the buffer.
    pub(crate) fn permute(&mut self, order: &[usize]) {
        let w = self.width;
        debug_assert_eq!(order.len(), self.len());
        let mut done = vec![false; order.len()];
        let mut held = vec![0.0; w];
        for start in 0..order.len() {
            if done[start] || order[start] == start {
                continue;
            }
            held.copy_from_slice(self.row(start));
            let mut k = start;
            loop {
                done[k] = true;
                let from = order[k];
                if from == start {
                    self.data[k * w..(k + 1) * w].copy_from_slice(&held);
                    break;
                }
                self.data.copy_within(from * w..(from + 1) * w, k * w);
                k = from;
            }
        }
    }

    /// The buffer, row-major.
    pub(crate) fn into_data(self) -> Vec<f64> {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_from_columns_and_permute_in_place() {
        let cols = vec![
            vec![1.0, 2.0, 3.0, 4.0, 5.0],
            vec![10.0, 20.0, 30.0, 40.0, 50.0],
        ];
        let mut r = NumericRows::from_columns(&cols).unwrap();
        assert_eq!((r.width(), r.len()), (2, 5));
        assert_eq!(r.row(1), [2.0, 20.0]);
        assert_eq!(r.get(4, 1), 50.0);
        // Two cycles (0 -> 3 -> 1 -> 0 and 2 <-> 4) and nothing fixed.
        let order = [3, 0, 4, 1, 2];
        let want: Vec<f64> = order.iter().flat_map(|&i| r.row(i).to_vec()).collect();
        r.permute(&order);
        assert_eq!(r.clone().into_data(), want);
        r.truncate(2);
        assert_eq!(r.len(), 2);
        let mut empty = NumericRows::new(2);
        empty.append(r.clone());
        assert_eq!(empty, r);
        r.append(NumericRows::from_columns(&[vec![7.0], vec![8.0]]).unwrap());
        assert_eq!(r.row(2), [7.0, 8.0]);
        assert!(NumericRows::from_columns(&[vec![1.0], vec![]]).is_none());
        assert_eq!(NumericRows::default().len(), 0);
    }
}
