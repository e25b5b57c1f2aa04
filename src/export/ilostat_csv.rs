//! ILOSTAT bulk-download CSV: one file per dataset, `<INDICATOR>_<A|Q|M>.csv`, with ILOSTAT's
//! code columns in their order (`classif1`/`classif2` only when the dataset has them) and, with
//! labels, a `<col>.label` twin after each code column.
use std::path::Path;

use super::labels::Labels;
use super::observations::{Dataset, ObsRow};
use super::{csv_file, number, Written};
use crate::error::Result;

/// How a row fills a code column.
type Code = fn(&ObsRow) -> String;
/// How a row fills a label column.
type Label = fn(&Labels, &ObsRow) -> String;

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// ILOSTAT's columns in order, each with its label twin where it has one.
const COLUMNS: [(&str, Code, Option<Label>); 12] = [
    (
        "ref_area",
        |r| r.ref_area.clone(),
        Some(|l, r| l.area(&r.ref_area)),
    ),
    (
        "source",
        |r| r.source.clone(),
        Some(|l, r| l.source(&r.source)),
    ),
    (
        "indicator",
        |r| r.indicator.clone(),
        Some(|l, r| l.indicator(&r.indicator)),
    ),
    ("sex", |r| r.sex.clone(), Some(|l, r| l.code(Some(&r.sex)))),
    (
        "classif1",
        |r| text(&r.classif1),
        Some(|l, r| l.code(r.classif1.as_deref())),
    ),
    (
        "classif2",
        |r| text(&r.classif2),
        Some(|l, r| l.code(r.classif2.as_deref())),
    ),
    ("time", |r| r.time.clone(), None),
    ("obs_value", |r| number(r.obs_value), None),
    (
        "obs_status",
        |r| text(&r.obs_status),
        Some(|l, r| l.status(r.obs_status.as_deref())),
    ),
    (
        "note_classif",
        |r| text(&r.note_classif),
        Some(|l, r| l.notes(r.note_classif.as_deref())),
    ),
    (
        "note_indicator",
        |r| text(&r.note_indicator),
        Some(|l, r| l.notes(r.note_indicator.as_deref())),
    ),
    (
        "note_source",
        |r| text(&r.note_source),
        Some(|l, r| l.notes(r.note_source.as_deref())),
    ),
];

/// One output column: a code column or the label twin of one.
enum Column {
    Code(Code),
    Label(Label),
}

/// The header and columns of a dataset: its breakdowns only, label twins when `labels` is set.
fn columns(ds: &Dataset, labels: bool) -> (Vec<String>, Vec<Column>) {
    let mut header = Vec::new();
    let mut cols = Vec::new();
    for (name, code, label) in COLUMNS {
        if (name == "classif1" && !ds.has_classif(1)) || (name == "classif2" && !ds.has_classif(2))
        {
            continue;
        }
        header.push(name.to_string());
        cols.push(Column::Code(code));
        if let (true, Some(label)) = (labels, label) {
            header.push(format!("{name}.label"));
            cols.push(Column::Label(label));
        }
    }
    (header, cols)
}

/// Writes every dataset into `dir`; returns each file with its row count.
pub fn write_all(datasets: &[Dataset], labels: Option<&Labels>, dir: &Path) -> Result<Written> {
    let none = Labels::default();
    let lab = labels.unwrap_or(&none);
    let mut written = Vec::new();
    for ds in datasets {
        let path = dir.join(format!("{}.csv", ds.id()));
        let (header, cols) = columns(ds, labels.is_some());
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let rows = ds.rows.iter().map(|r| {
            cols.iter()
                .map(|c| match c {
                    Column::Code(f) => f(r),
                    Column::Label(f) => f(lab, r),
                })
                .collect::<Vec<_>>()
        });
        csv_file(&path, &header, rows)?;
        written.push((path, ds.rows.len()));
    }
    Ok(written)
}
