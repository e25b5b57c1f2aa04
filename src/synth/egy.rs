//! Egypt (synthetic): 2023Q1–Q2; CAPMAS-style names (`hh_no`, `svy_qtr` written `Q1`); sex
//! `M`/`F`; a national education scheme (illiterate … postgraduate); industry as a national
//! 1–21 numbering of ISIC sections; countries as national numeric codes (1 = Egypt, 99 = other).
//! The roster gives absent members' age in groups. Mostly a country of origin towards the Gulf
//! and Jordan; few immigrants (Sudan, Syria).
use csv::ByteRecord;

use super::country::{yes_no, EduLevel, Layout, Profile};
use super::people::{Emigrant, Household, Lf, Person, Sex};
use super::writer::Cells;

const EDU: [EduLevel; 9] = [
    EduLevel {
        code: "1",
        tier: 0,
        young: 12,
        old: 35,
    },
    EduLevel {
        code: "2",
        tier: 0,
        young: 4,
        old: 8,
    },
    EduLevel {
        code: "3",
        tier: 1,
        young: 8,
        old: 10,
    },
    EduLevel {
        code: "4",
        tier: 1,
        young: 10,
        old: 6,
    },
    EduLevel {
        code: "5",
        tier: 2,
        young: 8,
        old: 5,
    },
    EduLevel {
        code: "6",
        tier: 2,
        young: 30,
        old: 18,
    },
    EduLevel {
        code: "7",
        tier: 3,
        young: 5,
        old: 4,
    },
    EduLevel {
        code: "8",
        tier: 3,
        young: 21,
        old: 13,
    },
    EduLevel {
        code: "9",
        tier: 3,
        young: 2,
        old: 1,
    },
];

/// The national country list; anything else is 99 (other).
pub const COUNTRIES: [(&str, i64); 18] = [
    ("EGY", 1),
    ("SAU", 2),
    ("ARE", 3),
    ("KWT", 4),
    ("QAT", 5),
    ("JOR", 6),
    ("LBY", 7),
    ("SDN", 8),
    ("SYR", 9),
    ("YEM", 10),
    ("PSE", 11),
    ("IRQ", 12),
    ("OMN", 13),
    ("BHR", 14),
    ("LBN", 15),
    ("ITA", 16),
    ("USA", 17),
    ("GBR", 18),
];

fn country(iso3: &str) -> i64 {
    COUNTRIES
        .iter()
        .find(|(c, _)| *c == iso3)
        .map(|(_, n)| *n)
        .unwrap_or(99)
}

pub static PROFILE: Profile = Profile {
    iso3: "EGY",
    population: 105_000_000.0,
    periods: [(2023, 1), (2023, 2)],
    hh_size: &[6, 14, 16, 22, 20, 12, 6, 4],
    male_head: 0.85,
    female_lfp: 0.25,
    unemployment: 0.075,
    edu: &EDU,
    //               A   B   C  D  E   F   G  H  I  J  K  L  M  N  O   P  Q  R  S  T  U
    sections_urban: [
        4, 1, 14, 2, 1, 13, 16, 9, 4, 2, 2, 1, 2, 2, 9, 10, 5, 1, 2, 0, 0,
    ],
    sections_rural: [
        40, 1, 10, 1, 1, 14, 10, 6, 2, 0, 0, 0, 1, 1, 4, 6, 2, 0, 1, 0, 0,
    ],
    sections_immigrant: [
        6, 0, 16, 0, 1, 12, 26, 6, 12, 2, 1, 1, 2, 4, 0, 3, 3, 1, 3, 1, 0,
    ],
    employee: 0.68,
    employer: 0.06,
    family: 0.05,
    earnings_median: 4_500.0,
    earnings_unit: 10.0,
    immigrant_hh: 0.005,
    origins: &[
        ("SDN", 40),
        ("SYR", 25),
        ("PSE", 10),
        ("YEM", 10),
        ("LBY", 5),
        ("IRQ", 5),
        ("SSD", 5),
    ],
    naturalised: 0.05,
    jus_soli: false,
    scattered_foreign: 0.003,
    scattered_origins: &[
        ("SAU", 30),
        ("LBY", 20),
        ("KWT", 20),
        ("SDN", 15),
        ("JOR", 15),
    ],
    scattered_citizen: 0.9,
    returnee: 0.04,
    emigrant_hh: 0.09,
    destinations: &[
        ("SAU", 40),
        ("ARE", 15),
        ("KWT", 12),
        ("QAT", 8),
        ("JOR", 8),
        ("LBY", 5),
        ("ITA", 4),
        ("OMN", 3),
        ("USA", 3),
        ("GBR", 2),
    ],
    emigrant_male: 0.9,
    left_to_work: 0.9,
    remit_median: 36_000.0,
    remit_unit: 100.0,
};

