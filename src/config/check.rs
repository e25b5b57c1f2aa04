//! Loading and checking a pipeline file. Every problem is reported at once with its key path:
//! unknown keys, unknown schema fields, codes not in the code lists, missing input files.
use std::path::Path;

use toml::Value;

use super::pipeline::{FieldMap, Pipeline};
use super::suggest::{did_you_mean, listed};
use crate::error::{MigError, Result};
use crate::extract::limits::{clip, grouped, Limits};
use crate::extract::INPUT_TYPES;
use crate::schema::{FieldType, RecordSchema, Schema};

const TOP: &[&str] = &[
    "pipeline",
    "input",
    "time",
    "design",
    "fields",
    "rules",
    "roster",
    "validation",
];
const META: &[&str] = &[
    "id",
    "name",
    "ref_area",
    "source",
    "survey",
    "periodicity",
    "note_source",
    "synthetic",
    "reliability",
    "microdata",
    "working_age",
];
const RELIABILITY: &[&str] = &[
    "profile",
    "min_count_unreliable",
    "min_count_suppress",
    "max_cv_unreliable",
    "max_cv_caution",
    "min_df",
    "min_estimate",
];
const INPUT: &[&str] = &[
    "type",
    "path",
    "member",
    "encoding",
    "delimiter",
    "decimal",
    "key",
    "household",
    "sheet",
    "header_row",
    "range",
    "url",
    "expected_sha256",
    "timeout_secs",
    "retries",
    "cache_dir",
    "limits",
];
const TIME: &[&str] = &["year", "quarter", "month", "value"];
const DESIGN: &[&str] = &[
    "weight",
    "strata",
    "psu",
    "nest",
    "fpc",
    "lonely_psu",
    "replicates",
    "method",
    "rho",
    "scale",
    "rscales",
    "mse",
    "variance",
    "household_weights",
    "replicate_count",
];
const VALIDATION: &[&str] = &[
    "max_file_mb",
    "population_change_pct",
    "unemployment_rate_change_pp",
    "max_quarantined_share",
];
const FIELD: &[&str] = &[
    "column",
    "codes",
    "labels",
    "prefix",
    "bands",
    "blank",
    "constant",
    "derive",
    "columns",
    "factor",
    "scale",
    "min",
    "max",
    "on_invalid",
    "note",
];
const ROSTER: &[&str] = &["input", "time", "design", "fields"];

/// The keys each table accepts, by table (the reference, `reference.rs`, documents the same).
pub const KEY_LISTS: &[(&str, &[&str])] = &[
    ("", TOP),
    ("pipeline", META),
    ("pipeline.reliability", RELIABILITY),
    ("input", INPUT),
    ("time", TIME),
    ("design", DESIGN),
    ("validation", VALIDATION),
    ("fields.NAME", FIELD),
    ("roster", ROSTER),
];
/// Rule ids whose severity a pipeline may set in `[rules]`.
pub const RULES: &[&str] = &[
    "missing_column",
    "row_width",
    "bad_number",
    "unknown_code",
    "missing_value",
    "out_of_range",
    "weight_zero",
    "weight_negative",
    "duplicate_key",
    "bad_time",
    "bad_design",
    "empty_file",
    "encoding",
    "encoding_suspect",
    "delimiter",
    "line_endings",
    "truncated_file",
    "file_size",
    "duplicate_header",
    "blank_header",
    "unexpected_column",
    "replicate_count",
    "employed_job_missing",
    "below_working_age_lfs",
    "arrival_before_birth",
    "arrival_after_survey",
    "foreign_born_in_country",
    "citizen_foreign_country",
    "remittance_without_receipt",
    "household_design",
    "household_weight",
    "lonely_psu",
    "population_change",
    "unemployment_rate_change",
];

/// Largest pipeline file read, in bytes.
pub const MAX_PIPELINE_BYTES: u64 = 1 << 20;
/// Largest string (value or key) of a pipeline file, in bytes.
pub const MAX_STRING_BYTES: usize = 4_096;

