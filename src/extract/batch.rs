//! Rows read together: a batch holds the text of many rows in one buffer (cell ends and row
//! starts as offsets, each row's line number beside it), so that reading a row allocates
//! nothing and a batch can be handed whole to a worker thread for mapping. Readers of typed
//! formats (Parquet, SPSS, Stata, Excel) put numbers in as numbers ([`TextBatch::push_number`]):
//! whoever reads a number takes it as it is, and only who needs its text (a code, a key, a
//! finding) prints it.
use std::borrow::Cow;

/// How much one batch holds at most: a row bound and a text bound, whichever is reached first
/// (wide rows make small batches, so memory per batch stays bounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSize {
    pub rows: usize,
    pub bytes: usize,
}

impl Default for BatchSize {
    fn default() -> Self {
        BatchSize {
            rows: 512,
            bytes: 512 << 10,
        }
    }
}

/// Rows of text cells with their line (or case, or sheet row) numbers.
#[derive(Debug, Default, Clone)]
pub struct TextBatch {
    text: String,
    /// End offset in `text` of every cell, row after row.
    ends: Vec<usize>,
    /// Index in `ends` of each row's first cell; one more entry than rows.
    starts: Vec<usize>,
    /// Offset in `text` where each row's first cell starts.
    firsts: Vec<usize>,
    /// Bytes between two cells of a row: 0 when cells are appended end to end, 1 when `text`
    /// is a block of delimited records as read ([`TextBatch::from_unquoted`]).
    gap: usize,
    lines: Vec<u64>,
    /// Empty until a number is pushed; from then on one entry per cell, as `ends`: the number a
    /// typed reader gave (always finite), or NaN for a text cell. A number has no text.
    nums: Vec<f64>,
}

/// One cell as its reader gave it: text, or a number of a typed format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Text(&'a str),
    Number(f64),
}

impl<'a> Value<'a> {
    /// The cell's text: a number as [`super::number_cell`] writes it (a CSV export's text).
    pub fn text(self) -> Cow<'a, str> {
        match self {
            Value::Text(t) => Cow::Borrowed(t),
            Value::Number(x) => Cow::Owned(super::number_cell(x)),
        }
    }
}

