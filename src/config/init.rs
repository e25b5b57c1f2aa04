//! `migstat init DATAFILE [--out pipeline.toml]`: a commented draft pipeline from a data file's
//! header and value labels. Fields are guessed from column names and labels (`SEX`, `sexo`,
//! a column labelled male/female…); every coded field gets its `codes` table with the file's
//! distinct values (and their labels and row counts) as keys and `"TODO"` to fill, with the
//! valid schema codes listed beside it. Once the TODOs are filled the draft passes `check`.
//! CSV, SPSS (.sav), Stata (.dta), Excel and Parquet files are read with the `extract` readers.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::suggest::listed;
use crate::error::{MigError, Result};
use crate::extract::{self, Labels};
use crate::schema::{FieldType, Schema};

/// Rows read to learn the columns' values.
const SAMPLE_ROWS: u64 = 200_000;
/// Distinct values kept per column; a column with more is not a code list.
const MAX_CODES: usize = 40;

#[derive(clap::Args, Debug, Clone)]
pub struct InitArgs {
    /// The data file (CSV, .zip/.gz of a CSV, .sav, .dta, .xlsx, .parquet).
    pub data: PathBuf,
    /// Write the draft here (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Schema folder (default: ./schemas, else the built-in copy).
    #[arg(long)]
    pub schemas: Option<PathBuf>,
}

/// Runs the command; returns the exit code.
pub fn run(args: &InitArgs, out: &mut dyn Write) -> Result<i32> {
    let schema = Schema::locate(args.schemas.as_deref(), None)?;
    let base = args
        .out
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let text = draft(&args.data, &base, &schema)?;
    match &args.out {
        Some(p) => {
            if p.exists() {
                return Err(MigError::Other(format!(
                    "{}: the file exists; init does not overwrite a pipeline (choose another --out)",
                    p.display()
                )));
            }
            std::fs::write(p, &text).map_err(|e| MigError::io(p, e))?;
            let _ = writeln!(
                out,
                "{}: draft written; fill its TODOs, then run `migstat check {}`",
                p.display(),
                p.display()
            );
        }
        None => {
            let _ = write!(out, "{text}");
        }
    }
    Ok(0)
}

/// What the sample of rows says about one column.
#[derive(Debug, Default)]
struct Column {
    name: String,
    labels: Labels,
    values: BTreeMap<String, u64>,
    /// More distinct values than `MAX_CODES`.
    many: bool,
    numeric: bool,
    blank: u64,
}

/// The draft pipeline for `data`, its path written relative to `base` (the draft's folder).
pub fn draft(data: &Path, base: &Path, schema: &Schema) -> Result<String> {
    let input = extract::file_input(data)?;
    let kind = extract::input_type(data);
    let mut src = extract::open(&input, data)?;
    let mut cols: Vec<Column> = src
        .headers()
        .iter()
        .enumerate()
        .map(|(i, h)| Column {
            name: h.clone(),
            labels: src.labels(i).cloned().unwrap_or_default(),
            numeric: true,
            ..Default::default()
        })
        .collect();
    let mut cells = Vec::new();
    let mut rows = 0u64;
    while rows < SAMPLE_ROWS {
        if src.next_into(&mut cells)?.is_none() {
            break;
        }
        rows += 1;
        for (c, v) in cols.iter_mut().zip(&cells) {
            let v = v.trim();
            if v.is_empty() {
                c.blank += 1;
                continue;
            }
            c.numeric &= v.parse::<f64>().is_ok();
            if let Some(n) = c.values.get_mut(v) {
                *n += 1;
            } else if c.values.len() < MAX_CODES {
                c.values.insert(v.to_string(), 1);
            } else {
                c.many = true;
            }
        }
    }
    let path = relative(data, base);
    Ok(render(&Draft {
        file: data,
        path: &path,
        kind,
        cols: &cols,
        rows,
        schema,
    }))
}

