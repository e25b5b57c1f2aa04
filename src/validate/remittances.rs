//! `validate` on a remittance pipeline (a `[remittances]` table): the World Bank file read and
//! checked as `run` reads it (`remit`), reported in the same format. Its counts are the cells
//! of the table (areas × years, or the matrix), its rules those of `remit::checks`.
use std::path::Path;

use super::file::FileFacts;
use super::input::InputReport;
use super::report::{PipelineRef, Report};
use super::Findings;
use crate::error::{MigError, Result};
use crate::remit::config;
use crate::remit::crosswalk::Areas;

/// Reads and checks the remittance pipeline at `path` (or `input` instead of its file).
pub fn validate(
    path: &Path,
    input: Option<&Path>,
    schemas: Option<&Path>,
    cap: u64,
) -> Result<Report> {
    let p = config::load(path)?;
    let areas = Areas::locate(schemas, path.parent())?;
    let input = input
        .map(Path::to_path_buf)
        .unwrap_or_else(|| p.path.clone());
    let size = std::fs::metadata(&input)
        .map_err(|e| MigError::Unreadable {
            path: input.clone(),
            msg: format!("cannot open: {e}"),
        })?
        .len();
    let mut findings = Findings::with_cap(cap.max(1));
    let loaded = crate::remit::read(&p, &input, &areas, &mut findings)?;
    let report = InputReport {
        record: p.kind.table().to_string(),
        file: input.display().to_string(),
        facts: FileFacts {
            size_bytes: size,
            rows: loaded.cells,
            ..Default::default()
        },
        rows_read: loaded.cells,
        rows_checked: true,
        findings,
        notes: vec![format!(
            "a World Bank table: rows read are its {} cells",
            loaded.cells
        )],
        ..Default::default()
    };
    let pipeline = PipelineRef {
        id: p.id.clone(),
        name: p.name.clone().unwrap_or_else(|| p.indicator.clone()),
        file: path.display().to_string(),
        source: p.source.clone(),
        ref_area: String::new(),
    };
    Ok(Report::assemble(pipeline, &[report], Vec::new()))
}
