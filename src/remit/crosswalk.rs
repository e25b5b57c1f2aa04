//! Areas of the World Bank tables: which codes exist (ISO 3166-1 countries, World Bank aggregates,
//! historical and non-ISO codes) and how the names written in the files map to them. Loaded from
//! `schemas/countries.csv`, `schemas/wb_aggregates.csv` and `schemas/country_crosswalk.csv` (or
//! the copies built into the binary), and checked for consistency on load.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{MigError, Result};
use crate::schema::fnv_hex;

const FILES: [&str; 3] = [
    "countries.csv",
    "wb_aggregates.csv",
    "country_crosswalk.csv",
];

const EMBEDDED: [&str; 3] = [
    include_str!("../../schemas/countries.csv"),
    include_str!("../../schemas/wb_aggregates.csv"),
    include_str!("../../schemas/country_crosswalk.csv"),
];

/// What an area code stands for; aggregates must never be summed with countries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AreaKind {
    Country,
    /// A code no longer in use (Netherlands Antilles, Serbia and Montenegro...).
    Historical,
    World,
    Region,
    IncomeGroup,
    /// Lending groups, small states, "Other North" and the like.
    Other,
}

impl AreaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::Country => "country",
            AreaKind::Historical => "historical",
            AreaKind::World => "world",
            AreaKind::Region => "region",
            AreaKind::IncomeGroup => "income_group",
            AreaKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            AreaKind::Country,
            AreaKind::Historical,
            AreaKind::World,
            AreaKind::Region,
            AreaKind::IncomeGroup,
            AreaKind::Other,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// World, regions, income groups and other groupings: never to be added to countries.
    pub fn is_aggregate(self) -> bool {
        !matches!(self, AreaKind::Country | AreaKind::Historical)
    }
}

/// Every known area code and every known spelling of an area's name.
#[derive(Debug, Clone)]
pub struct Areas {
    /// code → (kind, name).
    codes: BTreeMap<String, (AreaKind, String)>,
    /// Codes listed in `wb_aggregates.csv`.
    aggregates: BTreeMap<String, AreaKind>,
    /// Normalised name → code.
    names: BTreeMap<String, String>,
    /// FNV-1a hash of the three files, for run manifests.
    pub hash: String,
    /// Where the files were read from (`None` = the copies built into the binary).
    pub dir: Option<PathBuf>,
}

