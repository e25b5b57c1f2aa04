//! Code lists (`schemas/codelists.csv`) and the maps between versions of a classification
//! (`schemas/code_maps.csv`): the vocabulary every pipeline recodes into.
use std::collections::{BTreeMap, HashMap};

use crate::error::{MigError, Result};

/// One code of a classification version.
#[derive(Debug, Clone)]
pub struct Code {
    pub code: String,
    pub label: String,
    pub version: String,
    pub total: bool,
    /// Age interval covered (age classifications only).
    pub age: Option<(i64, i64)>,
}

/// A classification dimension (`sex`, `age`, `edu`, …) with all its versions.
#[derive(Debug, Clone, Default)]
pub struct Dimension {
    pub name: String,
    /// Version ids in file order.
    pub versions: Vec<String>,
    /// All codes of all versions; a microdata code column stores indexes into this list.
    pub codes: Vec<Code>,
    index: HashMap<String, u32>,
}

impl Dimension {
    pub fn index_of(&self, code: &str) -> Option<u32> {
        self.index.get(code).copied()
    }

    pub fn code(&self, idx: u32) -> &Code {
        &self.codes[idx as usize]
    }

    /// Codes of one version, in file order.
    pub fn version_codes<'a>(&'a self, version: &'a str) -> impl Iterator<Item = (u32, &'a Code)> {
        self.codes
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.version == version)
            .map(|(i, c)| (i as u32, c))
    }

    /// The total code of a version.
    pub fn total_of(&self, version: &str) -> Option<u32> {
        self.version_codes(version)
            .find(|(_, c)| c.total)
            .map(|(i, _)| i)
    }
}

#[derive(Debug, Clone, Default)]
pub struct CodeLists {
    pub dims: BTreeMap<String, Dimension>,
    /// from code → codes of other versions it belongs to.
    pub maps: HashMap<String, Vec<String>>,
}

impl CodeLists {
    pub fn parse(codelists_csv: &str, maps_csv: &str) -> Result<Self> {
        let mut dims: BTreeMap<String, Dimension> = BTreeMap::new();
        let mut rdr = csv::Reader::from_reader(codelists_csv.as_bytes());
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| MigError::Schema(format!("codelists.csv: {e}")))?;
            let get = |k: usize| rec.get(k).unwrap_or("").to_string();
            let line = i + 2;
            let age = match (get(5).parse::<i64>(), get(6).parse::<i64>()) {
                (Ok(lo), Ok(hi)) => Some((lo, hi)),
                _ => None,
            };
            let code = Code {
                code: get(2),
                label: get(3),
                version: get(1),
                total: get(4) == "true",
                age,
            };
            if code.code.is_empty() || code.version.is_empty() {
                return Err(MigError::Schema(format!(
                    "codelists.csv:{line}: code and version are required"
                )));
            }
            let dim = dims.entry(get(0)).or_insert_with(|| Dimension {
                name: get(0),
                ..Default::default()
            });
            if !dim.versions.contains(&code.version) {
                dim.versions.push(code.version.clone());
            }
            // Frames keep a code in 2 bytes, `u16::MAX` marking a missing one.
            if dim.codes.len() >= usize::from(crate::normalize::NO_CODE) {
                return Err(MigError::Schema(format!(
                    "codelists.csv:{line}: dimension {} has more than {} codes",
                    dim.name,
                    crate::normalize::NO_CODE
                )));
            }
            let idx = dim.codes.len() as u32;
            if dim.index.insert(code.code.clone(), idx).is_some() {
                return Err(MigError::Schema(format!(
                    "codelists.csv:{line}: duplicate code {}",
                    code.code
                )));
            }
            dim.codes.push(code);
        }
        let mut maps: HashMap<String, Vec<String>> = HashMap::new();
        let mut rdr = csv::Reader::from_reader(maps_csv.as_bytes());
        for rec in rdr.records() {
            let rec = rec.map_err(|e| MigError::Schema(format!("code_maps.csv: {e}")))?;
            let (from, to) = (rec.get(0).unwrap_or(""), rec.get(1).unwrap_or(""));
            maps.entry(from.to_string())
                .or_default()
                .push(to.to_string());
        }
        Ok(CodeLists { dims, maps })
    }

    pub fn dim(&self, name: &str) -> Result<&Dimension> {
        self.dims
            .get(name)
            .ok_or_else(|| MigError::Schema(format!("no classification dimension {name:?}")))
    }

    /// The dimension a code belongs to, found by searching every dimension.
    pub fn find(&self, code: &str) -> Option<(&Dimension, u32)> {
        self.dims
            .values()
            .find_map(|d| d.index_of(code).map(|i| (d, i)))
    }

    /// The code of `version` that `code` maps to (itself when it is of that version).
    pub fn map_to(&self, dim: &Dimension, code: u32, version: &str) -> Option<u32> {
        let c = dim.code(code);
        if c.version == version {
            return Some(code);
        }
        self.maps
            .get(&c.code)?
            .iter()
            .filter_map(|t| dim.index_of(t))
            .find(|&t| dim.code(t).version == version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dimension of `n` codes of one version.
    fn list(n: usize) -> String {
        let mut s = String::from("dimension,version,code,label,total,age_lo,age_hi\n");
        for i in 0..n {
            s.push_str(&format!("geo,GEO,GEO_{i},Area {i},false,,\n"));
        }
        s
    }

    #[test]
    fn a_dimension_fits_a_two_byte_code_or_is_refused() {
        let most = usize::from(crate::normalize::NO_CODE);
        let ok = CodeLists::parse(&list(most), "from,to\n").expect("the most codes a frame keeps");
        let geo = ok.dim("geo").expect("geo");
        assert_eq!(geo.codes.len(), most);
        assert_eq!(geo.index_of("GEO_65534"), Some(65_534));
        let err = CodeLists::parse(&list(most + 1), "from,to\n").expect_err("one code too many");
        let msg = err.to_string();
        assert!(
            msg.contains("codelists.csv:65537") && msg.contains("geo") && msg.contains("65535"),
            "{msg}"
        );
    }
}
