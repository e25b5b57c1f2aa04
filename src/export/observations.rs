//! The warehouse's observations read back for export (with the arrow-rs Parquet reader the load
//! stage writes with, so values come back bit for bit), grouped into ILOSTAT datasets: one per
//! indicator and frequency, the frequency read from the form of `time`.
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::filter::ObsFilter;
use crate::error::{MigError, Result};

/// One observation as read back from the warehouse: the record the estimate stage writes.
pub type ObsRow = crate::estimate::Observation;

/// Frequency of a period, as ILOSTAT's dataset suffix and SDMX's `FREQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Freq {
    A,
    Q,
    M,
}

impl Freq {
    pub fn code(self) -> &'static str {
        match self {
            Freq::A => "A",
            Freq::Q => "Q",
            Freq::M => "M",
        }
    }
}

/// The frequency of an ILOSTAT `time` and its SDMX period: `2024` → `2024`, `2024Q1` → `2024-Q1`,
/// `2024M01` → `2024-01`. `None` for any other form.
pub fn period(time: &str) -> Option<(Freq, String)> {
    let b = time.as_bytes();
    let year = b.len() >= 4 && b[..4].iter().all(u8::is_ascii_digit);
    if !year {
        return None;
    }
    let y = &time[..4];
    match &b[4..] {
        [] => Some((Freq::A, y.to_string())),
        [b'Q', q @ b'1'..=b'4'] => Some((Freq::Q, format!("{y}-Q{}", *q as char))),
        [b'M', m1 @ b'0'..=b'1', m2 @ b'0'..=b'9'] => {
            let month = (m1 - b'0') * 10 + (m2 - b'0');
            (1..=12)
                .contains(&month)
                .then(|| (Freq::M, format!("{y}-{month:02}")))
        }
        _ => None,
    }
}

/// One ILOSTAT dataset: an indicator at one frequency, rows sorted by area, source, sex,
/// breakdowns and period.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub indicator: String,
    pub freq: Freq,
    pub rows: Vec<ObsRow>,
}

impl Dataset {
    /// `<INDICATOR>_<A|Q|M>`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.indicator, self.freq.code())
    }

    /// Whether any row has a first (`which` = 1) or second (2) breakdown.
    pub fn has_classif(&self, which: u8) -> bool {
        self.rows.iter().any(|r| match which {
            1 => r.classif1.is_some(),
            _ => r.classif2.is_some(),
        })
    }
}

/// Every observation under `observations/` that `filter` takes, grouped into datasets sorted by id;
/// within a dataset, rows follow area, source, then sex and breakdowns in code-list order
/// (`order`: a code's position; codes it lacks come after, alphabetically), then period.
pub fn datasets(
    warehouse: &Path,
    order: &HashMap<String, usize>,
    filter: &ObsFilter,
) -> Result<Vec<Dataset>> {
    let dir = observations_dir(warehouse)?;
    let mut groups: BTreeMap<(String, Freq), Vec<ObsRow>> = BTreeMap::new();
    for file in crate::query::tables::parquet_files(&dir)? {
        if !area_folder_taken(&dir, &file, filter) {
            continue;
        }
        for row in read_file(&file)? {
            if !filter.matches(&row) {
                continue;
            }
            let (freq, _) = period(&row.time).ok_or_else(|| bad_time(&file, &row.time))?;
            groups
                .entry((row.indicator.clone(), freq))
                .or_default()
                .push(row);
        }
    }
    Ok(groups
        .into_iter()
        .map(|((indicator, freq), mut rows)| {
            rows.sort_by(|a, b| sort_key(a, order).cmp(&sort_key(b, order)));
            Dataset {
                indicator,
                freq,
                rows,
            }
        })
        .collect())
}

/// The warehouse's `observations/` folder; an error that says what to do when it is missing.
pub fn observations_dir(warehouse: &Path) -> Result<std::path::PathBuf> {
    let dir = warehouse.join("observations");
    if !dir.is_dir() {
        return Err(MigError::Unreadable {
            path: dir,
            msg:
                "no observations in this warehouse: run `migstat run` first or pass --warehouse DIR"
                    .into(),
        });
    }
    Ok(dir)
}

