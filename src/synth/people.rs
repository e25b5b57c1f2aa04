//! The household model shared by all countries: who lives in a household, their labour-force
//! situation, where they were born, and the members living abroad. Values are abstract (ISIC
//! section index, ISCO major group, ICSE-93 status, ISO3 countries); each country's layout turns
//! them into its own codes.
use super::country::Profile;
use super::labour;
use super::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lf {
    Employed,
    Unemployed,
    Inactive,
}

/// The main job of an employed person.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// ISIC Rev.4 section, 0 = A … 20 = U.
    pub section: u8,
    /// ISIC Rev.4 division (two digits) within the section.
    pub division: u8,
    /// ISCO-08 major group 0–9.
    pub isco: u8,
    /// ICSE-93: 1 employee, 2 employer, 3 own-account, 4 cooperative member, 5 family worker.
    pub status: u8,
    /// Monthly earnings (employees only), local currency, already rounded.
    pub earnings: Option<f64>,
    /// Days worked in the month (employees).
    pub days: u8,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub line: u32,
    pub sex: Sex,
    pub age: u32,
    /// Index into the profile's education levels (persons aged 15+).
    pub edu: Option<usize>,
    pub lf: Option<Lf>,
    pub job: Option<Job>,
    pub foreign_born: bool,
    /// Country of birth (ISO3).
    pub birth: &'static str,
    /// Country of citizenship (ISO3) and whether a foreign-born citizen keeps a second one.
    pub citizenship: &'static str,
    pub dual: bool,
    pub arrival: Option<i64>,
    pub returned: Option<bool>,
    pub previous: Option<&'static str>,
    /// A uniform 0–99 that layouts use to split their national categories.
    pub detail: u8,
}

/// A household member living abroad.
#[derive(Debug, Clone)]
pub struct Emigrant {
    pub line: u32,
    pub sex: Sex,
    pub age: u32,
    pub residence: &'static str,
    pub destination: &'static str,
    pub departure: i64,
    pub to_work: bool,
    pub sends_money: bool,
    pub detail: u8,
}

/// One sampled household with its design values.
#[derive(Debug, Clone, Default)]
pub struct Household {
    pub id: u64,
    pub year: u16,
    pub quarter: u8,
    /// Stratum and PSU, numbered from 1 (PSUs within their stratum).
    pub stratum: u32,
    pub psu: u32,
    pub weight: f64,
    pub members: Vec<Person>,
    pub abroad: Vec<Emigrant>,
    pub remit: bool,
    pub remit_amount: Option<f64>,
}

/// What the place adds: the country, the year, urban or rural, and local migration intensity.
pub struct Place<'a> {
    pub profile: &'a Profile,
    pub year: i64,
    pub urban: bool,
    pub migration: f64,
}

/// Fills `hh.members`, `hh.abroad` and the remittances for a household of at most `max_size`.
pub fn fill_household(rng: &mut Rng, place: &Place, max_size: u64, hh: &mut Household) {
    let pr = place.profile;
    let size = (1 + rng.pick(pr.hh_size) as u64).min(max_size.max(1)) as usize;
    hh.members.clear();
    hh.abroad.clear();
    let ages = member_ages(rng, pr, size);
    let immigrant = rng.chance(pr.immigrant_hh * place.migration);
    let origin = rng.pick_from(pr.origins);
    let head_age = i64::from(ages[0].1);
    let arrived = place.year - rng.range(0, (head_age - 16).clamp(0, 25));
    for (i, &(sex, age)) in ages.iter().enumerate() {
        let mut p = native(rng, pr, i as u32 + 1, sex, age);
        if immigrant {
            let arrival = Arrival {
                from: origin,
                year: arrived,
                citizen: pr.naturalised,
            };
            immigrate(rng, pr, place.year, arrival, &mut p);
        } else if age >= 15 && rng.chance(pr.scattered_foreign) {
            let from = rng.pick_from(pr.scattered_origins);
            let born = place.year - i64::from(age);
            let year = rng.range(born, place.year);
            let arrival = Arrival {
                from,
                year,
                citizen: pr.scattered_citizen,
            };
            immigrate(rng, pr, place.year, arrival, &mut p);
        }
        labour::fill(rng, place, immigrant, &mut p);
        returnee(rng, place, &mut p);
        hh.members.push(p);
    }
    if !immigrant && rng.chance(pr.emigrant_hh * place.migration) {
        emigrants(rng, place, hh);
    }
    remittances(rng, pr, hh);
}

/// Sexes and ages of a household: a head, often a spouse, children, sometimes a parent.
fn member_ages(rng: &mut Rng, pr: &Profile, size: usize) -> Vec<(Sex, u32)> {
    let head_sex = if rng.chance(pr.male_head) {
        Sex::Male
    } else {
        Sex::Female
    };
    let head = 20 + rng.range(0, 30) + rng.range(0, 30);
    let mut out = vec![(head_sex, head as u32)];
    for i in 1..size {
        let (sex, age) = if i == 1 && rng.chance(0.78) {
            let gap = rng.range(-2, 7);
            let age = if head_sex == Sex::Male {
                head - gap
            } else {
                head + gap
            };
            (other(head_sex), age.clamp(18, 90))
        } else if rng.chance(0.06) && head <= 66 {
            (any_sex(rng), (head + rng.range(20, 32)).min(90))
        } else {
            let oldest = (head - 16).clamp(0, 34);
            (any_sex(rng), rng.range(0, oldest))
        };
        out.push((sex, age as u32));
    }
    out
}