impl TextBatch {
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.starts.clear();
        self.firsts.clear();
        self.gap = 0;
        self.lines.clear();
        self.nums.clear();
    }

    /// The records of `text`, delimited text without any quote character, as the CSV parser
    /// reads them: `\n`, `\r\n` and a lone `\r` end a record, an empty line is no record,
    /// and `delimiter` separates cells. `text` becomes the batch's buffer as it is (no copy):
    /// cells are located by offsets. Lines are counted by line feeds from `first_line`.
    pub fn from_unquoted(text: String, first_line: u64, delimiter: u8) -> TextBatch {
        let mut b = TextBatch {
            gap: 1,
            starts: vec![0],
            ..TextBatch::default()
        };
        let bytes = text.as_bytes();
        let (mut pos, mut line) = (0, first_line);
        while pos < bytes.len() {
            let end = memchr::memchr2(b'\n', b'\r', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
            if end > pos {
                b.lines.push(line);
                b.firsts.push(pos);
                push_delimiters(&bytes[pos..end], delimiter, pos, &mut b.ends);
                b.ends.push(end);
                b.starts.push(b.ends.len());
                if b.lines.len() == 1 {
                    // The rest of the block is likely rows as wide as the first (and no block
                    // has more cells than bytes and rows).
                    let rows = bytes.len() / (end + 1 - pos) + 1;
                    b.ends
                        .reserve((rows * b.ends.len()).min(bytes.len() + rows));
                    b.lines.reserve(rows);
                    b.firsts.reserve(rows);
                    b.starts.reserve(rows);
                }
            }
            pos = end + 1;
            match bytes.get(end) {
                Some(b'\n') => line += 1,
                Some(b'\r') if bytes.get(end + 1) == Some(&b'\n') => {
                    pos += 1;
                    line += 1;
                }
                _ => {}
            }
        }
        b.text = text;
        b
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Bytes of text held.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Whether `size` is reached (the next row would start a new batch).
    pub fn is_full(&self, size: BatchSize) -> bool {
        self.len() >= size.rows || self.text.len() >= size.bytes
    }

    /// Starts a row read at `line`; its cells follow with [`TextBatch::push_cell`] or
    /// [`TextBatch::cell_buffer`] + [`TextBatch::end_cell`].
    pub fn begin_row(&mut self, line: u64) {
        if self.gap != 0 {
            self.compact();
        }
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        self.lines.push(line);
        self.firsts.push(self.text.len());
        self.starts.push(self.ends.len());
    }

    /// Rewrites a batch read as delimited records with its cells end to end, so rows can be
    /// added to it.
    fn compact(&mut self) {
        let old = std::mem::take(self);
        self.push_rows_of(&old);
    }

    pub fn push_cell(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.end_cell();
    }

    /// Room for `cells` more cells, numbers among them.
    pub fn reserve_cells(&mut self, cells: usize) {
        self.ends.reserve(cells);
        self.nums.reserve(cells);
    }

    /// Appends a number as a cell of its own kind (no text). A value that is not finite
    /// (NaN, ±∞) goes in as its text, which the number readers refuse as they refuse it in a
    /// text file.
    pub fn push_number(&mut self, x: f64) {
        if !x.is_finite() {
            return self.push_cell(&super::number_cell(x));
        }
        if self.nums.len() != self.ends.len() {
            self.nums.resize(self.ends.len(), f64::NAN);
        }
        self.ends.push(self.text.len());
        self.nums.push(x);
        if let Some(last) = self.starts.last_mut() {
            *last = self.ends.len();
        }
    }

    fn push_value(&mut self, v: Value<'_>) {
        match v {
            Value::Text(t) => self.push_cell(t),
            Value::Number(x) => self.push_number(x),
        }
    }

    /// The text buffer, to append the current cell to in place.
    pub fn cell_buffer(&mut self) -> &mut String {
        &mut self.text
    }

    /// Ends the current cell at the buffer's end.
    pub fn end_cell(&mut self) {
        self.ends.push(self.text.len());
        if !self.nums.is_empty() {
            self.nums.push(f64::NAN);
        }
        if let Some(last) = self.starts.last_mut() {
            *last = self.ends.len();
        }
    }

    /// Appends the rows of `other`.
    pub fn append(&mut self, other: &TextBatch) {
        if self.is_empty() {
            self.clone_from(other);
            return;
        }
        self.push_rows_of(other);
    }

    fn push_rows_of(&mut self, other: &TextBatch) {
        for r in 0..other.len() {
            self.begin_row(other.line(r));
            for c in 0..other.width(r) {
                self.push_value(other.value(r, c));
            }
        }
    }

    /// Appends the cells of a UTF-8 record to the row begun last, checking the record's text
    /// once; `false` (nothing appended) when it is not valid UTF-8 or a cell boundary falls
    /// inside a character (the caller then decodes cell by cell and names the bad one).
    pub fn push_utf8_record(&mut self, record: &csv::ByteRecord) -> bool {
        let Ok(text) = std::str::from_utf8(record.as_slice()) else {
            return false;
        };
        let ends = (0..record.len()).map(|i| record.range(i).map_or(0, |r| r.end));
        if !ends.clone().all(|e| text.is_char_boundary(e)) {
            return false;
        }
        let base = self.text.len();
        self.text.push_str(text);
        for e in ends {
            self.ends.push(base + e);
        }
        if !self.nums.is_empty() {
            self.nums.resize(self.ends.len(), f64::NAN);
        }
        if let Some(last) = self.starts.last_mut() {
            *last = self.ends.len();
        }
        true
    }

    /// Drops the last row (a reader that fails half-way through a row).
    pub fn pop_row(&mut self) {
        if self.lines.pop().is_none() {
            return;
        }
        self.starts.pop();
        let first = self.starts.last().copied().unwrap_or(0);
        self.ends.truncate(first);
        self.nums.truncate(first);
        if let Some(start) = self.firsts.pop() {
            self.text.truncate(start);
        }
    }

    /// Appends a whole row.
    pub fn push_row<'a>(&mut self, line: u64, cells: impl IntoIterator<Item = &'a str>) {
        self.begin_row(line);
        for c in cells {
            self.push_cell(c);
        }
    }

    #[inline]
    pub fn line(&self, row: usize) -> u64 {
        self.lines[row]
    }

    /// Cells of `row`.
    #[inline]
    pub fn width(&self, row: usize) -> usize {
        self.starts[row + 1] - self.starts[row]
    }

    /// Cell `col` of `row`, `Text("")` past the row's end.
    #[inline]
    pub fn value(&self, row: usize, col: usize) -> Value<'_> {
        let (first, next) = (self.starts[row], self.starts[row + 1]);
        let i = first + col;
        if i >= next {
            return Value::Text("");
        }
        let start = if col == 0 {
            self.firsts[row]
        } else {
            self.ends[i - 1] + self.gap
        };
        self.at(i, start)
    }

    /// Cell `i` (index in `ends`), whose text starts at `start`.
    #[inline]
    fn at(&self, i: usize, start: usize) -> Value<'_> {
        if let Some(&x) = self.nums.get(i) {
            if !x.is_nan() {
                return Value::Number(x);
            }
        }
        let end = self.ends[i];
        // Cells end where a whole string was appended (`end_cell`), or at an ASCII delimiter or
        // line break, so both offsets are character boundaries of `text`.
        debug_assert!(self.text.is_char_boundary(start) && self.text.is_char_boundary(end));
        Value::Text(self.text.get(start..end).unwrap_or(""))
    }

    /// The text of cell `col` of `row` (a number printed), `""` past the row's end.
    #[inline]
    pub fn cell(&self, row: usize, col: usize) -> Cow<'_, str> {
        self.value(row, col).text()
    }

    /// Cells `cols` of `row` in column order, read off the cell ends one after the other
    /// (what [`TextBatch::value`] gives for each, without locating each anew); `None` when the
    /// row has fewer cells.
    pub fn run(
        &self,
        row: usize,
        cols: std::ops::Range<usize>,
    ) -> Option<impl Iterator<Item = Value<'_>> + '_> {
        let (first, mut start) = self.run_start(row, &cols)?;
        let gap = self.gap;
        Some((first + cols.start..first + cols.end).map(move |i| {
            let cell = self.at(i, start);
            start = self.ends[i] + gap;
            cell
        }))
    }

    /// Where cells `cols` of `row` begin: the index in `ends` of the row's first cell, and the
    /// text offset of cell `cols.start`; `None` when the row has fewer cells.
    fn run_start(&self, row: usize, cols: &std::ops::Range<usize>) -> Option<(usize, usize)> {
        let first = self.starts[row];
        if cols.end > self.starts[row + 1] - first || cols.start > cols.end {
            return None;
        }
        let start = match cols.start {
            0 => self.firsts[row],
            c => self.ends[first + c - 1] + self.gap,
        };
        Some((first, start))
    }

    /// The bytes of cells `cols` of `row`, one slice a cell: what [`TextBatch::run`] gives,
    /// without a UTF-8 check a cell, for readers of ASCII values; `None` when the row has
    /// fewer cells or the batch holds typed numbers.
    pub fn run_bytes(
        &self,
        row: usize,
        cols: std::ops::Range<usize>,
    ) -> Option<impl Iterator<Item = &[u8]> + '_> {
        if !self.nums.is_empty() {
            return None;
        }
        let (first, mut start) = self.run_start(row, &cols)?;
        let (text, gap) = (self.text.as_bytes(), self.gap);
        Some(
            self.ends[first + cols.start..first + cols.end]
                .iter()
                .map(move |&end| {
                    let cell = text.get(start..end).unwrap_or_default();
                    start = end + gap;
                    cell
                }),
        )
    }

    pub fn row(&self, row: usize) -> BatchRow<'_> {
        BatchRow { batch: self, row }
    }

    /// The cells of `row` as owned strings (a quarantined row keeps them).
    pub fn row_cells(&self, row: usize) -> Vec<String> {
        (0..self.width(row))
            .map(|c| self.cell(row, c).into_owned())
            .collect()
    }
}

