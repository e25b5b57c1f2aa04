//! Education, labour-force status and the main job of persons of working age (15+): activity
//! by age and sex, unemployment, ISIC section and division, ISCO-08 major group, status in
//! employment and employees' monthly earnings. Persons under 15 get none of these.
use super::country::Profile;
use super::people::{round_to, Job, Lf, Person, Place, Sex};
use super::rng::Rng;

/// Lower bound of working age.
pub const WORKING_AGE: u32 = 15;

/// ISIC Rev.4 divisions of each section A…U.
const DIVISIONS: [&[u8]; 21] = [
    &[1, 2, 3],
    &[5, 6, 7, 8, 9],
    &[10, 11, 13, 14, 16, 20, 22, 25, 28, 31],
    &[35],
    &[36, 37, 38, 39],
    &[41, 42, 43],
    &[45, 46, 47],
    &[49, 50, 51, 52, 53],
    &[55, 56],
    &[58, 61, 62, 63],
    &[64, 65, 66],
    &[68],
    &[69, 70, 71, 73, 75],
    &[77, 78, 79, 80, 81, 82],
    &[84],
    &[85],
    &[86, 87, 88],
    &[90, 91, 92, 93],
    &[94, 95, 96],
    &[97, 98],
    &[99],
];

/// ISCO-08 major groups by section: `(group, weight)`.
fn occupations(section: u8) -> &'static [(u8, u32)] {
    match section {
        0 => &[(6, 70), (9, 25), (1, 1), (3, 2), (8, 2)],
        1 => &[(8, 40), (7, 25), (9, 20), (3, 10), (2, 5)],
        2 => &[(7, 35), (8, 35), (9, 15), (3, 8), (1, 3), (2, 4)],
        3 | 4 => &[(3, 30), (7, 25), (8, 20), (2, 15), (9, 10)],
        5 => &[(7, 55), (9, 30), (8, 8), (3, 4), (2, 3)],
        6 => &[(5, 65), (4, 10), (1, 8), (9, 10), (3, 7)],
        7 => &[(8, 55), (4, 15), (9, 15), (3, 10), (1, 5)],
        8 => &[(5, 65), (9, 20), (1, 10), (4, 5)],
        9 | 10 | 12 => &[(2, 40), (3, 30), (4, 20), (1, 10)],
        11 => &[(3, 40), (4, 30), (1, 20), (9, 10)],
        13 => &[(9, 35), (4, 25), (5, 25), (3, 15)],
        14 => &[(2, 20), (3, 25), (4, 30), (0, 15), (1, 10)],
        15 => &[(2, 75), (3, 10), (4, 5), (9, 10)],
        16 => &[(2, 40), (3, 35), (5, 15), (9, 10)],
        19 => &[(9, 80), (5, 20)],
        20 => &[(2, 40), (4, 40), (3, 20)],
        _ => &[(5, 40), (3, 20), (7, 20), (9, 20)],
    }
}

/// Earnings relative to the median by education tier and by ISCO major group.
const TIER_PAY: [f64; 4] = [0.7, 0.85, 1.0, 1.45];
const ISCO_PAY: [f64; 10] = [1.1, 1.9, 1.5, 1.2, 1.0, 0.85, 0.7, 0.95, 0.95, 0.7];

/// Fills education, labour-force status and job of a person aged 15+.
pub fn fill(rng: &mut Rng, place: &Place, immigrant: bool, p: &mut Person) {
    if p.age < WORKING_AGE {
        return;
    }
    let pr = place.profile;
    let edu = education(rng, pr, p.age);
    p.edu = Some(edu);
    let tier = pr.edu[edu].tier;
    let mut active = participation(p.age, p.sex, pr.female_lfp);
    if immigrant {
        active = (active * 1.15).min(0.97);
    }
    if !rng.chance(active) {
        p.lf = Some(Lf::Inactive);
        return;
    }
    let youth = if p.age < 25 { 2.2 } else { 0.8 };
    if rng.chance(pr.unemployment * youth) {
        p.lf = Some(Lf::Unemployed);
        return;
    }
    p.lf = Some(Lf::Employed);
    p.job = Some(job(rng, place, immigrant, tier, p.sex));
}

/// An education level, drawn from the weights of the person's cohort; nobody under 21 has
/// completed an advanced level.
fn education(rng: &mut Rng, pr: &Profile, age: u32) -> usize {
    let weights: Vec<u32> = pr
        .edu
        .iter()
        .map(|e| {
            if age < 21 && e.tier == 3 {
                0
            } else if age < 45 {
                e.young
            } else {
                e.old
            }
        })
        .collect();
    rng.pick(&weights)
}

/// Probability of being in the labour force by age and sex.
fn participation(age: u32, sex: Sex, female: f64) -> f64 {
    let male = match age {
        0..=19 => 0.25,
        20..=24 => 0.7,
        25..=54 => 0.93,
        55..=64 => 0.75,
        65..=74 => 0.35,
        _ => 0.1,
    };
    match sex {
        Sex::Male => male,
        Sex::Female => male * female,
    }
}

fn job(rng: &mut Rng, place: &Place, immigrant: bool, tier: u8, sex: Sex) -> Job {
    let pr = place.profile;
    let table = if immigrant {
        &pr.sections_immigrant
    } else if place.urban {
        &pr.sections_urban
    } else {
        &pr.sections_rural
    };
    let section = rng.pick(table) as u8;
    let divisions = DIVISIONS[section as usize];
    let division = divisions[rng.below(divisions.len() as u64) as usize];
    let status = status(rng, pr, section);
    let mut isco = rng.pick_from(occupations(section));
    if tier == 3 && isco >= 4 && rng.chance(0.5) {
        isco = if rng.chance(0.5) { 2 } else { 3 };
    } else if tier <= 1 && (1..=3).contains(&isco) && rng.chance(0.6) {
        isco = 9;
    }
    if status != 1 && isco == 0 {
        isco = 5;
    }
    let earnings = (status == 1).then(|| {
        let sex_gap = if sex == Sex::Female { 0.85 } else { 1.0 };
        let migrant_gap = if immigrant { 0.75 } else { 1.0 };
        let x = pr.earnings_median
            * TIER_PAY[tier as usize]
            * ISCO_PAY[isco as usize]
            * sex_gap
            * migrant_gap
            * rng.lognormal(0.45);
        round_to(x, pr.earnings_unit).max(pr.earnings_unit)
    });
    Job {
        section,
        division,
        isco,
        status,
        earnings,
        days: 22 + rng.below(9) as u8,
    }
}

/// Status in employment (ICSE-93 code); agriculture has more own-account and family work, the
/// public and financial sections almost only employees.
fn status(rng: &mut Rng, pr: &Profile, section: u8) -> u8 {
    let (employee, employer, family) = match section {
        0 => (0.3, 0.02, 0.3),
        3 | 4 | 10 | 14 | 15 | 16 | 20 => (0.95, 0.01, 0.0),
        19 => (1.0, 0.0, 0.0),
        _ => (pr.employee, pr.employer, pr.family),
    };
    let x = rng.f64();
    if x < employee {
        1
    } else if x < employee + employer {
        2
    } else if x < employee + employer + family {
        5
    } else if rng.chance(0.03) {
        4
    } else {
        3
    }
}
