//! Ecuador (synthetic): 2023Q2–Q3; ENEMDU-style Spanish names (`sexo`, `edad`, `condact`,
//! `fexp`); sex 1 hombre / 2 mujer; the national education scheme `nivinst` (1 ninguno … 10
//! post-grado); activity condition with its national detail; countries as ISO 3166 numeric codes
//! written with three digits; amounts in US dollars with cents. Mostly a country of origin (Spain,
//! USA, Italy) with Venezuelan and Colombian immigrants.
use csv::ByteRecord;

use super::country::{letter, sex12, yes_no, EduLevel, Layout, Profile};
use super::people::{Emigrant, Household, Job, Lf, Person};
use super::writer::Cells;

const EDU: [EduLevel; 9] = [
    EduLevel {
        code: "1",
        tier: 0,
        young: 2,
        old: 8,
    },
    EduLevel {
        code: "2",
        tier: 0,
        young: 0,
        old: 1,
    },
    EduLevel {
        code: "4",
        tier: 1,
        young: 12,
        old: 35,
    },
    EduLevel {
        code: "5",
        tier: 1,
        young: 18,
        old: 6,
    },
    EduLevel {
        code: "6",
        tier: 2,
        young: 12,
        old: 20,
    },
    EduLevel {
        code: "7",
        tier: 2,
        young: 32,
        old: 8,
    },
    EduLevel {
        code: "8",
        tier: 3,
        young: 3,
        old: 2,
    },
    EduLevel {
        code: "9",
        tier: 3,
        young: 19,
        old: 17,
    },
    EduLevel {
        code: "10",
        tier: 3,
        young: 2,
        old: 3,
    },
];

/// ISO 3166-1 numeric codes of the countries the survey meets.
pub const COUNTRIES: [(&str, &str); 14] = [
    ("ECU", "218"),
    ("VEN", "862"),
    ("COL", "170"),
    ("PER", "604"),
    ("CUB", "192"),
    ("CHN", "156"),
    ("ARG", "032"),
    ("ESP", "724"),
    ("USA", "840"),
    ("ITA", "380"),
    ("CHL", "152"),
    ("DEU", "276"),
    ("GBR", "826"),
    ("FRA", "250"),
];

fn country(iso3: &str) -> &'static str {
    COUNTRIES
        .iter()
        .find(|(c, _)| *c == iso3)
        .map(|(_, n)| *n)
        .unwrap_or("999")
}

pub static PROFILE: Profile = Profile {
    iso3: "ECU",
    population: 18_000_000.0,
    periods: [(2023, 2), (2023, 3)],
    hh_size: &[10, 18, 20, 22, 15, 8, 4, 3],
    male_head: 0.7,
    female_lfp: 0.68,
    unemployment: 0.06,
    edu: &EDU,
    //               A   B   C  D  E  F   G  H  I  J  K  L  M  N  O  P  Q  R  S  T  U
    sections_urban: [
        6, 1, 11, 1, 1, 7, 22, 7, 7, 2, 2, 1, 3, 3, 5, 6, 4, 1, 4, 3, 0,
    ],
    sections_rural: [
        55, 1, 7, 0, 0, 6, 10, 4, 3, 0, 0, 0, 0, 1, 2, 4, 2, 0, 2, 2, 0,
    ],
    sections_immigrant: [
        5, 0, 10, 0, 0, 10, 34, 6, 16, 2, 1, 0, 2, 4, 0, 2, 3, 1, 2, 2, 0,
    ],
    employee: 0.52,
    employer: 0.03,
    family: 0.06,
    earnings_median: 480.0,
    earnings_unit: 0.01,
    immigrant_hh: 0.025,
    origins: &[
        ("VEN", 60),
        ("COL", 25),
        ("PER", 8),
        ("CUB", 4),
        ("CHN", 2),
        ("ARG", 1),
    ],
    naturalised: 0.15,
    jus_soli: true,
    scattered_foreign: 0.006,
    scattered_origins: &[
        ("ESP", 35),
        ("USA", 25),
        ("COL", 20),
        ("ITA", 10),
        ("VEN", 10),
    ],
    scattered_citizen: 0.8,
    returnee: 0.03,
    emigrant_hh: 0.08,
    destinations: &[
        ("ESP", 45),
        ("USA", 35),
        ("ITA", 12),
        ("CHL", 3),
        ("DEU", 2),
        ("GBR", 2),
        ("FRA", 1),
    ],
    emigrant_male: 0.55,
    left_to_work: 0.7,
    remit_median: 2_400.0,
    remit_unit: 10.0,
};

