//! ILOSTAT bulk-download CSV: one file per dataset, `<INDICATOR>_<A|Q|M>.csv`, with ILOSTAT's
//! code columns in their order (`classif1`/`classif2` only when the dataset has them) and, with
//! labels, a `<col>.label` twin after each code column.
use std::path::Path;

use super::labels::Labels;
use super::observations::{Dataset, ObsRow};
use super::{csv_file, number, Written};
use crate::error::Result;

type Cell<'a> = Box<dyn Fn(&ObsRow) -> String + 'a>;

/// One output column: its header and how a row fills it.
struct Column<'a> {
    name: String,
    cell: Cell<'a>,
}

fn col<'a>(name: &str, cell: impl Fn(&ObsRow) -> String + 'a) -> Column<'a> {
    Column {
        name: name.to_string(),
        cell: Box::new(cell),
    }
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// The code columns of a dataset, each followed by its label twin when `labels` is given.
fn columns<'a>(ds: &Dataset, labels: Option<&'a Labels>) -> Vec<Column<'a>> {
    let mut cols = Vec::new();
    let mut push = |code: Column<'a>, label: Option<Cell<'a>>| {
        let name = format!("{}.label", code.name);
        cols.push(code);
        if let Some(cell) = label {
            cols.push(Column { name, cell });
        }
    };
    let lab = |f: fn(&Labels, &ObsRow) -> String| -> Option<Cell<'a>> {
        let l = labels?;
        Some(Box::new(move |r: &ObsRow| f(l, r)))
    };
    push(
        col("ref_area", |r| r.ref_area.clone()),
        lab(|l, r| l.area(&r.ref_area)),
    );
    push(
        col("source", |r| r.source.clone()),
        lab(|l, r| l.source(&r.source)),
    );
    push(
        col("indicator", |r| r.indicator.clone()),
        lab(|l, r| l.indicator(&r.indicator)),
    );
    push(
        col("sex", |r| r.sex.clone()),
        lab(|l, r| l.code(Some(&r.sex))),
    );
    if ds.has_classif(1) {
        push(
            col("classif1", |r| text(&r.classif1)),
            lab(|l, r| l.code(r.classif1.as_deref())),
        );
    }
    if ds.has_classif(2) {
        push(
            col("classif2", |r| text(&r.classif2)),
            lab(|l, r| l.code(r.classif2.as_deref())),
        );
    }
    push(col("time", |r| r.time.clone()), None);
    push(col("obs_value", |r| number(r.obs_value)), None);
    push(
        col("obs_status", |r| text(&r.obs_status)),
        lab(|l, r| l.status(r.obs_status.as_deref())),
    );
    push(
        col("note_classif", |r| text(&r.note_classif)),
        lab(|l, r| l.notes(r.note_classif.as_deref())),
    );
    push(
        col("note_indicator", |r| text(&r.note_indicator)),
        lab(|l, r| l.notes(r.note_indicator.as_deref())),
    );
    push(
        col("note_source", |r| text(&r.note_source)),
        lab(|l, r| l.notes(r.note_source.as_deref())),
    );
    cols
}

/// Writes every dataset into `dir`; returns each file with its row count.
pub fn write_all(datasets: &[Dataset], labels: Option<&Labels>, dir: &Path) -> Result<Written> {
    let mut written = Vec::new();
    for ds in datasets {
        let path = dir.join(format!("{}.csv", ds.id()));
        let cols = columns(ds, labels);
        let header: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let rows = ds
            .rows
            .iter()
            .map(|r| cols.iter().map(|c| (c.cell)(r)).collect::<Vec<_>>());
        csv_file(&path, &header, rows)?;
        written.push((path, ds.rows.len()));
    }
    Ok(written)
}
