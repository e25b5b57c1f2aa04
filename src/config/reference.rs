//! The reference of every pipeline key — its type, default and an example — in one table beside
//! the lists `check` accepts (a test holds them to the same keys), rendered as
//! `docs/pipeline-reference.md` by `migstat check --reference` (a test fails when the committed
//! file differs from what the code renders).
use std::fmt::Write;

/// One key of a pipeline file.
pub struct Key {
    /// The table the key is in (`input`, `fields.NAME`, …).
    pub table: &'static str,
    pub key: &'static str,
    pub ty: &'static str,
    /// The default, or `required`.
    pub default: &'static str,
    pub example: &'static str,
    pub doc: &'static str,
}

const fn k(
    table: &'static str,
    key: &'static str,
    ty: &'static str,
    default: &'static str,
    example: &'static str,
    doc: &'static str,
) -> Key {
    Key {
        table,
        key,
        ty,
        default,
        example,
        doc,
    }
}

/// The tables of a survey pipeline, in the order of the reference, with what each holds.
pub const TABLES: &[(&str, &str)] = &[
    ("", "The top level of the file: its tables."),
    (
        "pipeline",
        "What the survey is: its id, country, source and periodicity.",
    ),
    (
        "pipeline.reliability",
        "The reliability rules of the published estimates.",
    ),
    (
        "input",
        "Where the data are and how to read them (also `roster.input`).",
    ),
    (
        "time",
        "How each record's period is formed (also `roster.time`).",
    ),
    (
        "design",
        "The sample design: weights, strata, PSUs, replicates (also `roster.design`).",
    ),
    (
        "validation",
        "Thresholds of the validation rules that take one.",
    ),
    (
        "fields.NAME",
        "How one schema field is filled from the input (also `roster.fields.NAME`).",
    ),
    (
        "roster",
        "The roster of household members abroad: a second input of the survey.",
    ),
];