/// `data` relative to `base` when it lies below it, else as given (absolute when it was).
fn relative(data: &Path, base: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (d, b) = (abs(data), abs(base));
    match d.strip_prefix(&b) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => d.display().to_string(),
    }
}

struct Draft<'a> {
    file: &'a Path,
    path: &'a str,
    kind: &'a str,
    cols: &'a [Column],
    rows: u64,
    schema: &'a Schema,
}

/// Column names (lower case) that usually hold a field, by field; checked in order.
const NAMES: &[(&str, &[&str])] = &[
    (
        "weight",
        &[
            "weight", "wt", "finalwt", "pweight", "pw", "fexp", "factor", "fex", "coeff",
            "pondera", "peso", "poids", "wgt",
        ],
    ),
    ("strata", &["stratum", "strata", "estrato", "strate", "str"]),
    (
        "psu",
        &[
            "psu",
            "ea",
            "upm",
            "cluster",
            "conglomerado",
            "dnum",
            "segment",
        ],
    ),
    (
        "year",
        &["year", "refyear", "anio", "ano", "annee", "survyear"],
    ),
    ("quarter", &["quarter", "qtr", "trimestre", "trim", "q"]),
    ("month", &["month", "mes", "mois", "survmnth"]),
    (
        "household",
        &[
            "hh_id",
            "hhid",
            "household",
            "hogar",
            "id_hogar",
            "menage",
            "hid",
        ],
    ),
    (
        "person",
        &[
            "member", "line", "person", "pid", "persona", "id_pers", "rec_num", "ln",
        ],
    ),
    ("sex", &["sex", "gender", "sexo", "sexe"]),
    ("age", &["age", "edad", "age_years", "ageyrs"]),
    (
        "edu",
        &[
            "educ",
            "edu",
            "education",
            "isced",
            "nivel",
            "niv_educ",
            "hatlev",
        ],
    ),
    (
        "lfs",
        &[
            "lfs",
            "lfstat",
            "ilostat",
            "condact",
            "lfs_status",
            "activity",
        ],
    ),
    (
        "eco",
        &[
            "ind_div", "industry", "isic", "nace1d", "nace", "eco", "rama",
        ],
    ),
    ("ocu", &["occ", "occupation", "isco", "isco1d", "ocup"]),
    (
        "ste",
        &["work_status", "ste", "stapro", "status_emp", "categ"],
    ),
    ("cbr", &["born_abroad", "lugar_nac", "birthplace", "cbr"]),
    (
        "brt",
        &["birth_ctry", "countryb", "pais_nac", "cob", "country_birth"],
    ),
    ("cct", &["citizen", "citizenship", "cct"]),
    (
        "ctz",
        &["nation", "national", "nacionalidad", "nationality", "ctz"],
    ),
    (
        "year_arrival",
        &[
            "arrive_yr",
            "year_arrival",
            "anio_llegada",
            "arrival_year",
            "yearesid",
        ],
    ),
    ("returned", &["returned", "return", "retorno"]),
    ("cpr", &["prev_ctry", "previous_country", "pais_ant"]),
    (
        "earnings",
        &["earnings", "wage", "income", "salary", "ingreso"],
    ),
    (
        "remit_receipt",
        &["remit", "remittance", "remesa", "remit_recv"],
    ),
    (
        "remit_amount",
        &["remit_amt", "remit_amount", "monto_remesa"],
    ),
];

