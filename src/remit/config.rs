//! The remittance pipeline file: one top-level `[remittances]` table whose `type` picks the
//! reader. Every problem of a file is reported at once, each with its key path.
use std::path::{Path, PathBuf};

use toml::Value;

use crate::error::{MigError, Result};

/// The readers, and the table each one loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// WDI download as Excel: a `Data` sheet and a `Metadata - Countries` sheet.
    WdiExcel,
    /// WDI bulk CSV: BOM, preamble with "Last Updated Date", trailing empty column.
    WdiCsv,
    /// KNOMAD/World Bank bilateral remittance matrix (sending down, receiving across).
    BilateralRemittances,
    /// World Bank bilateral migrant-stock matrix (origin down, destination across).
    BilateralStocks,
}

impl InputType {
    const ALL: [(&'static str, InputType); 4] = [
        ("wdi_excel", InputType::WdiExcel),
        ("wdi_csv", InputType::WdiCsv),
        ("bilateral_remittances", InputType::BilateralRemittances),
        ("bilateral_stocks", InputType::BilateralStocks),
    ];

    /// The warehouse table (top-level folder).
    pub fn table(self) -> &'static str {
        match self {
            InputType::WdiExcel | InputType::WdiCsv => "remittances",
            InputType::BilateralRemittances => "remittances_bilateral",
            InputType::BilateralStocks => "migrant_stocks_bilateral",
        }
    }

    pub fn is_matrix(self) -> bool {
        matches!(
            self,
            InputType::BilateralRemittances | InputType::BilateralStocks
        )
    }

    /// What the rows and the columns of the matrix are, as its corner label words them.
    pub fn axes(self) -> (&'static str, &'static str) {
        match self {
            InputType::BilateralStocks => ("origin", "destination"),
            _ => ("sending", "receiving"),
        }
    }

    /// Keys allowed in `[remittances]` for this type.
    fn keys(self) -> &'static [&'static str] {
        match self {
            InputType::WdiExcel => &[
                "type",
                "name",
                "path",
                "indicator",
                "unit",
                "source",
                "vintage",
                "sheet",
                "metadata_sheet",
                "yoy_fall_warning",
                "sum_tolerance",
            ],
            InputType::WdiCsv => &[
                "type",
                "name",
                "path",
                "indicator",
                "unit",
                "source",
                "vintage",
                "yoy_fall_warning",
                "sum_tolerance",
            ],
            _ => &[
                "type",
                "name",
                "path",
                "indicator",
                "unit",
                "source",
                "vintage",
                "sheet",
                "time",
                "sum_tolerance",
            ],
        }
    }
}

/// A checked remittance pipeline.
#[derive(Debug, Clone)]
pub struct RemitPipeline {
    /// The pipeline file.
    pub file: PathBuf,
    /// The pipeline's id: its file stem.
    pub id: String,
    pub name: Option<String>,
    pub kind: InputType,
    /// The input file, resolved against the pipeline's folder.
    pub path: PathBuf,
    pub sheet: Option<String>,
    pub metadata_sheet: String,
    pub indicator: String,
    pub unit: String,
    pub source: String,
    /// Overrides the date read from the file.
    pub vintage: Option<String>,
    /// Matrices: the year of the matrix.
    pub time: Option<String>,
    /// WDI: a fall of at least this share from one year to the next is a warning.
    pub yoy_fall_warning: f64,
    /// Relative tolerance of sums against World totals (matrix rows and columns; WDI countries).
    pub sum_tolerance: f64,
}

/// Reads and checks a pipeline file.
pub fn load(path: &Path) -> Result<RemitPipeline> {
    let text = crate::config::check::read_bounded(path)?;
    let fail = |problems: Vec<String>| MigError::Pipeline {
        path: path.to_path_buf(),
        problems,
    };
    let value: Value = toml::from_str(&text).map_err(|e| fail(vec![e.to_string()]))?;
    from_value(path, &value)
}

/// Checks a parsed remittance pipeline file: every problem at once.
pub fn from_value(path: &Path, value: &Value) -> Result<RemitPipeline> {
    let mut problems = Vec::new();
    let p = parse(path, value, &mut problems);
    if let Some(p) = &p {
        if !crate::load::warehouse::is_safe_name(&p.id) || p.id.contains("..") {
            problems.push(format!(
                "the pipeline's id is its file name {:?}, which may hold only letters, digits, \
                 '_', '.' or '-': rename the file",
                crate::error::cut(&p.id, 60)
            ));
        }
    }
    match p {
        Some(p) if problems.is_empty() => Ok(p),
        _ => Err(MigError::Pipeline {
            path: path.to_path_buf(),
            problems,
        }),
    }
}

/// Typed access to `[remittances]`, recording a problem for each missing or mistyped key.
struct Keys<'a> {
    t: &'a toml::map::Map<String, Value>,
    problems: &'a mut Vec<String>,
}