fn other(s: Sex) -> Sex {
    match s {
        Sex::Male => Sex::Female,
        Sex::Female => Sex::Male,
    }
}

fn any_sex(rng: &mut Rng) -> Sex {
    if rng.chance(0.5) {
        Sex::Male
    } else {
        Sex::Female
    }
}

/// A person born in the country and its citizen.
fn native(rng: &mut Rng, pr: &Profile, line: u32, sex: Sex, age: u32) -> Person {
    Person {
        line,
        sex,
        age,
        edu: None,
        lf: None,
        job: None,
        foreign_born: false,
        birth: pr.iso3,
        citizenship: pr.iso3,
        dual: false,
        arrival: None,
        returned: None,
        previous: None,
        detail: rng.below(100) as u8,
    }
}

/// An arrival: from where, in which year, and the chance that the person is a citizen.
struct Arrival {
    from: &'static str,
    year: i64,
    citizen: f64,
}

/// Makes `p` an immigrant, if born by the arrival; a child born after it is native-born, a
/// citizen where the country grants citizenship by birth.
fn immigrate(rng: &mut Rng, pr: &Profile, year: i64, a: Arrival, p: &mut Person) {
    let born = year - i64::from(p.age);
    if born > a.year {
        if !pr.jus_soli && rng.chance(0.7) {
            p.citizenship = a.from;
        }
        return;
    }
    p.foreign_born = true;
    p.birth = a.from;
    p.arrival = Some(a.year.clamp(born, year));
    if rng.chance(a.citizen) {
        p.dual = rng.chance(0.3);
    } else {
        p.citizenship = a.from;
    }
}

/// Natives aged 18+ may have lived abroad and returned.
fn returnee(rng: &mut Rng, place: &Place, p: &mut Person) {
    if p.age < 15 {
        return;
    }
    let back =
        !p.foreign_born && p.age >= 18 && rng.chance(place.profile.returnee * place.migration);
    p.returned = Some(back);
    if back {
        p.previous = Some(rng.pick_from(place.profile.destinations));
    }
}

/// One to three members abroad.
fn emigrants(rng: &mut Rng, place: &Place, hh: &mut Household) {
    let pr = place.profile;
    let n = 1 + rng.pick(&[70, 22, 8]);
    for line in 1..=n as u32 {
        let sex = if rng.chance(pr.emigrant_male) {
            Sex::Male
        } else {
            Sex::Female
        };
        let age = 18 + rng.range(0, 21) + rng.range(0, 21);
        let away = rng.range(0, 15).min(age - 16);
        let residence = rng.pick_from(pr.destinations);
        let destination = if rng.chance(0.93) {
            residence
        } else {
            rng.pick_from(pr.destinations)
        };
        let to_work = rng.chance(pr.left_to_work);
        let sends_money = rng.chance(if to_work { 0.75 } else { 0.3 });
        hh.abroad.push(Emigrant {
            line,
            sex,
            age: age as u32,
            residence,
            destination,
            departure: place.year - away,
            to_work,
            sends_money,
            detail: rng.below(100) as u8,
        });
    }
}

/// Whether the household received remittances in the last 12 months, and how much.
fn remittances(rng: &mut Rng, pr: &Profile, hh: &mut Household) {
    let senders = hh.abroad.iter().filter(|e| e.sends_money).count();
    hh.remit = rng.chance(if senders > 0 { 0.9 } else { 0.03 });
    hh.remit_amount = hh.remit.then(|| {
        let x = pr.remit_median * rng.lognormal(0.6) * (0.8 + 0.2 * senders as f64);
        round_to(x, pr.remit_unit).max(pr.remit_unit)
    });
}

/// `x` rounded to a multiple of `unit`.
pub fn round_to(x: f64, unit: f64) -> f64 {
    (x / unit).round() * unit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::country::Country;

    #[test]
    fn households_respect_the_quota_and_migration_rules() {
        let mut rng = Rng::stream(5, &[]);
        let mut hh = Household::default();
        for c in Country::ALL {
            let place = Place {
                profile: c.profile(),
                year: 2023,
                urban: true,
                migration: 2.0,
            };
            for max in [1, 2, 8] {
                for _ in 0..300 {
                    fill_household(&mut rng, &place, max, &mut hh);
                    assert!((1..=max as usize).contains(&hh.members.len()));
                    for p in &hh.members {
                        assert!(p.age <= 90);
                        assert_eq!(p.foreign_born, p.arrival.is_some());
                        if let Some(a) = p.arrival {
                            assert!(a >= 2023 - i64::from(p.age) && a <= 2023);
                        }
                        assert_eq!(p.age >= 15, p.lf.is_some());
                        assert_eq!(p.returned == Some(true), p.previous.is_some());
                    }
                    assert_eq!(hh.remit, hh.remit_amount.is_some());
                }
            }
        }
    }
}