/// Reads and checks a pipeline file against the schema.
pub fn load(path: &Path, schema: &Schema) -> Result<Pipeline> {
    let text = read_bounded(path)?;
    let fail = |problems: Vec<String>| MigError::Pipeline {
        path: path.to_path_buf(),
        problems,
    };
    let value: Value = toml::from_str(&text).map_err(|e| fail(vec![clip_message(e)]))?;
    from_value(path, value, schema)
}

/// Checks a parsed survey pipeline file against the schema: every problem at once.
pub fn from_value(path: &Path, value: Value, schema: &Schema) -> Result<Pipeline> {
    let fail = |problems: Vec<String>| MigError::Pipeline {
        path: path.to_path_buf(),
        problems,
    };
    let mut problems = Vec::new();
    check_text_bounds(&value, "", &mut problems);
    check_keys(&value, &mut problems);
    let missing = check_required(&value, &mut problems);
    // With a required key missing, the rest is still checked: the missing keys are stood in
    // for by values that pass, so that every other problem is reported in the same run.
    let value = if missing {
        with_stand_ins(value)
    } else {
        value
    };
    let mut p: Pipeline = match value.try_into() {
        Ok(p) => p,
        Err(e) => {
            if !missing {
                problems.push(clip_message(e));
            }
            return Err(fail(problems));
        }
    };
    p.file = path.to_path_buf();
    p.dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| ".".into());
    check_semantics(&p, schema, &mut problems);
    if problems.is_empty() {
        Ok(p)
    } else {
        Err(fail(problems))
    }
}

/// The text of a pipeline file: a regular file of at most [`MAX_PIPELINE_BYTES`].
pub fn read_bounded(path: &Path) -> Result<String> {
    let unreadable = |msg: String| MigError::Unreadable {
        path: path.to_path_buf(),
        msg,
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| unreadable(format!("cannot read the pipeline file: {e}")))?;
    if !meta.is_file() {
        return Err(unreadable("the pipeline file is not a regular file".into()));
    }
    let size = meta.len();
    if size > MAX_PIPELINE_BYTES {
        return Err(unreadable(format!(
            "the pipeline file has {} bytes, more than the {} a pipeline file may have: is it the right file?",
            grouped(size as usize),
            grouped(MAX_PIPELINE_BYTES as usize)
        )));
    }
    std::fs::read_to_string(path)
        .map_err(|e| unreadable(format!("cannot read the pipeline file: {e}")))
}

/// A TOML or deserialisation error cut to a readable length (it may quote the file).
pub fn clip_message(e: impl std::fmt::Display) -> String {
    crate::extract::limits::clip_to(&e.to_string(), 2_000).into_owned()
}

/// Every string and key of the file at most [`MAX_STRING_BYTES`] long, each too long one named
/// by its key path: a pipeline's strings end up in messages, reports and warehouse columns.
pub fn check_text_bounds(v: &Value, path: &str, problems: &mut Vec<String>) {
    let too_long = |what: &str, at: &str, len: usize| {
        format!(
            "{}: {what} of {} bytes, more than the {} a pipeline string may have",
            if at.is_empty() { "(top)" } else { at },
            grouped(len),
            grouped(MAX_STRING_BYTES)
        )
    };
    match v {
        Value::String(s) if s.len() > MAX_STRING_BYTES => {
            problems.push(too_long("a string", path, s.len()))
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_text_bounds(item, &format!("{path}[{i}]"), problems);
            }
        }
        Value::Table(t) => {
            for (k, item) in t {
                if k.len() > MAX_STRING_BYTES {
                    problems.push(too_long("a key", clip(k).as_ref(), k.len()));
                    continue;
                }
                let at = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                check_text_bounds(item, &at, problems);
            }
        }
        _ => {}
    }
}

/// The keys a survey pipeline must have, each missing one reported (all at once); returns
/// whether one was missing.
fn check_required(v: &Value, problems: &mut Vec<String>) -> bool {
    let before = problems.len();
    let required: [(&str, &[&str]); 2] = [
        (
            "pipeline",
            &["id", "name", "ref_area", "source", "periodicity"],
        ),
        ("input", &[]),
    ];
    for (table, keys) in required {
        match v.get(table) {
            None => problems.push(format!("[{table}]: the table is required")),
            Some(t) if !t.is_table() => problems.push(format!("{table}: a table is expected")),
            Some(t) => {
                for k in keys {
                    if t.get(k).is_none() {
                        problems.push(format!("{table}.{k}: required key missing"));
                    }
                }
            }
        }
    }
    problems.len() > before
}

