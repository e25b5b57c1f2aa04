//! The warehouse's tables as the query engine sees them: every top-level folder (except `runs/`,
//! `quarantine/`, `catalog/` and hidden ones) by its name, and every `catalog/<table>/` folder as
//! `catalog_<table>`; each is the set of `*.parquet` files found under it, at any depth.
use std::path::{Path, PathBuf};

use crate::error::{MigError, Result};

/// Top-level folders that hold something other than a table.
const NOT_TABLES: [&str; 3] = ["runs", "quarantine", "catalog"];

/// One table: its SQL name and its files, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub files: Vec<PathBuf>,
}

/// The tables of a warehouse, sorted by name. Folders without any Parquet file are left out
/// (there is no schema to give them).
pub fn discover(warehouse: &Path) -> Result<Vec<Table>> {
    if !warehouse.is_dir() {
        return Err(MigError::Unreadable {
            path: warehouse.to_path_buf(),
            msg: "no warehouse here: run `migstat run` first or pass --warehouse DIR".into(),
        });
    }
    let mut tables = Vec::new();
    for (name, dir) in subfolders(warehouse)? {
        if NOT_TABLES.contains(&name.as_str()) {
            continue;
        }
        push_table(&mut tables, name, &dir)?;
    }
    let catalog = warehouse.join("catalog");
    if catalog.is_dir() {
        for (name, dir) in subfolders(&catalog)? {
            push_table(&mut tables, format!("catalog_{name}"), &dir)?;
        }
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tables)
}

fn push_table(tables: &mut Vec<Table>, name: String, dir: &Path) -> Result<()> {
    let files = parquet_files(dir)?;
    if !files.is_empty() {
        tables.push(Table { name, files });
    }
    Ok(())
}

/// Visible subfolders of `dir` with their names.
fn subfolders(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| MigError::io(dir, e))? {
        let entry = entry.map_err(|e| MigError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !name.starts_with('.') && path.is_dir() {
            out.push((name, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Every visible `*.parquet` file under `dir` (what `dir/**/*.parquet` matches), sorted.
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| MigError::io(&d, e))? {
            let entry = entry.map_err(|e| MigError::io(&d, e))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "parquet") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `a, b, c` — the table names, for messages.
pub fn names(tables: &[Table]) -> String {
    if tables.is_empty() {
        return "(none)".into();
    }
    tables
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
        std::fs::write(p, b"").expect("file");
    }

    #[test]
    fn tables_are_folders_and_catalog_tables_get_a_prefix() {
        let wh = std::env::temp_dir().join(format!("migstat-tables-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&wh);
        touch(&wh.join("observations/CAN/2024M01/BA_X.parquet"));
        touch(&wh.join("observations/FRA/2024Q1/BA_Y.parquet"));
        touch(&wh.join("microdata/CAN/2024M01/BA_X.parquet"));
        touch(&wh.join("catalog/indicators/indicators.parquet"));
        touch(&wh.join("runs/20260101T000000Z-1/manifest.json"));
        touch(&wh.join("quarantine/r/x.parquet"));
        touch(&wh.join(".staging/r/00000.parquet"));
        touch(&wh.join("observations/.tmp/half.parquet"));
        std::fs::create_dir_all(wh.join("emigrants")).expect("empty table");
        let tables = discover(&wh).expect("discover");
        let got: Vec<(&str, usize)> = tables
            .iter()
            .map(|t| (t.name.as_str(), t.files.len()))
            .collect();
        assert_eq!(
            got,
            [
                ("catalog_indicators", 1),
                ("microdata", 1),
                ("observations", 2)
            ]
        );
        assert_eq!(
            names(&tables),
            "catalog_indicators, microdata, observations"
        );
        let _ = std::fs::remove_dir_all(wh);
    }

    #[test]
    fn a_missing_warehouse_says_how_to_make_one() {
        let err = discover(Path::new("/nonexistent/wh")).expect_err("missing");
        assert!(err.to_string().contains("--warehouse"), "{err}");
    }
}
