//! `migstat validate PIPELINE [--input FILE] [--report PATH] [--max-per-rule N] [--warehouse DIR]
//! [--limit KEY=VALUE]…`:
//! checks an upload the way `run` would read it, without loading anything. Exit 0 = loadable
//! (warnings allowed), 1 = errors found, 2 = could not check (missing file, invalid pipeline).
use std::io::Write;
use std::path::{Path, PathBuf};

use super::input::{validate_stream, InputReport};
use super::messages::Lang;
use super::report::{text, Report};
use crate::config::pipeline::Pipeline;
use crate::error::{MigError, Result};
use crate::normalize::RecordSpec;
use crate::schema::Schema;

#[derive(clap::Args, Debug, Clone)]
pub struct ValidateArgs {
    /// Pipeline file (pipelines/*.toml).
    pub pipeline: PathBuf,
    /// Check this file instead of the pipeline's input (e.g. next quarter's upload).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Write the report here; its extension picks the format: .json, .html or .txt.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Findings listed per rule (all are counted).
    #[arg(long, default_value_t = 100)]
    pub max_per_rule: u64,
    /// Warehouse holding earlier periods, for the plausibility rules.
    #[arg(long)]
    pub warehouse: Option<PathBuf>,
    /// Schema folder (default: next to the pipeline, else the built-in copy).
    #[arg(long)]
    pub schemas: Option<PathBuf>,
    /// Raise or lower a bound on the work reading the input may cost, e.g.
    /// `--limit max_cell_bytes=1000000` (keys and defaults: docs/limits.md); repeatable.
    #[arg(long = "limit", value_name = "KEY=VALUE")]
    pub limit: Vec<String>,
    /// Colour the terminal text: auto (on a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub color: Colour,
    /// Language of the text and HTML report: en, fr or es (the JSON keeps English messages).
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Auto,
    Always,
    Never,
}

/// Runs the command; returns the exit code (an error means the upload could not be checked).
pub fn run(args: &ValidateArgs, out: &mut dyn Write) -> Result<i32> {
    let report = validate(args).map_err(could_not_check)?;
    let colour = match args.color {
        Colour::Auto => text::use_colour(),
        Colour::Always => true,
        Colour::Never => false,
    };
    let shown = text::render(&report, colour, args.lang);
    match &args.report {
        Some(path) => {
            report.write_in(path, args.lang)?;
            let _ = write!(out, "{}", verdict_lines(&shown));
            let _ = writeln!(out, "Report: {}", path.display());
        }
        None => {
            let _ = write!(out, "{shown}");
        }
    }
    Ok(report.exit_code)
}

/// Validates every input of the pipeline (the person file, or `--input`, and the roster).
pub fn validate(args: &ValidateArgs) -> Result<Report> {
    use crate::pipeline::{Job, Kind};
    let mut job = Job::load(&args.pipeline, args.schemas.as_deref())?;
    job.override_limits(&args.limit)?;
    let (p, schema) = match job.kind {
        Kind::Survey(p, s) => (*p, *s),
        Kind::Remittance(..) => {
            return super::remittances::validate(
                &args.pipeline,
                args.input.as_deref(),
                args.schemas.as_deref(),
                args.max_per_rule,
            )
        }
    };
    let inputs = validate_survey(
        &p,
        &schema,
        args.input.as_deref(),
        args.max_per_rule,
        args.warehouse.as_deref(),
    )?;
    Ok(Report::new(&p, &inputs))
}

/// The reports of a survey pipeline's inputs (the person file, or `input`, and the roster):
/// the one engine `validate` and a stopped `run` use.
pub fn validate_survey(
    p: &Pipeline,
    schema: &Schema,
    input: Option<&Path>,
    cap: u64,
    wh: Option<&Path>,
) -> Result<Vec<InputReport>> {
    if let Some(input) = input {
        crate::extract::data::regular_file_size(input)?;
    }
    let person = RecordSpec::person(p, schema);
    let mut inputs: Vec<InputReport> = vec![validate_stream(p, schema, &person, input, cap, wh)?];
    if let Some(roster) = RecordSpec::roster(p, schema) {
        inputs.push(validate_stream(p, schema, &roster, None, cap, wh)?);
    }
    Ok(inputs)
}

/// Every failure to check is exit 2, data errors found while reading included.
pub fn could_not_check(e: MigError) -> MigError {
    match e {
        MigError::Data { .. } | MigError::Rejected(_) => MigError::Other(e.to_string()),
        e => e,
    }
}

/// The header and the verdict of the text, for the terminal when the report goes to a file.
fn verdict_lines(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.pop().unwrap_or("");
    let first = lines.first().copied().unwrap_or("");
    format!("{first}\n{last}\n")
}

/// The file a report for `pipeline` would go to by default in `dir` (for callers that want one).
pub fn default_report_path(dir: &Path, pipeline_id: &str, ext: &str) -> PathBuf {
    dir.join(format!("{pipeline_id}.validation.{ext}"))
}