#[rustfmt::skip]
pub const KEYS: &[Key] = &[
    k("", "pipeline", "table", "required", "[pipeline]", "The survey."),
    k("", "input", "table", "required", "[input]", "The person file."),
    k("", "time", "table", "none", "[time]", "The period of each record."),
    k("", "design", "table", "none", "[design]", "The sample design."),
    k("", "fields", "table of tables", "none", "[fields.sex]", "The field maps."),
    k("", "rules", "table: rule id → severity", "each rule's default", "unknown_code = \"quarantine\"", "Severities of the validation rules: error, quarantine, warning or info (ids: docs/validation-report.md)."),
    k("", "roster", "table", "none", "[roster]", "The roster of members abroad."),
    k("", "validation", "table", "defaults below", "[validation]", "Rule thresholds."),
    k("pipeline", "id", "string", "required", "\"tha_lfs\"", "The pipeline's id: letters, digits, `_`, `.`, `-`."),
    k("pipeline", "name", "string", "required", "\"Thailand - Labour Force Survey\"", "The survey's name in reports."),
    k("pipeline", "ref_area", "string", "required", "\"THA\"", "ISO 3166-1 alpha-3 code of the country surveyed."),
    k("pipeline", "source", "string", "required", "\"BA:THA_LFS\"", "ILOSTAT-style source `TYPE:id`; synthetic sources use type `SY`."),
    k("pipeline", "survey", "string", "none", "\"Labour force survey\"", "What the survey is, in words."),
    k("pipeline", "periodicity", "string", "required", "\"Q\"", "`A`, `Q` or `M`."),
    k("pipeline", "note_source", "array of strings", "[]", "[\"R1:3513\"]", "Note codes (schemas/notes.csv) put on every observation."),
    k("pipeline", "synthetic", "bool", "false", "true", "The data are synthetic (demonstration only)."),
    k("pipeline", "reliability", "table", "the ILO profile", "[pipeline.reliability]", "Reliability rules."),
    k("pipeline", "microdata", "bool", "true", "false", "Write harmonised microdata to the warehouse."),
    k("pipeline", "working_age", "integer", "15", "15", "Lower bound of working age."),
    k("pipeline.reliability", "profile", "string", "\"ilo\"", "\"statcan\"", "`ilo`, `ine_chile`, `statcan` or `custom`."),
    k("pipeline.reliability", "min_count_unreliable", "integer", "the profile's", "30", "Fewer persons in the sample: flagged unreliable."),
    k("pipeline.reliability", "min_count_suppress", "integer", "the profile's", "10", "Fewer persons in the sample: suppressed."),
    k("pipeline.reliability", "max_cv_unreliable", "float", "the profile's", "30.0", "A larger CV (percent): flagged unreliable."),
    k("pipeline.reliability", "max_cv_caution", "float", "the profile's", "15.0", "A larger CV (percent): to use with caution."),
    k("pipeline.reliability", "min_df", "float", "the profile's", "9.0", "Fewer design degrees of freedom: flagged."),
    k("pipeline.reliability", "min_estimate", "float", "none", "1500.0", "Smallest publishable weighted count of persons."),
    k("input", "type", "string", "\"csv\"", "\"spss\"", "`csv`, `stata`, `spss`, `excel` or `parquet`."),
    k("input", "path", "string", "required without `url`", "\"../data/lfs_2024q1.csv\"", "The file, relative to the pipeline file."),
    k("input", "member", "string", "the only member", "\"pub*.csv\"", "For a zip archive: the member to read (a glob)."),
    k("input", "encoding", "string", "UTF-8, else latin-1", "\"latin-1\"", "`utf-8`, `latin-1` or `auto`."),
    k("input", "delimiter", "string", "detected", "\";\"", "One character, or `tab`."),
    k("input", "decimal", "string", "\".\"", "\",\"", "The decimal separator of numeric cells written as text: `.` or `,`. The numbers of a typed format (Parquet, SPSS, Stata, Excel number cells) are read as they are."),
    k("input", "key", "array of strings", "[] (the line number)", "[\"HH_ID\", \"MEMBER\"]", "Columns of the business key."),
    k("input", "household", "string", "none", "\"HH_ID\"", "The household id column."),
    k("input", "sheet", "string", "the first sheet", "\"Data\"", "Excel: the sheet to read."),
    k("input", "header_row", "integer", "the first row of `range`", "3", "Excel: 1-based row of the header."),
    k("input", "range", "string", "the used range", "\"B3:F\"", "Excel: the cells to read."),
    k("input", "url", "string", "none", "\"https://example.org/lfs.zip\"", "Fetch the file from here (cached)."),
    k("input", "expected_sha256", "string", "none", "\"9f86d0…\"", "With `url`: the SHA-256 the file must have."),
    k("input", "timeout_secs", "integer", "60", "120", "With `url`: seconds to wait for a connection or a read."),
    k("input", "retries", "integer", "3", "5", "With `url`: further attempts after a failed download."),
    k("input", "cache_dir", "string", "$MIGSTAT_CACHE_DIR, else the user's cache", "\"cache\"", "With `url`: the folder of fetched files."),
    k("input", "limits", "table", "docs/limits.md", "{ max_cell_bytes = 1000000 }", "Bounds on the work reading the input may cost (docs/limits.md)."),
    k("time", "year", "string", "none", "\"YEAR\"", "The year column."),
    k("time", "quarter", "string", "none", "\"QTR\"", "The quarter column (1-4 or Q1-Q4)."),
    k("time", "month", "string", "none", "\"MONTH\"", "The month column."),
    k("time", "value", "string", "none", "\"2024Q1\"", "A fixed period for files without time columns."),
    k("design", "weight", "string", "required", "\"WEIGHT\"", "The person weight column."),
    k("design", "strata", "string", "none", "\"STRATUM\"", "The stratum column."),
    k("design", "psu", "string", "none", "\"EA\"", "The primary sampling unit column."),
    k("design", "nest", "bool", "true", "false", "PSU ids are numbered within strata."),
    k("design", "fpc", "string", "none", "\"FPC\"", "Sampling fraction or population size column."),
    k("design", "lonely_psu", "string", "\"fail\"", "\"average\"", "A stratum with one PSU: `fail`, `remove`, `certainty`, `adjust` or `average`."),
    k("design", "replicates", "array of strings", "[]", "[\"REPWT*\"]", "Replicate weight columns: a list, or one `PREFIX*` pattern."),
    k("design", "method", "string", "none", "\"bootstrap\"", "`brr`, `fay`, `jk1`, `jkn`, `bootstrap` or `sdr`."),
    k("design", "rho", "float", "none", "0.3", "Fay's rho."),
    k("design", "scale", "float", "the method's", "0.05", "Replicate variance scale."),
    k("design", "rscales", "array of floats", "none", "[0.5, 0.5]", "Per-replicate scales (JKn)."),
    k("design", "mse", "bool", "false", "true", "Deviations from the full-sample estimate, not the replicates' mean."),
    k("design", "variance", "string", "taylor with a PSU", "\"replicate\"", "`taylor` or `replicate`: the standard errors written."),
    k("design", "household_weights", "bool", "false", "true", "Members of a household carry its weight (checked)."),
    k("design", "replicate_count", "integer", "none", "20", "How many replicate columns the file must have (checked)."),
    k("validation", "max_file_mb", "float", "4000", "500", "Larger files get a `file_size` finding."),
    k("validation", "population_change_pct", "float", "5", "8", "Largest plausible change of the working-age population, percent."),
    k("validation", "unemployment_rate_change_pp", "float", "3", "2", "Largest plausible move of the unemployment rate, points."),
    k("validation", "max_quarantined_share", "float", "0.05", "0.01", "Largest share of rows quarantined before the run fails."),
    k("fields.NAME", "column", "string or array of strings", "none", "\"SEX\"", "The input column; a list gives alternative names."),
    k("fields.NAME", "codes", "table: input code → code", "{}", "{ 1 = \"SEX_M\", 2 = \"SEX_F\" }", "Recode table (true/false for bool fields)."),
    k("fields.NAME", "labels", "table: label → code", "{}", "{ male = \"SEX_M\" }", "Recode by value label (the file's labels, or cells holding the label)."),
    k("fields.NAME", "prefix", "string", "none", "\"CBR_BRT_\"", "Code = prefix + the cell (ISO3 country columns)."),
    k("fields.NAME", "bands", "table: code → [low, high]", "{}", "{ 1 = [15, 24] }", "Age bands (age only; 999 = open-ended)."),
    k("fields.NAME", "blank", "code, bool or number", "none (blank is missing)", "\"LFS_X\"", "The value of a blank cell."),
    k("fields.NAME", "constant", "code, bool or number", "none", "\"SEX_F\"", "One value for every row (no column read)."),
    k("fields.NAME", "derive", "string", "none", "\"product\"", "A value from several columns: `product`."),
    k("fields.NAME", "columns", "array of strings", "[]", "[\"WAGE_DAY\", \"DAYS_MTH\"]", "The columns `derive` reads."),
    k("fields.NAME", "factor", "float", "1", "12.0", "Multiplies a derived product."),
    k("fields.NAME", "scale", "float", "none", "1000.0", "Multiplies a numeric column after reading."),
    k("fields.NAME", "min", "float", "none", "0", "Smallest valid value."),
    k("fields.NAME", "max", "float", "none", "120", "Largest valid value."),
    k("fields.NAME", "on_invalid", "string", "the rule's severity", "\"quarantine\"", "Severity of this field's problems."),
    k("fields.NAME", "note", "string", "none", "\"S4:EDU_PROXY\"", "note_classif of indicators broken down by this field."),
    k("roster", "input", "table", "required", "[roster.input]", "The roster file (keys as `input`)."),
    k("roster", "time", "table", "the person file's", "[roster.time]", "As `time`."),
    k("roster", "design", "table", "the person file's", "[roster.design]", "As `design`."),
    k("roster", "fields", "table of tables", "{}", "[roster.fields.crs]", "As `fields`, for the emigrant record."),
];