pub static LAYOUT: Layout = Layout {
    person_columns: &[
        "id_hogar",
        "persona",
        "anio",
        "trimestre",
        "estrato",
        "upm",
        "fexp",
        "sexo",
        "edad",
        "nivinst",
        "condact",
        "rama",
        "grupo",
        "categ",
        "ingrl",
        "lugar_nac",
        "pais_nac",
        "nacionalidad",
        "anio_llegada",
        "retorno",
        "pais_ant",
        "remesas",
        "monto_remesas",
    ],
    person_reps: "fexp_r",
    person_row,
    roster_columns: &[
        "id_hogar",
        "num_migrante",
        "anio",
        "trimestre",
        "estrato",
        "upm",
        "fexp",
        "sexo_m",
        "edad_m",
        "pais_res",
        "pais_dest",
        "anio_salida",
        "motivo",
        "envia_dinero",
    ],
    roster_reps: "fexp_r",
    roster_row,
};

fn head(hh: &Household, line: u32, r: &mut ByteRecord) {
    r.text(&format!("{:010}", hh.id));
    r.int(i64::from(line));
    r.int(i64::from(hh.year));
    r.int(i64::from(hh.quarter));
    r.int(i64::from(hh.stratum));
    r.int(i64::from(hh.psu));
    r.fixed(hh.weight, 4);
}

/// `condact`: 1 adequate, 2 underemployed, 3 other not full, 4 unpaid, 5 not classified
/// employment; 6 open, 7 hidden unemployment; 8 outside the labour force.
fn condact(p: &Person) -> Option<i64> {
    let d = p.detail;
    p.lf.map(|l| match l {
        Lf::Employed if p.job.is_some_and(|j| j.status == 5) => 4,
        Lf::Employed if d < 50 => 1,
        Lf::Employed if d < 72 => 2,
        Lf::Employed if d < 98 => 3,
        Lf::Employed => 5,
        Lf::Unemployed if d < 85 => 6,
        Lf::Unemployed => 7,
        Lf::Inactive => 8,
    })
}

/// `categ`: 1 government, 2 private, 3 outsourced employee, 4 day labourer, 5 employer,
/// 6 own account, 7–9 unpaid workers, 10 domestic employee.
fn categ(j: &Job, d: u8) -> i64 {
    match (j.status, j.section) {
        (1, 14) => 1,
        (1, 19) => 10,
        (1, 0) if d < 50 => 4,
        (1, _) if d < 5 => 3,
        (1, _) => 2,
        (2, _) => 5,
        (5, _) => 7 + i64::from(d % 3),
        _ => 6,
    }
}

fn person_row(hh: &Household, p: &Person, r: &mut ByteRecord) {
    head(hh, p.line, r);
    r.int(sex12(p.sex));
    r.int(i64::from(p.age));
    r.opt_text(p.edu.map(|i| EDU[i].code));
    r.opt_int(condact(p));
    let job = p.job.as_ref();
    r.opt_text(job.map(|j| letter(j.section)));
    r.opt_int(job.map(|j| i64::from(j.isco)));
    r.opt_int(job.map(|j| categ(j, p.detail)));
    r.opt_fixed(job.and_then(|j| j.earnings), 2);
    r.int(if p.foreign_born { 2 } else { 1 });
    r.opt_text(p.foreign_born.then(|| country(p.birth)));
    r.text(country(p.citizenship));
    r.opt_int(p.arrival);
    r.opt_int(p.returned.map(yes_no));
    r.opt_text(p.previous.map(country));
    r.int(yes_no(hh.remit));
    r.opt_fixed(hh.remit_amount, 2);
}

fn roster_row(hh: &Household, e: &Emigrant, r: &mut ByteRecord) {
    head(hh, e.line, r);
    r.int(sex12(e.sex));
    r.int(i64::from(e.age));
    r.text(country(e.residence));
    r.text(country(e.destination));
    r.int(e.departure);
    let reason = if e.to_work {
        1
    } else {
        2 + i64::from(e.detail % 3)
    };
    r.int(reason);
    r.int(yes_no(e.sends_money));
}