/// `v` with the missing required keys filled by values every check accepts.
fn with_stand_ins(mut v: Value) -> Value {
    let Some(top) = v.as_table_mut() else {
        return v;
    };
    let stand_ins = [
        ("id", "x"),
        ("name", "x"),
        ("ref_area", "XXX"),
        ("source", "SY:X"),
        ("periodicity", "A"),
    ];
    let meta = top
        .entry("pipeline")
        .or_insert_with(|| Value::Table(Default::default()));
    if let Some(m) = meta.as_table_mut() {
        for (k, x) in stand_ins {
            m.entry(k).or_insert_with(|| Value::String(x.into()));
        }
    }
    top.entry("input")
        .or_insert_with(|| Value::Table(Default::default()));
    v
}

fn keys(v: &Value, path: &str, allowed: &[&str], problems: &mut Vec<String>) {
    if let Some(t) = v.as_table() {
        for k in t.keys() {
            if !allowed.contains(&k.as_str()) {
                problems.push(format!(
                    "{path}.{k}: unknown key{} (expected one of: {})",
                    did_you_mean(k, allowed.iter().copied()),
                    allowed.join(", ")
                ));
            }
        }
    }
}

fn check_keys(v: &Value, problems: &mut Vec<String>) {
    keys(v, "", TOP, problems);
    let sub = |k: &str| v.get(k);
    if let Some(m) = sub("pipeline") {
        keys(m, "pipeline", META, problems);
        if let Some(r) = m.get("reliability") {
            keys(r, "pipeline.reliability", RELIABILITY, problems);
        }
    }
    for (k, allowed) in [
        ("input", INPUT),
        ("time", TIME),
        ("design", DESIGN),
        ("validation", VALIDATION),
    ] {
        if let Some(t) = sub(k) {
            keys(t, k, allowed, problems);
        }
    }
    check_limits(sub("input"), "input", problems);
    if let Some(f) = sub("fields").and_then(Value::as_table) {
        for (name, fv) in f {
            keys(fv, &format!("fields.{name}"), FIELD, problems);
        }
    }
    if let Some(r) = sub("rules").and_then(Value::as_table) {
        for k in r.keys() {
            if !RULES.contains(&k.as_str()) {
                problems.push(format!(
                    "rules.{k}: unknown rule{} (expected one of: {})",
                    did_you_mean(k, RULES.iter().copied()),
                    RULES.join(", ")
                ));
            }
        }
    }
    if let Some(r) = sub("roster") {
        keys(r, "roster", ROSTER, problems);
        for (k, allowed) in [("input", INPUT), ("time", TIME), ("design", DESIGN)] {
            if let Some(t) = r.get(k) {
                keys(t, &format!("roster.{k}"), allowed, problems);
            }
        }
        check_limits(r.get("input"), "roster.input", problems);
        if let Some(f) = r.get("fields").and_then(Value::as_table) {
            for (name, fv) in f {
                keys(fv, &format!("roster.fields.{name}"), FIELD, problems);
            }
        }
    }
}

/// `[input.limits]`: known keys, whole numbers ≥ 1.
fn check_limits(input: Option<&Value>, at: &str, problems: &mut Vec<String>) {
    if let Some(t) = input.and_then(|i| i.get("limits")) {
        problems.extend(Limits::problems(t, &format!("{at}.limits")));
    }
}

