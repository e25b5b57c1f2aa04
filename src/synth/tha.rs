//! Thailand (synthetic): 2023Q4–2024Q1; upper-case NSO-style names; a national education scheme
//! (0 none … 9 doctorate); industry as two-digit ISIC divisions (`01`…`99`); employees' pay as a
//! daily wage and days worked in the month; countries as ISO3; the roster lists members who went
//! abroad to work (so it has no reason column). Mostly a country of destination: households of
//! workers from Myanmar, Cambodia and Laos (about 6 % of persons).
use csv::ByteRecord;

use super::country::{sex12, yes_no, EduLevel, Layout, Profile};
use super::people::{Emigrant, Household, Job, Lf, Person};
use super::writer::Cells;

const EDU: [EduLevel; 10] = [
    EduLevel {
        code: "0",
        tier: 0,
        young: 1,
        old: 6,
    },
    EduLevel {
        code: "1",
        tier: 0,
        young: 3,
        old: 25,
    },
    EduLevel {
        code: "2",
        tier: 1,
        young: 12,
        old: 30,
    },
    EduLevel {
        code: "3",
        tier: 1,
        young: 20,
        old: 12,
    },
    EduLevel {
        code: "4",
        tier: 2,
        young: 22,
        old: 8,
    },
    EduLevel {
        code: "5",
        tier: 2,
        young: 8,
        old: 3,
    },
    EduLevel {
        code: "6",
        tier: 3,
        young: 8,
        old: 3,
    },
    EduLevel {
        code: "7",
        tier: 3,
        young: 22,
        old: 10,
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
        young: 1,
        old: 1,
    },
];

pub static PROFILE: Profile = Profile {
    iso3: "THA",
    population: 66_000_000.0,
    periods: [(2023, 4), (2024, 1)],
    hh_size: &[20, 26, 22, 16, 9, 4, 2, 1],
    male_head: 0.62,
    female_lfp: 0.82,
    unemployment: 0.055,
    edu: &EDU,
    //               A   B   C  D  E  F   G  H  I  J  K  L  M  N  O  P  Q  R  S  T  U
    sections_urban: [
        8, 0, 20, 1, 1, 6, 20, 4, 10, 2, 2, 1, 2, 3, 5, 5, 4, 1, 3, 1, 0,
    ],
    sections_rural: [
        45, 0, 12, 0, 0, 6, 12, 2, 5, 0, 0, 0, 0, 1, 4, 4, 2, 1, 2, 0, 0,
    ],
    sections_immigrant: [
        18, 0, 28, 0, 0, 20, 8, 3, 10, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 8, 0,
    ],
    employee: 0.5,
    employer: 0.025,
    family: 0.1,
    earnings_median: 13_000.0,
    earnings_unit: 10.0,
    immigrant_hh: 0.07,
    origins: &[
        ("MMR", 62),
        ("KHM", 18),
        ("LAO", 15),
        ("CHN", 3),
        ("JPN", 1),
        ("IND", 1),
    ],
    naturalised: 0.03,
    jus_soli: false,
    scattered_foreign: 0.003,
    scattered_origins: &[
        ("USA", 25),
        ("JPN", 20),
        ("GBR", 20),
        ("DEU", 15),
        ("CHN", 20),
    ],
    scattered_citizen: 0.4,
    returnee: 0.015,
    emigrant_hh: 0.03,
    destinations: &[
        ("KOR", 25),
        ("TWN", 20),
        ("JPN", 15),
        ("ISR", 15),
        ("SGP", 8),
        ("MYS", 7),
        ("USA", 5),
        ("AUS", 5),
    ],
    emigrant_male: 0.7,
    left_to_work: 1.0,
    remit_median: 45_000.0,
    remit_unit: 100.0,
};