/// Pushes `base` plus the offset of every `delimiter` byte of `bytes` to `out`, ascending.
/// Eight bytes are compared at a time: in `x`, the word XOR eight delimiters, a byte is zero
/// exactly where the delimiter is, and `!(((x & 0x7f..) + 0x7f..) | x | 0x7f..)` sets the high
/// bit of exactly those bytes (the addition cannot carry from one byte into the next). Cells
/// of survey files are short, so this beats a search that starts anew after each delimiter.
fn push_delimiters(bytes: &[u8], delimiter: u8, base: usize, out: &mut Vec<usize>) {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pattern = u64::from_le_bytes([delimiter; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut at = base;
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default()) ^ pattern;
        let mut found = !(((x & LOW) + LOW) | x | LOW);
        while found != 0 {
            out.push(at + (found.trailing_zeros() / 8) as usize);
            found &= found - 1;
        }
        at += 8;
    }
    let rest = words.remainder();
    out.extend(
        (0..rest.len())
            .filter(|&i| rest[i] == delimiter)
            .map(|i| at + i),
    );
}

/// One row of a batch.
#[derive(Clone, Copy)]
pub struct BatchRow<'a> {
    batch: &'a TextBatch,
    row: usize,
}

/// Cells by position: a row of a batch, or a row of owned strings.
pub trait Cells {
    /// Cell `i`, `Text("")` past the row's end.
    fn value(&self, i: usize) -> Value<'_>;
    fn width(&self) -> usize;
    /// A bound on the bytes of text of any one cell, when known at once (a row of a batch:
    /// the bytes its cells span), for checks that only need the longest cell to be short.
    fn text_bound(&self) -> Option<usize> {
        None
    }
    /// The text of cell `i` (a number printed), `""` past the row's end.
    fn cell(&self, i: usize) -> Cow<'_, str> {
        self.value(i).text()
    }
}