impl Draft<'_> {
    /// The column guessed for `what` (by name, then for sex by its labels), not taken yet.
    fn guess(&self, what: &str, taken: &mut Vec<usize>) -> Option<&Column> {
        let names = NAMES
            .iter()
            .find(|(f, _)| *f == what)
            .map_or(&[][..], |x| x.1);
        let by_name = names.iter().find_map(|n| {
            self.cols
                .iter()
                .position(|c| c.name.trim().eq_ignore_ascii_case(n))
        });
        // Design columns are often named around a word: `expansion_factor`, `gov_strat`.
        let within: &[&str] = match what {
            "weight" => &["weight", "factor", "wgt"],
            "strata" => &["strat"],
            "psu" => &["psu", "cluster"],
            _ => &[],
        };
        let by_name = by_name.or_else(|| {
            self.cols.iter().position(|c| {
                let n = c.name.to_lowercase();
                within.iter().any(|w| n.contains(w)) && !n.starts_with("rep")
            })
        });
        let by_label = || {
            (what == "sex").then(|| {
                self.cols.iter().position(|c| {
                    let l: Vec<String> = c.labels.values().map(|l| l.to_lowercase()).collect();
                    l.iter()
                        .any(|x| x == "male" || x == "hombre" || x == "homme")
                })
            })?
        };
        let i = by_name.or_else(by_label).filter(|i| !taken.contains(i))?;
        taken.push(i);
        Some(&self.cols[i])
    }
}

fn q(s: &str) -> String {
    format!("{s:?}")
}

fn render(d: &Draft) -> String {
    let mut out = String::new();
    let mut taken = Vec::new();
    let stem = d
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let id: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let names: Vec<&str> = d.cols.iter().map(|c| c.name.as_str()).collect();
    let _ = writeln!(
        out,
        "# Draft pipeline for {}, written by `migstat init` from its header and value labels\n\
         # ({} columns, {} rows read). Fill every TODO, check the guessed columns, then run\n\
         # `migstat check` and `migstat validate`. Every key: docs/pipeline-reference.md.\n\
         # Columns: {}\n",
        d.file.display(),
        d.cols.len(),
        d.rows,
        names.join(", ")
    );
    let time: Vec<(&str, Option<&Column>)> = ["year", "quarter", "month"]
        .into_iter()
        .map(|t| (t, d.guess(t, &mut taken)))
        .collect();
    let periodicity = match (time[1].1, time[2].1) {
        (Some(_), _) => "Q",
        (None, Some(_)) => "M",
        _ => "A",
    };
    let _ = writeln!(
        out,
        "[pipeline]\nid = {}\nname = \"TODO: the survey's name\"\n\
         # ISO 3166-1 alpha-3 code of the country, e.g. THA.\nref_area = \"TODO\"\n\
         # TYPE:id, e.g. BA:THA_LFS (BA = labour force survey).\nsource = \"BA:TODO\"\n\
         # A, Q or M (guessed from the time columns).\nperiodicity = {}\n",
        q(&id),
        q(periodicity)
    );
    let hh = d.guess("household", &mut taken);
    let person = d.guess("person", &mut taken);
    let key: Vec<String> = [hh, person]
        .into_iter()
        .flatten()
        .map(|c| q(&c.name))
        .collect();
    let _ = writeln!(out, "[input]\ntype = {}\npath = {}", q(d.kind), q(d.path));
    let _ = writeln!(
        out,
        "# The business key: household id + person line (empty: the line number).\nkey = [{}]",
        key.join(", ")
    );
    if let Some(h) = hh {
        let _ = writeln!(out, "household = {}", q(&h.name));
    }
    out.push_str("\n[time]\n");
    match time
        .iter()
        .filter_map(|(t, c)| c.map(|c| (t, c)))
        .collect::<Vec<_>>()
    {
        found if !found.is_empty() => {
            for (t, c) in found {
                let _ = writeln!(out, "{t} = {}", q(&c.name));
            }
        }
        _ => out
            .push_str("# No time columns found: the period of the whole file.\nvalue = \"TODO\"\n"),
    }
    out.push_str("\n[design]\n");
    for what in ["weight", "strata", "psu"] {
        match d.guess(what, &mut taken) {
            Some(c) => {
                let _ = writeln!(out, "{what} = {}", q(&c.name));
            }
            None if what == "weight" => out.push_str("weight = \"TODO\"\n"),
            None => {
                let _ = writeln!(out, "# {what} = \"COLUMN\"");
            }
        }
    }
    out.push_str("\n[rules]\nunknown_code = \"error\"\nmissing_value = \"error\"\n");
    for def in d.schema.person.mappable() {
        if let Some(c) = d.guess(&def.name, &mut taken) {
            field(&mut out, d, def, c);
        }
    }
    let rest: Vec<&str> = d
        .cols
        .iter()
        .enumerate()
        .filter(|(i, _)| !taken.contains(i))
        .map(|(_, c)| c.name.as_str())
        .collect();
    if !rest.is_empty() {
        let _ = writeln!(
            out,
            "\n# Columns not mapped (map them as [fields.NAME] with a schema field, or leave them):\n# {}",
            rest.join(", ")
        );
        let fields: Vec<&str> = d
            .schema
            .person
            .mappable()
            .map(|f| f.name.as_str())
            .collect();
        let _ = writeln!(out, "# Fields of the person record: {}", fields.join(", "));
    }
    out
}