impl Keys<'_> {
    fn string(&mut self, k: &str, required: bool) -> Option<String> {
        match self.t.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(_) => {
                self.problems
                    .push(format!("remittances.{k}: expected a non-empty string"));
                None
            }
            None if required => {
                self.problems.push(format!("remittances.{k}: missing"));
                None
            }
            None => None,
        }
    }

    fn number(&mut self, k: &str, default: f64, ok: impl Fn(f64) -> bool, want: &str) -> f64 {
        let v = match self.t.get(k) {
            None => return default,
            Some(Value::Float(f)) => *f,
            Some(Value::Integer(i)) => *i as f64,
            Some(_) => f64::NAN,
        };
        if !ok(v) {
            self.problems
                .push(format!("remittances.{k}: expected {want}"));
        }
        v
    }
}

fn parse(path: &Path, v: &Value, problems: &mut Vec<String>) -> Option<RemitPipeline> {
    let Some(top) = v.as_table() else {
        problems.push("the file is not a TOML table".into());
        return None;
    };
    for k in top.keys().filter(|k| *k != "remittances") {
        problems.push(format!(
            "{k}: unknown top-level key (a remittance pipeline has only [remittances])"
        ));
    }
    let Some(t) = top.get("remittances").and_then(Value::as_table) else {
        problems.push("remittances: missing [remittances] table".into());
        return None;
    };
    let type_name = t.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(kind) = InputType::ALL
        .iter()
        .find(|(n, _)| *n == type_name)
        .map(|(_, k)| *k)
    else {
        let names: Vec<&str> = InputType::ALL.iter().map(|(n, _)| *n).collect();
        problems.push(format!(
            "remittances.type: {type_name:?} is not one of: {}",
            names.join(", ")
        ));
        return None;
    };
    for k in t.keys().filter(|k| !kind.keys().contains(&k.as_str())) {
        problems.push(format!(
            "remittances.{k}: unknown key for type {type_name} (expected one of: {})",
            kind.keys().join(", ")
        ));
    }
    let mut keys = Keys { t, problems };
    let p = build(path, kind, &mut keys);
    check(&p, keys.problems);
    Some(p)
}

fn build(path: &Path, kind: InputType, k: &mut Keys) -> RemitPipeline {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let excel = kind != InputType::WdiCsv;
    RemitPipeline {
        file: path.to_path_buf(),
        id: path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default(),
        name: k.string("name", false),
        kind,
        path: dir.join(k.string("path", true).unwrap_or_default()),
        sheet: k.string("sheet", excel),
        metadata_sheet: k
            .string("metadata_sheet", false)
            .unwrap_or_else(|| "Metadata - Countries".into()),
        indicator: k.string("indicator", true).unwrap_or_default(),
        unit: k.string("unit", true).unwrap_or_default(),
        source: k.string("source", true).unwrap_or_default(),
        vintage: k.string("vintage", false),
        time: k.string("time", kind.is_matrix()),
        yoy_fall_warning: k.number(
            "yoy_fall_warning",
            0.75,
            |x| x > 0.0 && x <= 1.0,
            "a share above 0 and at most 1 (0.75 = a fall by three quarters)",
        ),
        sum_tolerance: k.number(
            "sum_tolerance",
            1e-6,
            |x| (0.0..1.0).contains(&x),
            "a relative tolerance of at least 0 and below 1",
        ),
    }
}

fn check(p: &RemitPipeline, problems: &mut Vec<String>) {
    if !p.source.is_empty() && !p.source.contains(':') {
        problems.push(format!(
            "remittances.source: {:?} must be TYPE:id, e.g. WB:WDI",
            p.source
        ));
    }
    if let Some(t) = &p.time {
        if t.len() != 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            problems.push(format!(
                "remittances.time: {t:?} must be a year like \"2017\""
            ));
        }
    }
    if p.path.file_name().is_some() && !p.path.is_file() {
        problems.push(format!(
            "remittances.path: {} does not exist",
            p.path.display()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let v: Value = toml::from_str(text).expect("toml");
        let mut problems = Vec::new();
        parse(Path::new("/nonexistent/p.toml"), &v, &mut problems);
        problems
    }

    #[test]
    fn every_problem_is_listed_with_its_key_path() {
        let p = problems(
            "[pipeline]\nid = 1\n[remittances]\ntype = \"bilateral_stocks\"\n\
             path = \"x.xlsx\"\nunit = 3\nsource = \"KNOMAD\"\ntime = \"17\"\n\
             yoy_fall_warning = 0.5\n",
        );
        let all = p.join("\n");
        for want in [
            "pipeline: unknown top-level key",
            "remittances.yoy_fall_warning: unknown key",
            "remittances.unit: expected a non-empty string",
            "remittances.indicator: missing",
            "remittances.sheet: missing",
            "remittances.source: \"KNOMAD\" must be TYPE:id",
            "remittances.time: \"17\" must be a year",
            "remittances.path: /nonexistent/x.xlsx does not exist",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
    }

    #[test]
    fn unknown_type_and_bad_threshold() {
        let p = problems("[remittances]\ntype = \"excel\"\n");
        assert!(
            p[0].contains("remittances.type: \"excel\" is not one of"),
            "{p:?}"
        );
        let p = problems(
            "[remittances]\ntype = \"wdi_csv\"\npath = \"a\"\nindicator = \"X\"\nunit = \"USD\"\n\
             source = \"WB:WDI\"\nyoy_fall_warning = 1.5\n",
        );
        assert!(
            p.iter()
                .any(|s| s.starts_with("remittances.yoy_fall_warning")),
            "{p:?}"
        );
    }
}