impl Cells for BatchRow<'_> {
    #[inline]
    fn value(&self, i: usize) -> Value<'_> {
        self.batch.value(self.row, i)
    }
    #[inline]
    fn width(&self) -> usize {
        self.batch.width(self.row)
    }
    fn text_bound(&self) -> Option<usize> {
        let b = self.batch;
        let last = b.starts[self.row + 1].checked_sub(1)?;
        Some(b.ends.get(last)?.saturating_sub(b.firsts[self.row]))
    }
}

impl Cells for [String] {
    fn value(&self, i: usize) -> Value<'_> {
        Value::Text(self.get(i).map(String::as_str).unwrap_or(""))
    }
    fn width(&self) -> usize {
        self.len()
    }
}

impl Cells for Vec<String> {
    fn value(&self, i: usize) -> Value<'_> {
        self.as_slice().value(i)
    }
    fn width(&self) -> usize {
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_cells_lines_and_widths() {
        let mut b = TextBatch::default();
        b.push_row(2, ["a", "", "ccc"]);
        b.push_row(4, [""]);
        b.push_row(5, ["x", "yy"]);
        assert_eq!(b.len(), 3);
        assert_eq!((b.line(0), b.width(0)), (2, 3));
        assert_eq!(b.row_cells(0), ["a", "", "ccc"]);
        assert_eq!(
            (b.line(1), b.width(1), b.value(1, 0)),
            (4, 1, Value::Text(""))
        );
        assert_eq!(b.cell(2, 1), "yy");
        assert_eq!(b.cell(2, 7), "");
        b.pop_row();
        assert_eq!(b.len(), 2);
        assert_eq!(b.text_len(), 4);
        b.push_row(9, ["z"]);
        assert_eq!(b.row_cells(2), ["z"]);
        assert_eq!(b.row(0).cell(2), "ccc");
        assert_eq!(b.row(0).text_bound(), Some(4));
        assert_eq!(b.row(1).text_bound(), Some(0));
        let in_place = TextBatch::from_unquoted("a,bb,\n,\n".into(), 1, b',');
        assert_eq!(in_place.row(0).text_bound(), Some(5));
        assert_eq!(in_place.row(1).text_bound(), Some(1));
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn a_run_of_cells_is_what_cell_gives_for_each() {
        let mut appended = TextBatch::default();
        appended.push_row(2, ["a", "", "ccc", "dé"]);
        appended.push_row(3, ["x"]);
        let in_place = TextBatch::from_unquoted("a,,ccc,dé\r\n\nx\n,,\n".into(), 2, b',');
        let mut typed = TextBatch::default();
        typed.push_row(1, ["a", ""]);
        typed.begin_row(2);
        typed.push_number(1.5);
        typed.push_cell("b");
        typed.push_number(-0.0);
        typed.push_number(f64::NAN);
        typed.push_row(3, ["c"]);
        for b in [&appended, &in_place, &typed] {
            for row in 0..b.len() {
                let w = b.width(row);
                for start in 0..=w {
                    for end in start..=w {
                        let run: Vec<Value> = b.run(row, start..end).unwrap().collect();
                        let cells: Vec<Value> = (start..end).map(|c| b.value(row, c)).collect();
                        assert_eq!(run, cells, "row {row}, cells {start}..{end}");
                        if let Some(bytes) = b.run_bytes(row, start..end) {
                            let texts: Vec<Value> = bytes
                                .map(|c| Value::Text(std::str::from_utf8(c).unwrap()))
                                .collect();
                            assert_eq!(texts, cells, "bytes of row {row}, cells {start}..{end}");
                        }
                    }
                }
                assert!(b.run(row, 0..w + 1).is_none(), "past the row's end");
                assert!(b.run_bytes(row, 0..w + 1).is_none(), "past the row's end");
                let typed_numbers = std::ptr::eq(b, &typed);
                assert_eq!(b.run_bytes(row, 0..w).is_none(), typed_numbers, "row {row}");
            }
        }
        assert_eq!(in_place.len(), 3);
        let row: Vec<Value> = (0..4).map(|c| typed.value(1, c)).collect();
        assert_eq!(
            row,
            [
                Value::Number(1.5),
                Value::Text("b"),
                Value::Number(-0.0),
                Value::Text("NaN")
            ]
        );
        assert_eq!(typed.row_cells(1), ["1.5", "b", "0", "NaN"]);
        assert_eq!(typed.row_cells(2), ["c"]);
    }

    /// The delimiters found eight bytes at a time are those a byte-by-byte search finds, for
    /// every delimiter byte (high bytes of UTF-8 text included), at every alignment and length.
    #[test]
    fn delimiters_found_a_word_at_a_time_are_every_delimiter() {
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1d_u64);
        let alphabet = [
            b',', b';', b'\t', b'|', b'0', b'9', b'.', b' ', 0x00, 0x7f, 0x80, 0xc3, 0xa9, 0xff,
        ];
        for len in 0..70 {
            for _ in 0..40 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect();
                for &d in &alphabet {
                    let mut got = vec![7];
                    push_delimiters(&bytes, d, 100, &mut got);
                    let want: Vec<usize> = std::iter::once(7)
                        .chain((0..len).filter(|&i| bytes[i] == d).map(|i| 100 + i))
                        .collect();
                    assert_eq!(got, want, "delimiter {d:#x} in {bytes:?}");
                }
            }
        }
    }

    /// Numbers stay numbers wherever a batch moves its rows: appended to another batch, a
    /// row dropped, and a batch of records split in place taking them after its own.
    #[test]
    fn numbers_keep_their_cells_through_append_and_pop() {
        let mut typed = TextBatch::default();
        typed.begin_row(7);
        typed.push_cell("x");
        typed.push_number(2.25);
        typed.begin_row(8);
        typed.push_number(9.0);
        typed.pop_row();
        assert_eq!(typed.len(), 1);
        let mut b = TextBatch::from_unquoted("p,q\n".into(), 1, b',');
        b.append(&typed);
        b.push_row(9, ["r", "s"]);
        let all: Vec<Vec<Value>> = (0..b.len())
            .map(|r| (0..b.width(r)).map(|c| b.value(r, c)).collect())
            .collect();
        assert_eq!(
            all,
            [
                vec![Value::Text("p"), Value::Text("q")],
                vec![Value::Text("x"), Value::Number(2.25)],
                vec![Value::Text("r"), Value::Text("s")],
            ]
        );
        assert_eq!((b.line(0), b.line(1), b.line(2)), (1, 7, 9));
    }
}