fn check_semantics(p: &Pipeline, schema: &Schema, problems: &mut Vec<String>) {
    let m = &p.pipeline;
    if m.ref_area.len() != 3 || !m.ref_area.chars().all(|c| c.is_ascii_uppercase()) {
        problems.push(format!(
            "pipeline.ref_area: {:?} is not an ISO 3166-1 alpha-3 code",
            m.ref_area
        ));
    }
    check_names(p, problems);
    if !["A", "Q", "M"].contains(&m.periodicity.as_str()) {
        problems.push(format!(
            "pipeline.periodicity: {:?} must be A, Q or M",
            m.periodicity
        ));
    }
    if let Some(r) = &m.reliability {
        if !["ilo", "ine_chile", "statcan", "custom"].contains(&r.profile.as_str()) {
            problems.push(format!(
                "pipeline.reliability.profile: {:?} must be ilo, ine_chile, statcan or custom",
                r.profile
            ));
        }
    }
    for n in &m.note_source {
        if !schema.notes.iter().any(|x| &x.code == n) {
            problems.push(format!(
                "pipeline.note_source: note {n:?} is not in schemas/notes.csv"
            ));
        }
    }
    check_input(p, "input", &p.input, problems);
    if p.time.value.is_none() && p.time.year.is_none() {
        problems.push("time: give `year` (with `quarter` or `month`) or a fixed `value`".into());
    }
    if p.design.weight.is_none() {
        problems.push("design.weight: the weight column is required".into());
    }
    check_design_method(&p.design, "design", problems);
    let v = &p.validation;
    if !(v.max_quarantined_share.is_finite() && (0.0..=1.0).contains(&v.max_quarantined_share)) {
        problems.push(format!(
            "validation.max_quarantined_share: {} must be a share between 0 and 1 (0.05 = 5 %)",
            v.max_quarantined_share
        ));
    }
    for (key, x) in [
        ("max_file_mb", v.max_file_mb),
        ("population_change_pct", v.population_change_pct),
        ("unemployment_rate_change_pp", v.unemployment_rate_change_pp),
    ] {
        if !(x.is_finite() && x > 0.0) {
            problems.push(format!("validation.{key}: {x} must be a positive number"));
        }
    }
    check_fields(&p.fields, &schema.person, schema, "fields", problems);
    if let Some(r) = &p.roster {
        check_input(p, "roster.input", &r.input, problems);
        check_fields(
            &r.fields,
            &schema.emigrant,
            schema,
            "roster.fields",
            problems,
        );
        if let Some(d) = &r.design {
            check_design_method(d, "roster.design", problems);
        }
    }
}

/// Values that become path components in the warehouse: the source (`TYPE:id`, its file name
/// with `:` as `_`) and the pipeline id (run records) hold only `[A-Za-z0-9_.-]`.
fn check_names(p: &Pipeline, problems: &mut Vec<String>) {
    use crate::load::warehouse::is_safe_name;
    let m = &p.pipeline;
    let shown = |s: &str| crate::error::cut(s, 60);
    match m.source.split_once(':') {
        Some((kind, id))
            if kind.len() >= 2
                && kind.bytes().all(|b| b.is_ascii_uppercase())
                && is_safe_name(id)
                && !id.contains("..") => {}
        _ => problems.push(format!(
            "pipeline.source: {:?} must be TYPE:id with TYPE in capitals and id of letters, \
             digits, '_', '.' or '-' (no '..'), e.g. BA:CAN_LFS_PUMF",
            shown(&m.source)
        )),
    }
    if !is_safe_name(&m.id) || m.id.contains("..") {
        problems.push(format!(
            "pipeline.id: {:?} may hold only letters, digits, '_', '.' or '-' (no '..')",
            shown(&m.id)
        ));
    }
}

fn check_design_method(d: &super::pipeline::Design, path: &str, problems: &mut Vec<String>) {
    if d.replicate_count.is_some() && d.replicates.is_empty() {
        problems.push(format!(
            "{path}.replicate_count: give the replicate columns in `replicates` too"
        ));
    }
    if !d.replicates.is_empty() && d.method.is_none() {
        problems.push(format!(
            "{path}.method: replicate weights need a method (brr, fay, jk1, jkn, bootstrap, sdr)"
        ));
    }
    match d.variance.as_deref() {
        None => {}
        Some("taylor") if d.psu.is_none() => problems.push(format!(
            "{path}.variance: taylor needs `psu` (and usually `strata`)"
        )),
        Some("replicate") if d.replicates.is_empty() => {
            problems.push(format!("{path}.variance: replicate needs `replicates`"))
        }
        Some("taylor") | Some("replicate") => {}
        Some(v) => problems.push(format!(
            "{path}.variance: {v:?} must be taylor or replicate"
        )),
    }
}