pub static LAYOUT: Layout = Layout {
    person_columns: &[
        "hh_no",
        "ind_no",
        "svy_year",
        "svy_qtr",
        "gov_strat",
        "cluster",
        "expansion_factor",
        "gender",
        "age_yrs",
        "educ",
        "wrk_stat",
        "econ_act",
        "occup",
        "emp_status",
        "wage_m",
        "birth_cntry",
        "nationality",
        "arr_yr",
        "ret_abroad",
        "ret_cntry",
        "remit_rcv",
        "remit_egp",
    ],
    person_reps: "repw_",
    person_row,
    roster_columns: &[
        "hh_no",
        "mig_no",
        "svy_year",
        "svy_qtr",
        "gov_strat",
        "cluster",
        "hh_weight",
        "mig_sex",
        "mig_age_grp",
        "res_cntry",
        "dest_cntry",
        "dep_yr",
        "mig_reason",
        "remits",
    ],
    roster_reps: "hrepw_",
    roster_row,
};

fn head(hh: &Household, line: u32, r: &mut ByteRecord) {
    r.text(&format!("{:08}", hh.id));
    r.int(i64::from(line));
    r.int(i64::from(hh.year));
    r.text(&format!("Q{}", hh.quarter));
    r.text(&format!("{:03}", hh.stratum));
    r.int(i64::from(hh.psu));
    r.fixed(hh.weight, 4);
}

fn sex(s: Sex) -> &'static str {
    match s {
        Sex::Male => "M",
        Sex::Female => "F",
    }
}

fn person_row(hh: &Household, p: &Person, r: &mut ByteRecord) {
    head(hh, p.line, r);
    r.text(sex(p.sex));
    r.int(i64::from(p.age));
    r.opt_text(p.edu.map(|i| EDU[i].code));
    r.opt_int(p.lf.map(|l| match l {
        Lf::Employed if p.detail < 4 => 2,
        Lf::Employed => 1,
        Lf::Unemployed => 3,
        Lf::Inactive => 4,
    }));
    let job = p.job.as_ref();
    r.opt_int(job.map(|j| i64::from(j.section) + 1));
    r.opt_int(job.map(|j| i64::from(j.isco)));
    r.opt_int(job.map(|j| match j.status {
        1 => 1,
        2 => 2,
        5 => 4,
        _ => 3,
    }));
    r.opt_fixed(job.and_then(|j| j.earnings), 0);
    r.int(country(p.birth));
    r.int(country(p.citizenship));
    r.opt_int(p.arrival);
    r.opt_int(p.returned.map(yes_no));
    r.opt_int(p.previous.map(country));
    r.int(yes_no(hh.remit));
    r.opt_fixed(hh.remit_amount, 0);
}

/// The roster's age groups: 1 = 15–24, 2 = 25–34, 3 = 35–44, 4 = 45–54, 5 = 55+ (the household
/// left behind seldom knows an absent member's exact age).
fn age_group(age: u32) -> i64 {
    match age {
        0..=24 => 1,
        25..=34 => 2,
        35..=44 => 3,
        45..=54 => 4,
        _ => 5,
    }
}

fn roster_row(hh: &Household, e: &Emigrant, r: &mut ByteRecord) {
    head(hh, e.line, r);
    r.text(sex(e.sex));
    r.int(age_group(e.age));
    r.int(country(e.residence));
    r.int(country(e.destination));
    r.int(e.departure);
    let reason = if e.to_work {
        1
    } else {
        2 + i64::from(e.detail % 3)
    };
    r.int(reason);
    r.int(yes_no(e.sends_money));
}