/// Whether a file's area folder (`observations/<AREA>/…`) can hold rows the filter takes.
fn area_folder_taken(dir: &Path, file: &Path, filter: &ObsFilter) -> bool {
    let area = file
        .strip_prefix(dir)
        .ok()
        .and_then(|rel| rel.components().next())
        .and_then(|c| c.as_os_str().to_str());
    match area {
        Some(a) if file.parent() != Some(dir) => filter.takes_area(a),
        _ => true,
    }
}

/// A code's place: its code-list position, then the code itself.
type Rank<'a> = (usize, &'a str);

fn rank<'a>(code: Option<&'a str>, order: &HashMap<String, usize>) -> Rank<'a> {
    match code {
        None => (0, ""),
        Some(c) => (order.get(c).map_or(usize::MAX, |&i| i), c),
    }
}

type SortKey<'a> = (&'a str, &'a str, Rank<'a>, Rank<'a>, Rank<'a>, &'a str);

fn sort_key<'a>(r: &'a ObsRow, order: &HashMap<String, usize>) -> SortKey<'a> {
    (
        &r.ref_area,
        &r.source,
        rank(Some(&r.sex), order),
        rank(r.classif1.as_deref(), order),
        rank(r.classif2.as_deref(), order),
        &r.time,
    )
}

fn bad_time(file: &Path, time: &str) -> MigError {
    MigError::Unreadable {
        path: file.to_path_buf(),
        msg: format!("time {time:?} is none of 2024, 2024Q1, 2024M01"),
    }
}

/// The record batches of one Parquet file.
pub fn batches(path: &Path) -> Result<Vec<RecordBatch>> {
    let unreadable = |msg: String| MigError::Unreadable {
        path: path.to_path_buf(),
        msg,
    };
    let f = File::open(path).map_err(|e| MigError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.build())
        .map_err(|e| unreadable(format!("not a readable Parquet file: {e}")))?;
    reader
        .map(|b| b.map_err(|e| unreadable(e.to_string())))
        .collect()
}

/// The observations of one Parquet file.
pub fn read_file(path: &Path) -> Result<Vec<ObsRow>> {
    let mut out = Vec::new();
    for batch in batches(path)? {
        append_rows(&batch, path, &mut out)?;
    }
    Ok(out)
}

fn append_rows(b: &RecordBatch, path: &Path, out: &mut Vec<ObsRow>) -> Result<()> {
    let cols = Columns::of(b, path)?;
    for i in 0..b.num_rows() {
        let req = |c: &Option<Col>, name: &str| -> Result<String> {
            cols.text(c, i).ok_or_else(|| MigError::Unreadable {
                path: path.to_path_buf(),
                msg: format!("row {}: {name} is empty", i + 1),
            })
        };
        out.push(ObsRow {
            ref_area: req(&cols.ref_area, "ref_area")?,
            source: req(&cols.source, "source")?,
            indicator: req(&cols.indicator, "indicator")?,
            sex: req(&cols.sex, "sex")?,
            classif1: cols.text(&cols.classif1, i),
            classif2: cols.text(&cols.classif2, i),
            time: req(&cols.time, "time")?,
            obs_value: cols.number(&cols.obs_value, i),
            obs_status: cols.text(&cols.obs_status, i),
            note_classif: cols.text(&cols.note_classif, i),
            note_indicator: cols.text(&cols.note_indicator, i),
            note_source: cols.text(&cols.note_source, i),
            sample_count: cols.integer(&cols.sample_count, i).unwrap_or(0),
            se: cols.number(&cols.se, i),
            cv: cols.number(&cols.cv, i),
            lower_bound: cols.number(&cols.lower_bound, i),
            upper_bound: cols.number(&cols.upper_bound, i),
            design_df: cols.number(&cols.design_df, i),
        });
    }
    Ok(())
}

type Col = std::sync::Arc<dyn Array>;

/// The columns of a batch that export reads; any may be absent (read as null), but a present one
/// must have the contract's type.
struct Columns {
    ref_area: Option<Col>,
    source: Option<Col>,
    indicator: Option<Col>,
    sex: Option<Col>,
    classif1: Option<Col>,
    classif2: Option<Col>,
    time: Option<Col>,
    obs_value: Option<Col>,
    obs_status: Option<Col>,
    note_classif: Option<Col>,
    note_indicator: Option<Col>,
    note_source: Option<Col>,
    sample_count: Option<Col>,
    se: Option<Col>,
    cv: Option<Col>,
    lower_bound: Option<Col>,
    upper_bound: Option<Col>,
    design_df: Option<Col>,
}