fn check_input(
    p: &Pipeline,
    path: &str,
    input: &super::pipeline::Input,
    problems: &mut Vec<String>,
) {
    if !INPUT_TYPES.contains(&input.kind.as_str()) {
        problems.push(format!(
            "{path}.type: {:?} is not a known input type (expected one of: {})",
            input.kind,
            INPUT_TYPES.join(", ")
        ));
    }
    if let Some(url) = &input.url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            problems.push(format!(
                "{path}.url: {url:?} must start with https:// or http://"
            ));
        }
    } else if input.path.is_empty() {
        problems.push(format!("{path}: give `path` (a local file) or `url`"));
    } else {
        let file = p.resolve(&input.path);
        if !file.is_file() {
            problems.push(format!(
                "{path}.path: file {} does not exist",
                file.display()
            ));
        }
    }
    check_input_options(path, input, problems);
}

/// Keys that only some input types take, and the forms of the fetch options.
fn check_input_options(path: &str, input: &super::pipeline::Input, problems: &mut Vec<String>) {
    let excel_only = [
        ("sheet", input.sheet.is_some()),
        ("header_row", input.header_row.is_some()),
        ("range", input.range.is_some()),
    ];
    for (key, given) in excel_only {
        if given && input.kind != "excel" {
            problems.push(format!("{path}.{key}: applies to excel inputs only"));
        }
    }
    if input.header_row == Some(0) {
        problems.push(format!("{path}.header_row: rows are numbered from 1"));
    }
    if let Some(r) = &input.range {
        if let Err(e) = crate::extract::excel::CellRange::parse(r) {
            problems.push(format!("{path}.range: {e}"));
        }
    }
    let fetch_only = [
        ("expected_sha256", input.expected_sha256.is_some()),
        ("timeout_secs", input.timeout_secs.is_some()),
        ("retries", input.retries.is_some()),
        ("cache_dir", input.cache_dir.is_some()),
    ];
    for (key, given) in fetch_only {
        if given && input.url.is_none() {
            problems.push(format!("{path}.{key}: applies to inputs with a `url`"));
        }
    }
    if let Some(h) = &input.expected_sha256 {
        if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
            problems.push(format!(
                "{path}.expected_sha256: {h:?} is not 64 hexadecimal digits"
            ));
        }
    }
    if input.timeout_secs == Some(0) {
        problems.push(format!("{path}.timeout_secs: must be at least 1"));
    }
    if let Some(d) = &input.delimiter {
        if let Err(e) = super::pipeline::delimiter_byte(d) {
            problems.push(format!("{path}.delimiter: {e}"));
        }
    }
    if let Some(e) = &input.encoding {
        if super::pipeline::encoding_name(e).is_none() {
            problems.push(format!(
                "{path}.encoding: {e:?} is not known{} (expected one of: {})",
                did_you_mean(e, super::pipeline::ENCODINGS.iter().copied()),
                super::pipeline::ENCODINGS.join(", ")
            ));
        }
    }
    if let Some(d) = &input.decimal {
        if d != "." && d != "," {
            problems.push(format!(
                "{path}.decimal: {d:?} must be \".\" (decimal point) or \",\" (decimal comma)"
            ));
        }
    }
}