fn field(out: &mut String, d: &Draft, def: &crate::schema::FieldDef, c: &Column) {
    let _ = writeln!(out, "\n[fields.{}]", def.name);
    if let Some(desc) = &def.description {
        let _ = writeln!(out, "# {desc}");
    }
    let _ = writeln!(out, "column = {}", q(&c.name));
    match def.ty {
        FieldType::Int | FieldType::Float => {
            if def.name == "age" {
                out.push_str("min = 0\nmax = 120\n");
            }
        }
        FieldType::String => {}
        FieldType::Code | FieldType::Bool => codes(out, d, def, c),
    }
}

fn codes(out: &mut String, d: &Draft, def: &crate::schema::FieldDef, c: &Column) {
    let dim = def
        .dimension
        .as_deref()
        .and_then(|n| d.schema.codes.dims.get(n));
    let valid: Vec<&str> = dim
        .map(|d| d.codes.iter().map(|c| c.code.as_str()).collect())
        .unwrap_or_default();
    let iso3 = |v: &str| v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase());
    let countries = !c.values.is_empty() && c.values.keys().all(|v| iso3(v));
    if c.many || countries {
        // Country columns hold ISO3 codes: the schema's code is a prefix and the cell.
        let prefix = valid.iter().filter(|_| countries).find_map(|v| {
            let (head, tail) = v.rsplit_once('_')?;
            (iso3(tail) && valid.contains(&format!("{head}_{}", c.values.keys().next()?).as_str()))
                .then(|| format!("{head}_"))
        });
        let _ = match c.many {
            true => writeln!(
                out,
                "# {} distinct values or more: recode by prefix (code = prefix + cell), or list them in codes.",
                c.values.len()
            ),
            false => writeln!(
                out,
                "# Country codes (ISO 3166 alpha-3, {} seen): the schema's code is the prefix and the cell.",
                c.values.len()
            ),
        };
        match prefix {
            Some(p) => {
                let _ = writeln!(out, "prefix = {}", q(&p));
            }
            None => {
                let _ = writeln!(out, "# prefix = \"TODO\"");
            }
        }
        if c.blank > 0 {
            let _ = writeln!(
                out,
                "# {} blank cells: give them a code with blank = \"…\"",
                c.blank
            );
        }
        return;
    }
    if c.blank > 0 {
        let _ = writeln!(
            out,
            "# {} blank cells: give them a code with blank = \"…\", or they are missing values.",
            c.blank
        );
    }
    if def.ty == FieldType::Bool {
        out.push_str("# Each code: true or false.\n");
    } else {
        let _ = writeln!(
            out,
            "# Codes of {}: {}",
            def.dimension.as_deref().unwrap_or(""),
            listed(valid.iter().copied(), 60)
        );
    }
    let _ = writeln!(out, "[fields.{}.codes]", def.name);
    for (v, n) in &c.values {
        let label = crate::validate::causes::label_of(&c.labels, v)
            .map(|l| format!("{l}, "))
            .unwrap_or_default();
        let todo = if def.ty == FieldType::Bool {
            "false"
        } else {
            "\"TODO\""
        };
        let _ = writeln!(out, "{} = {todo}  # {label}{n} rows", q(v));
    }
}