/// The reference as Markdown.
pub fn render() -> String {
    let mut out = String::from(
        "# Pipeline reference\n\n\
         Every key of a survey pipeline file (`pipelines/*.toml`), its type, default and an \
         example. Generated from the code by `migstat check --reference`; a test fails when this \
         file differs from what the code renders. `migstat check` refuses an unknown key (with \
         the nearest known one), `migstat init DATAFILE` drafts a pipeline from a data file.\n",
    );
    for (table, what) in TABLES {
        let title = if table.is_empty() {
            "(top level)".to_string()
        } else {
            format!("[{table}]")
        };
        let _ = write!(out, "\n## `{title}`\n\n{what}\n\n| key | type | default | example | meaning |\n|---|---|---|---|---|\n");
        for key in KEYS.iter().filter(|x| x.table == *table) {
            let cell = |s: &str| s.replace('|', "\\|");
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | `{}` | {} |",
                key.key,
                cell(key.ty),
                cell(key.default),
                cell(key.example),
                cell(key.doc)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::check::KEY_LISTS;

    #[test]
    fn every_key_check_accepts_is_in_the_reference_and_no_other() {
        for (table, accepted) in KEY_LISTS {
            let documented: Vec<&str> = KEYS
                .iter()
                .filter(|x| x.table == *table)
                .map(|x| x.key)
                .collect();
            let mut a: Vec<&str> = accepted.to_vec();
            let mut d = documented.clone();
            a.sort_unstable();
            d.sort_unstable();
            assert_eq!(a, d, "[{table}]: the reference and check disagree");
        }
        for x in KEYS {
            assert!(KEY_LISTS.iter().any(|(t, _)| *t == x.table), "{}", x.table);
        }
    }
}