/// Trims, turns no-break spaces into spaces and collapses runs of spaces.
pub fn normalize_name(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_code(s: &str) -> bool {
    s.len() == 3
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Rows of a schema CSV (comment lines start with `#`) with their line numbers.
fn rows(file: &str, text: &str, header: &[&str]) -> Result<Vec<(u64, Vec<String>)>> {
    let mut rdr = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let bad = |m: String| MigError::Schema(format!("{file}: {m}"));
    let head = rdr.headers().map_err(|e| bad(e.to_string()))?.clone();
    if head.iter().take(header.len()).ne(header.iter().copied()) {
        return Err(bad(format!(
            "the header must start with {}",
            header.join(",")
        )));
    }
    let mut out = Vec::new();
    for r in rdr.records() {
        let r = r.map_err(|e| bad(e.to_string()))?;
        let line = r.position().map_or(0, |p| p.line());
        out.push((line, r.iter().map(|c| c.trim().to_string()).collect()));
    }
    Ok(out)
}

impl Areas {
    /// `explicit` (`--schemas`), else `<pipeline dir>/../schemas`, else `./schemas`, else the
    /// built-in copies.
    pub fn locate(explicit: Option<&Path>, pipeline_dir: Option<&Path>) -> Result<Self> {
        if let Some(d) = explicit {
            return Self::load(Some(d));
        }
        let candidates = pipeline_dir
            .map(|p| p.join("../schemas"))
            .into_iter()
            .chain(std::iter::once(PathBuf::from("schemas")));
        for c in candidates {
            if c.join(FILES[1]).is_file() {
                return Self::load(Some(&c));
            }
        }
        Self::load(None)
    }

    pub fn load(dir: Option<&Path>) -> Result<Self> {
        let texts: Vec<String> = match dir {
            Some(d) => FILES
                .iter()
                .map(|f| {
                    let p = d.join(f);
                    std::fs::read_to_string(&p).map_err(|e| MigError::io(p, e))
                })
                .collect::<Result<_>>()?,
            None => EMBEDDED.iter().map(|s| s.to_string()).collect(),
        };
        let mut a = Self::parse(&texts[0], &texts[1], &texts[2])?;
        a.dir = dir.map(Path::to_path_buf);
        Ok(a)
    }

    /// Builds the registry from the texts of the three files, checking that they agree.
    pub fn parse(countries: &str, aggregates: &str, crosswalk: &str) -> Result<Self> {
        let mut a = Areas {
            codes: BTreeMap::new(),
            aggregates: BTreeMap::new(),
            names: BTreeMap::new(),
            hash: fnv_hex(
                [countries, aggregates, crosswalk]
                    .iter()
                    .map(|t| t.as_bytes()),
            ),
            dir: None,
        };
        a.add_countries(countries)?;
        a.add_aggregates(aggregates)?;
        a.add_crosswalk(crosswalk)?;
        Ok(a)
    }

    fn add_countries(&mut self, text: &str) -> Result<()> {
        for (line, r) in rows(FILES[0], text, &["iso3", "name"])? {
            let bad = |m: &str| MigError::Schema(format!("{}:{line}: {m}", FILES[0]));
            let (code, name) = (&r[0], r.get(1).cloned().unwrap_or_default());
            if !is_code(code) {
                return Err(bad(&format!("{code:?} is not a three-letter code")));
            }
            if self
                .codes
                .insert(code.clone(), (AreaKind::Country, name))
                .is_some()
            {
                return Err(bad(&format!("{code} is listed twice")));
            }
        }
        Ok(())
    }

    fn add_aggregates(&mut self, text: &str) -> Result<()> {
        for (line, r) in rows(FILES[1], text, &["code", "name", "kind"])? {
            let bad = |m: String| MigError::Schema(format!("{}:{line}: {m}", FILES[1]));
            let code = &r[0];
            let kind = AreaKind::parse(r.get(2).map_or("", String::as_str))
                .filter(|k| k.is_aggregate())
                .ok_or_else(|| {
                    bad(format!(
                        "{code}: kind must be world, region, income_group or other"
                    ))
                })?;
            if !is_code(code) {
                return Err(bad(format!("{code:?} is not a three-letter code")));
            }
            let name = r.get(1).cloned().unwrap_or_default();
            if self.codes.insert(code.clone(), (kind, name)).is_some() {
                return Err(bad(format!(
                    "{code} is listed twice or is also a country in countries.csv"
                )));
            }
            self.aggregates.insert(code.clone(), kind);
        }
        Ok(())
    }

    fn add_crosswalk(&mut self, text: &str) -> Result<()> {
        for (line, r) in rows(FILES[2], text, &["name", "code", "kind"])? {
            let bad = |m: String| MigError::Schema(format!("{}:{line}: {m}", FILES[2]));
            let name = normalize_name(&r[0]);
            let code = r.get(1).cloned().unwrap_or_default();
            let kind = AreaKind::parse(r.get(2).map_or("", String::as_str))
                .ok_or_else(|| bad(format!("{name:?}: unknown kind")))?;
            if name.is_empty() || !is_code(&code) {
                return Err(bad(format!("{name:?} -> {code:?}: need a name and a code")));
            }
            self.check_crosswalk_code(&name, &code, kind).map_err(bad)?;
            self.codes
                .entry(code.clone())
                .or_insert_with(|| (kind, name.clone()));
            if let Some(old) = self.names.insert(name.clone(), code.clone()) {
                if old != code {
                    return Err(bad(format!("{name:?} maps to both {old} and {code}")));
                }
            }
        }
        Ok(())
    }

    /// A crosswalk row must agree with the code lists: aggregates keep their kind, current
    /// country codes are not historical.
    fn check_crosswalk_code(
        &self,
        name: &str,
        code: &str,
        kind: AreaKind,
    ) -> std::result::Result<(), String> {
        let listed = self.codes.get(code).map(|(k, _)| *k);
        let ok = match kind {
            AreaKind::Country => listed.is_none_or(|k| k == AreaKind::Country),
            AreaKind::Historical => listed.is_none_or(|k| k == AreaKind::Historical),
            _ => self.aggregates.get(code) == Some(&kind),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{name:?} -> {code} ({}) disagrees with {} ({})",
                kind.as_str(),
                if kind.is_aggregate() {
                    FILES[1]
                } else {
                    "the code lists"
                },
                listed.map_or("not listed", AreaKind::as_str)
            ))
        }
    }

    /// The kind of a known code.
    pub fn kind(&self, code: &str) -> Option<AreaKind> {
        self.codes.get(code).map(|(k, _)| *k)
    }

    /// The kind given by `wb_aggregates.csv`, if the code is listed there.
    pub fn aggregate_kind(&self, code: &str) -> Option<AreaKind> {
        self.aggregates.get(code).copied()
    }

    /// The code and kind of a name as written in a file.
    pub fn resolve(&self, name: &str) -> Option<(&str, AreaKind)> {
        let code = self.names.get(&normalize_name(name))?;
        Some((code.as_str(), self.kind(code)?))
    }

    pub fn name(&self, code: &str) -> Option<&str> {
        self.codes.get(code).map(|(_, n)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "iso3,name\nDZA,Algeria\nARE,United Arab Emirates\nSWZ,Eswatini\n";
    const A: &str = "# comment\ncode,name,kind,note\nWLD,World,world,\nXON,Other North,other,x\n";

    #[test]
    fn builtin_files_load_and_resolve_old_spellings() {
        let a = Areas::load(None).expect("built-in schema files");
        for (name, code) in [
            ("Swaziland", "SWZ"),
            ("Macedonia, FYR", "MKD"),
            ("Czech Republic", "CZE"),
            ("Turkey", "TUR"),
            ("Vietnam", "VNM"),
            ("Faeroe Islands", "FRO"),
            ("Algeria", "DZA"),
            ("  Korea, Dem.\u{a0}Rep. ", "PRK"),
        ] {
            assert_eq!(a.resolve(name).map(|r| r.0), Some(code), "{name}");
        }
        assert_eq!(a.resolve("WORLD"), Some(("WLD", AreaKind::World)));
        assert_eq!(a.resolve("Other South"), Some(("XOS", AreaKind::Other)));
        assert_eq!(a.kind("CHI"), Some(AreaKind::Country));
        assert_eq!(a.kind("ANT"), Some(AreaKind::Historical));
        assert_eq!(a.kind("HIC"), Some(AreaKind::IncomeGroup));
        assert_eq!(a.kind("SSF"), Some(AreaKind::Region));
        assert_eq!(a.kind("QQQ"), None);
        assert!(a.resolve("Atlantis").is_none());
    }

    #[test]
    fn a_name_mapped_to_two_codes_is_refused() {
        let x = "name,code,kind\nAlgeria,DZA,country\nAlgeria,ARE,country\n";
        let e = Areas::parse(C, A, x).expect_err("conflict").to_string();
        assert!(
            e.contains("country_crosswalk.csv:3") && e.contains("ARE"),
            "{e}"
        );
    }

    #[test]
    fn crosswalk_kinds_must_agree_with_the_code_lists() {
        let x = "name,code,kind\nWorld,WLD,country\n";
        assert!(Areas::parse(C, A, x).is_err());
        let x = "name,code,kind\nAlgeria,DZA,historical\n";
        assert!(Areas::parse(C, A, x).is_err());
        let x = "name,code,kind\nOther North,XON,other\nNetherlands Antilles,ANT,historical\n";
        let a = Areas::parse(C, A, x).expect("consistent");
        assert_eq!(a.kind("ANT"), Some(AreaKind::Historical));
        let dup = "code,name,kind\nDZA,Algeria,region\n";
        assert!(Areas::parse(C, dup, "name,code,kind\n").is_err());
    }
}
