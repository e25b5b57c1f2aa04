//! Armenia (synthetic): 2023Q3–Q4; lower-case English column names; education as ISCED 2011
//! levels, industry as ISIC section letters, countries as ISO3; remittances in thousand AMD.
//! Mostly a country of origin: many households with members in Russia, some in the USA and
//! France; a few immigrants (Syrian and Iranian Armenians) and many born in other former Soviet
//! republics.
use csv::ByteRecord;

use super::country::{letter, sex12, yes_no, EduLevel, Layout, Profile};
use super::people::{Emigrant, Household, Lf, Person};
use super::writer::Cells;

const EDU: [EduLevel; 9] = [
    EduLevel {
        code: "0",
        tier: 0,
        young: 1,
        old: 2,
    },
    EduLevel {
        code: "1",
        tier: 1,
        young: 1,
        old: 3,
    },
    EduLevel {
        code: "2",
        tier: 1,
        young: 6,
        old: 10,
    },
    EduLevel {
        code: "3",
        tier: 2,
        young: 38,
        old: 42,
    },
    EduLevel {
        code: "4",
        tier: 2,
        young: 14,
        old: 16,
    },
    EduLevel {
        code: "5",
        tier: 3,
        young: 4,
        old: 3,
    },
    EduLevel {
        code: "6",
        tier: 3,
        young: 22,
        old: 16,
    },
    EduLevel {
        code: "7",
        tier: 3,
        young: 12,
        old: 8,
    },
    EduLevel {
        code: "8",
        tier: 3,
        young: 2,
        old: 1,
    },
];

pub static PROFILE: Profile = Profile {
    iso3: "ARM",
    population: 2_990_000.0,
    periods: [(2023, 3), (2023, 4)],
    hh_size: &[14, 20, 18, 20, 14, 8, 4, 2],
    male_head: 0.68,
    female_lfp: 0.72,
    unemployment: 0.12,
    edu: &EDU,
    //               A   B   C  D  E  F   G  H  I  J  K  L  M  N  O   P  Q  R  S  T  U
    sections_urban: [
        3, 1, 12, 2, 1, 8, 16, 6, 4, 4, 3, 1, 3, 2, 8, 11, 7, 2, 3, 1, 0,
    ],
    sections_rural: [
        45, 2, 7, 1, 1, 7, 9, 3, 2, 1, 1, 0, 1, 1, 4, 8, 4, 1, 2, 0, 0,
    ],
    sections_immigrant: [
        4, 0, 14, 0, 1, 10, 24, 6, 14, 4, 2, 1, 4, 3, 1, 5, 4, 1, 2, 0, 0,
    ],
    employee: 0.62,
    employer: 0.03,
    family: 0.04,
    earnings_median: 220_000.0,
    earnings_unit: 1_000.0,
    immigrant_hh: 0.006,
    origins: &[
        ("SYR", 35),
        ("RUS", 25),
        ("IRN", 20),
        ("IRQ", 10),
        ("UKR", 10),
    ],
    naturalised: 0.6,
    jus_soli: false,
    scattered_foreign: 0.025,
    scattered_origins: &[
        ("GEO", 30),
        ("AZE", 25),
        ("RUS", 25),
        ("UKR", 10),
        ("SYR", 5),
        ("IRN", 5),
    ],
    scattered_citizen: 0.9,
    returnee: 0.06,
    emigrant_hh: 0.2,
    destinations: &[
        ("RUS", 75),
        ("USA", 8),
        ("FRA", 5),
        ("DEU", 3),
        ("UKR", 3),
        ("KAZ", 2),
        ("POL", 2),
        ("GEO", 2),
    ],
    emigrant_male: 0.82,
    left_to_work: 0.85,
    remit_median: 850_000.0,
    remit_unit: 10_000.0,
};

pub static LAYOUT: Layout = Layout {
    person_columns: &[
        "hhid",
        "mem",
        "year",
        "quarter",
        "strat",
        "psu",
        "wgt",
        "sex",
        "age",
        "isced",
        "lfstat",
        "isic",
        "isco",
        "empstat",
        "wage",
        "born_arm",
        "birth_country",
        "citizenship",
        "citizenship_country",
        "arrival_year",
        "returned",
        "prev_country",
        "remit",
        "remit_amt",
    ],
    person_reps: "rw",
    person_row,
    roster_columns: &[
        "hhid",
        "line",
        "year",
        "quarter",
        "strat",
        "psu",
        "wgt",
        "sex",
        "age",
        "country",
        "first_country",
        "dep_year",
        "work_abroad",
        "sends_money",
    ],
    roster_reps: "rw",
    roster_row,
};

fn design(hh: &Household, r: &mut ByteRecord) {
    r.int(i64::from(hh.year));
    r.int(i64::from(hh.quarter));
    r.int(i64::from(hh.stratum));
    r.int(i64::from(hh.psu));
    r.fixed(hh.weight, 4);
}

fn person_row(hh: &Household, p: &Person, r: &mut ByteRecord) {
    r.int(hh.id as i64);
    r.int(i64::from(p.line));
    design(hh, r);
    r.int(sex12(p.sex));
    r.int(i64::from(p.age));
    r.opt_text(p.edu.map(|i| EDU[i].code));
    r.opt_int(p.lf.map(|l| match l {
        Lf::Employed => 1,
        Lf::Unemployed => 2,
        Lf::Inactive => 3,
    }));
    let job = p.job.as_ref();
    r.opt_text(job.map(|j| letter(j.section)));
    r.opt_int(job.map(|j| i64::from(j.isco)));
    r.opt_int(job.map(|j| i64::from(j.status)));
    r.opt_fixed(job.and_then(|j| j.earnings), 0);
    r.int(yes_no(!p.foreign_born));
    r.opt_text(p.foreign_born.then_some(p.birth));
    let citizenship = if p.citizenship != PROFILE.iso3 {
        3
    } else if p.dual {
        2
    } else {
        1
    };
    r.int(citizenship);
    r.opt_text((citizenship == 3).then_some(p.citizenship));
    r.opt_int(p.arrival);
    r.opt_int(p.returned.map(yes_no));
    r.opt_text(p.previous);
    r.int(yes_no(hh.remit));
    r.opt_fixed(hh.remit_amount.map(|a| a / 1000.0), 0);
}

fn roster_row(hh: &Household, e: &Emigrant, r: &mut ByteRecord) {
    r.int(hh.id as i64);
    r.int(i64::from(e.line));
    design(hh, r);
    r.int(sex12(e.sex));
    r.int(i64::from(e.age));
    r.text(e.residence);
    r.text(e.destination);
    r.int(e.departure);
    r.int(yes_no(e.to_work));
    r.int(yes_no(e.sends_money));
}
