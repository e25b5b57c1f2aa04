//! Country profiles: what differs between the four ILO pilot countries' synthetic surveys —
//! population, periods, household sizes, labour-market and migration distributions — and the
//! dispatch to each country's own file layout (column names and code scheme, in `arm.rs`,
//! `egy.rs`, `ecu.rs`, `tha.rs`).
use csv::ByteRecord;

use super::people::{Emigrant, Household, Person, Sex};
use super::{arm, ecu, egy, tha};

/// One national education level: the code written, its tier (0 less than basic, 1 basic,
/// 2 intermediate, 3 advanced) and its weight among persons aged 15–44 and 45+.
#[derive(Debug, Clone, Copy)]
pub struct EduLevel {
    pub code: &'static str,
    pub tier: u8,
    pub young: u32,
    pub old: u32,
}

/// The distributions of one country. Shares are probabilities; tables are `(value, weight)`.
#[derive(Debug)]
pub struct Profile {
    pub iso3: &'static str,
    /// Persons represented each quarter (the weights of a quarter add up to about this).
    pub population: f64,
    /// The two consecutive quarters, `(year, quarter)`.
    pub periods: [(u16, u8); 2],
    /// Weights of household sizes 1, 2, 3, …
    pub hh_size: &'static [u32],
    pub male_head: f64,
    /// Female participation relative to male.
    pub female_lfp: f64,
    /// Working-age unemployment rate aimed at.
    pub unemployment: f64,
    pub edu: &'static [EduLevel],
    /// Weights of ISIC Rev.4 sections A…U in urban and rural strata, and for immigrants.
    pub sections_urban: [u32; 21],
    pub sections_rural: [u32; 21],
    pub sections_immigrant: [u32; 21],
    /// Status shares outside agriculture: employees, employers, contributing family workers
    /// (own-account workers are the rest).
    pub employee: f64,
    pub employer: f64,
    pub family: f64,
    /// Median monthly earnings of employees, local currency, and the rounding unit.
    pub earnings_median: f64,
    pub earnings_unit: f64,
    /// Households of immigrants, their origins, and whether immigrants naturalise.
    pub immigrant_hh: f64,
    pub origins: &'static [(&'static str, u32)],
    pub naturalised: f64,
    /// Children born in the country to foreign parents are citizens.
    pub jus_soli: bool,
    /// Adults of native households born abroad (ethnic returnees, spouses).
    pub scattered_foreign: f64,
    pub scattered_origins: &'static [(&'static str, u32)],
    pub scattered_citizen: f64,
    /// Adults who lived abroad and came back.
    pub returnee: f64,
    /// Households with members abroad, where they live, and who they are.
    pub emigrant_hh: f64,
    pub destinations: &'static [(&'static str, u32)],
    pub emigrant_male: f64,
    pub left_to_work: f64,
    /// Median remittances received in the last 12 months, local currency, and rounding unit.
    pub remit_median: f64,
    pub remit_unit: f64,
}

/// A pilot country of the ILO labour-migration module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Country {
    Arm,
    Egy,
    Ecu,
    Tha,
}

impl Country {
    pub const ALL: [Country; 4] = [Country::Arm, Country::Egy, Country::Ecu, Country::Tha];

    pub fn profile(self) -> &'static Profile {
        match self {
            Country::Arm => &arm::PROFILE,
            Country::Egy => &egy::PROFILE,
            Country::Ecu => &ecu::PROFILE,
            Country::Tha => &tha::PROFILE,
        }
    }

    pub fn iso3(self) -> &'static str {
        self.profile().iso3
    }

    /// The country's element in RNG stream paths.
    pub fn tag(self) -> u64 {
        self as u64 + 1
    }

    /// File name stem: `arm_lfs_synth`.
    pub fn stem(self) -> String {
        format!("{}_lfs_synth", self.iso3().to_ascii_lowercase())
    }

    pub fn layout(self) -> &'static Layout {
        match self {
            Country::Arm => &arm::LAYOUT,
            Country::Egy => &egy::LAYOUT,
            Country::Ecu => &ecu::LAYOUT,
            Country::Tha => &tha::LAYOUT,
        }
    }
}

/// Writes one person of a household (all columns but the replicate weights).
pub type PersonRow = fn(&Household, &Person, &mut ByteRecord);
/// Writes one member abroad (all columns but the replicate weights).
pub type RosterRow = fn(&Household, &Emigrant, &mut ByteRecord);

/// A country's file layout: headers, replicate-weight prefixes and row writers.
pub struct Layout {
    pub person_columns: &'static [&'static str],
    pub person_reps: &'static str,
    pub person_row: PersonRow,
    pub roster_columns: &'static [&'static str],
    pub roster_reps: &'static str,
    pub roster_row: RosterRow,
}

/// A header: the named columns then `prefix1…prefixR`.
pub fn header(columns: &[&str], prefix: &str, reps: u32) -> ByteRecord {
    let mut h = ByteRecord::new();
    for c in columns {
        h.push_field(c.as_bytes());
    }
    for r in 1..=reps {
        h.push_field(format!("{prefix}{r}").as_bytes());
    }
    h
}

/// ISIC Rev.4 section letter of section index 0…20.
pub fn letter(section: u8) -> &'static str {
    const LETTERS: [&str; 21] = [
        "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R",
        "S", "T", "U",
    ];
    LETTERS[section.min(20) as usize]
}

/// The usual 1 = yes, 2 = no.
pub fn yes_no(b: bool) -> i64 {
    if b {
        1
    } else {
        2
    }
}

/// The usual 1 = male, 2 = female.
pub fn sex12(s: Sex) -> i64 {
    match s {
        Sex::Male => 1,
        Sex::Female => 2,
    }
}