pub static LAYOUT: Layout = Layout {
    person_columns: &[
        "HH_ID",
        "MEMBER",
        "YEAR",
        "QTR",
        "STRATUM",
        "EA",
        "WEIGHT",
        "SEX",
        "AGE",
        "EDUC",
        "LFS",
        "IND_DIV",
        "OCC",
        "WORK_STATUS",
        "WAGE_DAY",
        "DAYS_MTH",
        "BIRTH_CTRY",
        "NATION",
        "ARRIVE_YR",
        "RETURNED",
        "PREV_CTRY",
        "REMIT",
        "REMIT_AMT",
    ],
    person_reps: "REPWT",
    person_row,
    roster_columns: &[
        "HH_ID",
        "ABROAD_NO",
        "R_YEAR",
        "R_QTR",
        "STRATUM",
        "EA",
        "HH_WGT",
        "A_SEX",
        "A_AGE",
        "A_CTRY",
        "A_DEST",
        "A_DEPART",
        "A_SEND",
    ],
    roster_reps: "HREPWT",
    roster_row,
};

fn head(hh: &Household, line: u32, r: &mut ByteRecord) {
    r.int(hh.id as i64);
    r.int(i64::from(line));
    r.int(i64::from(hh.year));
    r.int(i64::from(hh.quarter));
    r.int(i64::from(hh.stratum));
    r.int(i64::from(hh.psu));
    r.fixed(hh.weight, 4);
}

/// `LFS`: 1 employed, 2 unemployed, 3 seasonally inactive, 4 housework, 5 studying,
/// 6 too old or unable, 7 other.
fn lfs(p: &Person) -> Option<i64> {
    p.lf.map(|l| match l {
        Lf::Employed => 1,
        Lf::Unemployed => 2,
        Lf::Inactive if p.detail < 6 => 3,
        Lf::Inactive if p.age < 25 => 5,
        Lf::Inactive if p.age >= 60 => 6,
        Lf::Inactive if p.detail < 70 => 4,
        Lf::Inactive => 7,
    })
}

/// `WORK_STATUS`: 1 employer, 2 government, 3 state enterprise, 4 private employee,
/// 5 own account, 6 contributing family worker, 7 member of a producers' group.
fn work_status(j: &Job, d: u8) -> i64 {
    match (j.status, j.section) {
        (1, 14) => 2,
        (1, 15 | 16) if d < 50 => 2,
        (1, 3 | 4) if d < 60 => 3,
        (1, _) => 4,
        (2, _) => 1,
        (4, _) => 7,
        (5, _) => 6,
        _ => 5,
    }
}

fn person_row(hh: &Household, p: &Person, r: &mut ByteRecord) {
    head(hh, p.line, r);
    r.int(sex12(p.sex));
    r.int(i64::from(p.age));
    r.opt_text(p.edu.map(|i| EDU[i].code));
    r.opt_int(lfs(p));
    let job = p.job.as_ref();
    r.opt_text(job.map(|j| format!("{:02}", j.division)).as_deref());
    r.opt_int(job.map(|j| i64::from(j.isco)));
    r.opt_int(job.map(|j| work_status(j, p.detail)));
    let pay = job.and_then(|j| j.earnings.map(|e| (e, j.days)));
    r.opt_fixed(pay.map(|(e, d)| e / f64::from(d)), 0);
    r.opt_int(pay.map(|(_, d)| i64::from(d)));
    r.text(p.birth);
    r.text(p.citizenship);
    r.opt_int(p.arrival);
    r.opt_int(p.returned.map(yes_no));
    r.opt_text(p.previous);
    r.int(yes_no(hh.remit));
    r.opt_fixed(hh.remit_amount, 0);
}

fn roster_row(hh: &Household, e: &Emigrant, r: &mut ByteRecord) {
    head(hh, e.line, r);
    r.int(sex12(e.sex));
    r.int(i64::from(e.age));
    r.text(e.residence);
    r.text(e.destination);
    r.int(e.departure);
    r.int(yes_no(e.sends_money));
}