/// The columns a survey pipeline maps, looked up in its input's header: each one missing named
/// with the header's nearest column. Reads the header only (for `migstat check`).
pub fn check_columns(p: &Pipeline, schema: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    let mut inputs = vec![("input", "fields", &p.input, &p.fields)];
    if let Some(r) = &p.roster {
        inputs.push(("roster.input", "roster.fields", &r.input, &r.fields));
    }
    let _ = schema;
    for (at, fields_at, input, fields) in inputs {
        if input.url.is_some() {
            continue;
        }
        let path = p.resolve(&input.path);
        let src = match crate::extract::open(input, &path) {
            Ok(src) => src,
            Err(e) => {
                problems.push(format!("{at}: {}", clip_message(e)));
                continue;
            }
        };
        let headers: Vec<&str> = src.headers().iter().map(String::as_str).collect();
        let mut want: Vec<(String, Vec<String>)> = input
            .key
            .iter()
            .map(|k| (format!("{at}.key"), vec![k.clone()]))
            .collect();
        for (name, f) in fields {
            if let Some(c) = &f.column {
                want.push((format!("{fields_at}.{name}.column"), c.names()));
            }
            for c in &f.columns {
                want.push((format!("{fields_at}.{name}.columns"), vec![c.clone()]));
            }
        }
        for (key, names) in want {
            if src.column(&names).is_none() {
                problems.push(format!(
                    "{key}: column {} is not in the header of {}{}",
                    names.join(" or "),
                    src.display().display(),
                    did_you_mean(&names[0], headers.iter().copied())
                ));
            }
        }
    }
    problems
}

fn check_fields(
    fields: &std::collections::BTreeMap<String, FieldMap>,
    record: &RecordSchema,
    schema: &Schema,
    path: &str,
    problems: &mut Vec<String>,
) {
    for (name, f) in fields {
        let at = format!("{path}.{name}");
        let Some(def) = record.mappable().find(|d| &d.name == name) else {
            let known: Vec<&str> = record.mappable().map(|d| d.name.as_str()).collect();
            problems.push(format!(
                "{at}: {name:?} is not a field of the {} record{} (fields: {})",
                record.record,
                did_you_mean(name, known.iter().copied()),
                known.join(", ")
            ));
            continue;
        };
        let sources = [f.column.is_some(), f.constant.is_some(), f.derive.is_some()];
        if sources.iter().filter(|b| **b).count() != 1 {
            problems.push(format!(
                "{at}: give exactly one of `column`, `constant` or `derive`"
            ));
        }
        if let Some(d) = &f.derive {
            if d != "product" {
                problems.push(format!(
                    "{at}.derive: {d:?} is not known (expected product)"
                ));
            }
            if f.columns.is_empty() {
                problems.push(format!("{at}.columns: `derive` needs its input columns"));
            }
        }
        if def.ty == FieldType::Code {
            let dim = def.dimension.as_deref().unwrap_or("");
            let Ok(dim) = schema.codes.dim(dim) else {
                continue;
            };
            let codes: Vec<&str> = dim.codes.iter().map(|c| c.code.as_str()).collect();
            let mut check = |what: &str, v: &Value| {
                match v.as_str() {
                Some(c) if dim.index_of(c).is_some() => {}
                Some(c) => problems.push(format!(
                    "{at}.{what}: {c:?} is not a code of {}{} (schemas/codelists.csv; valid codes: {})",
                    dim.name,
                    did_you_mean(c, codes.iter().copied()),
                    listed(codes.iter().copied(), 40)
                )),
                None => problems.push(format!("{at}.{what}: a code string is expected")),
            }
            };
            for (k, v) in &f.codes {
                check(&format!("codes.{k}"), v);
            }
            for (k, v) in &f.labels {
                check(&format!("labels.{k}"), v);
            }
            for (what, v) in [("blank", &f.blank), ("constant", &f.constant)] {
                if let Some(v) = v {
                    check(what, v);
                }
            }
        } else if def.ty == FieldType::Bool {
            for (what, table) in [("codes", &f.codes), ("labels", &f.labels)] {
                for (k, v) in table {
                    if !v.is_bool() {
                        problems.push(format!("{at}.{what}.{k}: true or false expected"));
                    }
                }
            }
        } else if !f.codes.is_empty() || !f.labels.is_empty() {
            problems.push(format!(
                "{at}.codes: {name} is a {:?} field; recodes apply to code and bool fields",
                def.ty
            ));
        }
        if !f.bands.is_empty() && name != "age" {
            problems.push(format!("{at}.bands: only `age` takes bands"));
        }
        for (k, [lo, hi]) in &f.bands {
            if lo > hi {
                problems.push(format!("{at}.bands.{k}: lower bound above upper bound"));
            }
        }
    }
}