/// Column types of the observations table.
#[derive(Clone, Copy)]
enum ColType {
    Text,
    Float,
    Int,
}

impl Columns {
    fn of(b: &RecordBatch, path: &Path) -> Result<Self> {
        let get = |name: &str, kind: ColType| -> Result<Option<Col>> {
            let Some(c) = b.column_by_name(name) else {
                return Ok(None);
            };
            let ok = match kind {
                ColType::Float => c.data_type() == &DataType::Float64,
                ColType::Int => c.data_type() == &DataType::Int64,
                ColType::Text => is_string(c.data_type()),
            };
            if !ok {
                return Err(MigError::Unreadable {
                    path: path.to_path_buf(),
                    msg: format!("column {name} has type {}", c.data_type()),
                });
            }
            Ok(Some(c.clone()))
        };
        use ColType::{Float, Int, Text};
        Ok(Columns {
            ref_area: get("ref_area", Text)?,
            source: get("source", Text)?,
            indicator: get("indicator", Text)?,
            sex: get("sex", Text)?,
            classif1: get("classif1", Text)?,
            classif2: get("classif2", Text)?,
            time: get("time", Text)?,
            obs_value: get("obs_value", Float)?,
            obs_status: get("obs_status", Text)?,
            note_classif: get("note_classif", Text)?,
            note_indicator: get("note_indicator", Text)?,
            note_source: get("note_source", Text)?,
            sample_count: get("sample_count", Int)?,
            se: get("se", Float)?,
            cv: get("cv", Float)?,
            lower_bound: get("lower_bound", Float)?,
            upper_bound: get("upper_bound", Float)?,
            design_df: get("design_df", Float)?,
        })
    }

    /// A string cell; null and empty both read as `None`.
    fn text(&self, c: &Option<Col>, i: usize) -> Option<String> {
        let s = string_at(c.as_ref()?.as_ref(), i)?;
        (!s.is_empty()).then(|| s.to_string())
    }

    fn number(&self, c: &Option<Col>, i: usize) -> Option<f64> {
        let c = c.as_ref()?;
        (!c.is_null(i)).then(|| c.as_primitive::<Float64Type>().value(i))
    }

    fn integer(&self, c: &Option<Col>, i: usize) -> Option<i64> {
        let c = c.as_ref()?;
        (!c.is_null(i)).then(|| c.as_primitive::<Int64Type>().value(i))
    }
}

/// Whether a column type is one of Arrow's string types.
pub fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The value at `i` of a string column of any Arrow string type.
pub fn string_at(c: &dyn arrow_array::Array, i: usize) -> Option<&str> {
    if c.is_null(i) {
        return None;
    }
    Some(match c.data_type() {
        DataType::Utf8 => c.as_string::<i32>().value(i),
        DataType::LargeUtf8 => c.as_string::<i64>().value(i),
        DataType::Utf8View => c.as_string_view().value(i),
        _ => return None,
    })
}

/// One string column of a Parquet file (empty when the file has no such column).
pub fn read_strings(path: &Path, column: &str) -> Result<Vec<Option<String>>> {
    let mut out = Vec::new();
    for batch in batches(path)? {
        let Some(c) = batch.column_by_name(column) else {
            return Ok(Vec::new());
        };
        out.extend((0..batch.num_rows()).map(|i| string_at(c.as_ref(), i).map(str::to_string)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_map_to_sdmx_forms() {
        assert_eq!(period("2024"), Some((Freq::A, "2024".into())));
        assert_eq!(period("2024Q1"), Some((Freq::Q, "2024-Q1".into())));
        assert_eq!(period("2024M01"), Some((Freq::M, "2024-01".into())));
        assert_eq!(period("2024M12"), Some((Freq::M, "2024-12".into())));
        for bad in [
            "2024M13", "2024M00", "2024Q5", "2024-01", "24", "", "2024M1", "abcd",
        ] {
            assert_eq!(period(bad), None, "{bad}");
        }
    }
}
