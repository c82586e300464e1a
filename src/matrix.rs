//! A dense row-major `f64` matrix: the design matrix handed from encoding to the model.
//!
//! One contiguous buffer, no per-row allocation; rows are borrowed as slices. The
//! invariant `data.len() == n_rows * n_cols` holds for every value of the type, so
//! the fields are private and read through accessors.

use crate::error::{Error, Result};

/// Dense row-major matrix of `f64`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matrix {
    n_rows: usize,
    n_cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A zero-filled `n_rows x n_cols` matrix.
    pub(crate) fn new(n_rows: usize, n_cols: usize) -> Self {
        Matrix {
            n_rows,
            n_cols,
            data: vec![0.0; n_rows * n_cols],
        }
    }

    /// Wraps a row-major buffer; refuses a buffer whose length is not
    /// `n_rows * n_cols`.
    pub fn from_vec(n_rows: usize, n_cols: usize, data: Vec<f64>) -> Result<Self> {
        let expected = n_rows.checked_mul(n_cols);
        if expected != Some(data.len()) {
            return Err(Error::params(
                "matrix data",
                format!("{n_rows} x {n_cols} values"),
                format!("{} values", data.len()),
            ));
        }
        Ok(Matrix {
            n_rows,
            n_cols,
            data,
        })
    }

    /// The `n_rows x n_cols` matrix written into the buffer of `n_rows` rows of `width`
    /// values (`values`, row-major), which grows in place to the matrix's size: row
    /// `k` is zeroed and written by `fill(k, row k's width values, row k)`, last row
    /// first, so a row's values are set aside before anything is written over them
    /// (row `k`'s slots start at `k * n_cols >= k * width`, and the rows after it,
    /// whose values lie there, are already written). One reallocation, which for a
    /// buffer this size moves pages rather than copying values: the client never holds
    /// the values and the matrix side by side (issue 17). Needs `n_cols >= width`.
    pub(crate) fn grow_rows(
        mut values: Vec<f64>,
        width: usize,
        (n_rows, n_cols): (usize, usize),
        mut fill: impl FnMut(usize, &[f64], &mut [f64]) -> Result<()>,
    ) -> Result<Matrix> {
        let size = n_rows.checked_mul(n_cols);
        if n_cols < width || n_rows.checked_mul(width) != Some(values.len()) || size.is_none() {
            return Err(Error::params(
                "values",
                format!("{n_rows} rows of {width} values for at least as many columns"),
                format!("{} values for {n_cols} columns", values.len()),
            ));
        }
        let size = size.unwrap_or_default();
        values.reserve_exact(size - values.len());
        values.resize(size, 0.0);
        let mut held = vec![0.0; width];
        for k in (0..n_rows).rev() {
            held.copy_from_slice(&values[k * width..(k + 1) * width]);
            let row = &mut values[k * n_cols..(k + 1) * n_cols];
            row.fill(0.0);
            fill(k, &held, row)?;
        }
        Matrix::from_vec(n_rows, n_cols, values)
    }

    /// Copies rows of equal length into one matrix. No rows gives a `0 x 0` matrix;
    /// rows of different lengths are refused.
    #[cfg(test)]
    pub(crate) fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self> {
        let n_cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * n_cols);
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_ref();
            if row.len() != n_cols {
                return Err(Error::params(
                    format!("matrix row {i}"),
                    format!("{n_cols} columns like row 0"),
                    format!("{} columns", row.len()),
                ));
            }
            data.extend_from_slice(row);
        }
        Ok(Matrix {
            n_rows: rows.len(),
            n_cols,
            data,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// The whole row-major buffer.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// The whole row-major buffer, mutable (the shape cannot change through it).
    pub(crate) fn data_mut(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Row `i` as a slice. Panics if `i >= n_rows` (a programming error, like slice
    /// indexing).
    pub(crate) fn row(&self, i: usize) -> &[f64] {
        assert!(i < self.n_rows, "row {i} out of range ({})", self.n_rows);
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// Row `i` as a mutable slice. Panics if `i >= n_rows`.
    pub(crate) fn row_mut(&mut self, i: usize) -> &mut [f64] {
        assert!(i < self.n_rows, "row {i} out of range ({})", self.n_rows);
        &mut self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// Element `(i, j)`. Panics if out of range.
    #[cfg(test)]
    pub(crate) fn get(&self, i: usize, j: usize) -> f64 {
        assert!(j < self.n_cols, "column {j} out of range ({})", self.n_cols);
        self.row(i)[j]
    }

    /// Iterator over the rows, in order (yields `n_rows` slices, also when
    /// `n_cols == 0`).
    pub(crate) fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        (0..self.n_rows).map(move |i| &self.data[i * self.n_cols..(i + 1) * self.n_cols])
    }

    /// A new matrix with the given rows, in the given order (repeats allowed).
    /// Panics if an index is out of range (indices are produced by the program,
    /// not read from input).
    #[cfg(test)]
    pub(crate) fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.n_cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            n_rows: indices.len(),
            n_cols: self.n_cols,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_grown_in_place_are_the_rows_filled_apart() {
        // 7 rows of 3 values into 5 columns: value sums and the row index around them.
        let (n, width, n_cols) = (7, 3, 5);
        let values: Vec<f64> = (0..n * width).map(|v| v as f64).collect();
        let fill = |k: usize, v: &[f64], out: &mut [f64]| -> Result<()> {
            assert!(out.iter().all(|&x| x == 0.0), "row {k} starts at zero");
            out[0] = k as f64;
            out[1..4].copy_from_slice(v);
            out[4] = v.iter().sum();
            Ok(())
        };
        let mut apart = Matrix::new(n, n_cols);
        for k in 0..n {
            fill(k, &values[k * width..(k + 1) * width], apart.row_mut(k)).unwrap();
        }
        let grown = Matrix::grow_rows(values.clone(), width, (n, n_cols), fill).unwrap();
        assert_eq!(grown, apart);
        assert!(Matrix::grow_rows(values.clone(), width, (n, 2), fill).is_err());
        assert!(Matrix::grow_rows(values, width, (n + 1, n_cols), fill).is_err());
    }

    #[test]
    fn layout_and_access() {
        let mut m = Matrix::from_rows(&[vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]).unwrap();
        assert_eq!((m.n_rows(), m.n_cols()), (2, 3));
        assert_eq!(m.data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(m.row(1), &[4.0, 5.0, 6.0]);
        assert_eq!(m.get(0, 2), 3.0);
        m.row_mut(0)[1] = 9.0;
        assert_eq!(m.get(0, 1), 9.0);
        let s = m.select_rows(&[1, 1, 0]);
        assert_eq!(s.n_rows(), 3);
        assert_eq!(s.row(2), &[1.0, 9.0, 3.0]);
        assert_eq!(m.rows().count(), 2);
        assert_eq!(Matrix::new(2, 2).data(), &[0.0; 4]);
    }

    #[test]
    fn refuses_ragged_rows_and_bad_buffers() {
        assert!(Matrix::from_rows(&[vec![1.0], vec![1.0, 2.0]]).is_err());
        assert!(Matrix::from_vec(2, 2, vec![0.0; 3]).is_err());
        assert!(Matrix::from_vec(2, 2, vec![0.0; 4]).is_ok());
        let empty: [Vec<f64>; 0] = [];
        assert_eq!(Matrix::from_rows(&empty).unwrap().n_rows(), 0);
    }

    #[test]
    fn zero_columns_still_has_rows() {
        let m = Matrix::new(3, 0);
        assert_eq!(m.rows().count(), 3);
        assert!(m.row(2).is_empty());
    }
}
