//! The shared migration-statistics schema, loaded from data: record layouts, code lists, the
//! indicator catalogue and migstat's note codes. A `schemas/` folder found at run time wins over
//! the copy built into the binary, so a statistical office can extend the catalogue without a build.
pub mod catalogue;
pub mod codelists;
pub mod record;

use std::path::{Path, PathBuf};

pub use catalogue::{Catalogue, Indicator, Kind};
pub use codelists::{CodeLists, Dimension};
pub use record::{FieldDef, FieldType, RecordSchema};

use crate::error::{MigError, Result};

const FILES: [&str; 6] = [
    "person.toml",
    "emigrant.toml",
    "codelists.csv",
    "code_maps.csv",
    "indicators.toml",
    "notes.csv",
];

const EMBEDDED: [&str; 6] = [
    include_str!("../../schemas/person.toml"),
    include_str!("../../schemas/emigrant.toml"),
    include_str!("../../schemas/codelists.csv"),
    include_str!("../../schemas/code_maps.csv"),
    include_str!("../../schemas/indicators.toml"),
    include_str!("../../schemas/notes.csv"),
];

#[derive(Debug, Clone)]
pub struct Note {
    pub code: String,
    pub column: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Schema {
    pub person: RecordSchema,
    pub emigrant: RecordSchema,
    pub codes: CodeLists,
    pub catalogue: Catalogue,
    pub notes: Vec<Note>,
    /// Where it was read from (`None` = the copy built into the binary).
    pub dir: Option<PathBuf>,
    /// FNV-1a hash over the schema files' bytes, for run manifests and change detection.
    pub hash: String,
}

impl Schema {
    /// Loads the schema from `dir`, or the built-in copy when `dir` is `None`.
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
        let person = RecordSchema::parse("person.toml", &texts[0])?;
        let emigrant = RecordSchema::parse("emigrant.toml", &texts[1])?;
        let codes = CodeLists::parse(&texts[2], &texts[3])?;
        let catalogue = Catalogue::parse(&texts[4])?;
        let notes = parse_notes(&texts[5])?;
        let hash = fnv_hex(texts.iter().map(|t| t.as_bytes()));
        let schema = Schema {
            person,
            emigrant,
            codes,
            catalogue,
            notes,
            dir: dir.map(Path::to_path_buf),
            hash,
        };
        schema.check()?;
        Ok(schema)
    }

    /// The schema folder for a pipeline: `--schemas`, else `<pipeline dir>/../schemas`, else
    /// `./schemas`, else the built-in copy.
    pub fn locate(explicit: Option<&Path>, pipeline_dir: Option<&Path>) -> Result<Self> {
        if let Some(d) = explicit {
            return Self::load(Some(d));
        }
        let candidates = pipeline_dir
            .map(|p| p.join("../schemas"))
            .into_iter()
            .chain(std::iter::once(PathBuf::from("schemas")));
        for c in candidates {
            if c.join("indicators.toml").is_file() {
                return Self::load(Some(&c));
            }
        }
        Self::load(None)
    }

    pub fn record(&self, name: &str) -> &RecordSchema {
        if name == "emigrant" {
            &self.emigrant
        } else {
            &self.person
        }
    }

    fn check(&self) -> Result<()> {
        for rec in [&self.person, &self.emigrant] {
            for f in &rec.field {
                if let Some(d) = &f.dimension {
                    self.codes.dim(d)?;
                }
            }
        }
        for ind in &self.catalogue.indicator {
            for d in [&ind.classif1, &ind.classif2].into_iter().flatten() {
                self.codes.dim(d)?;
            }
        }
        Ok(())
    }
}

fn parse_notes(text: &str) -> Result<Vec<Note>> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    rdr.records()
        .map(|r| {
            let r = r.map_err(|e| MigError::Schema(format!("notes.csv: {e}")))?;
            Ok(Note {
                code: r.get(0).unwrap_or("").into(),
                column: r.get(1).unwrap_or("").into(),
                text: r.get(2).unwrap_or("").into(),
            })
        })
        .collect()
}

/// 64-bit FNV-1a over several byte strings (each followed by a separator), as hex.
pub fn fnv_hex<'a>(parts: impl Iterator<Item = &'a [u8]>) -> String {
    let mut h = Fnv::default();
    for p in parts {
        h.add(p);
        h.end_part();
    }
    h.hex()
}

/// [`fnv_hex`] fed in pieces: `add` the bytes of a part in any number of calls, then
/// `end_part`.
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf29ce484222325)
    }
}

impl Fnv {
    pub fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
    }

    pub fn end_part(&mut self) {
        self.add(&[0xff]);
    }

    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}
