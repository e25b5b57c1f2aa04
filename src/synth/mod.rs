//! `migstat synth`: deterministic synthetic labour force surveys with the ILO labour-migration
//! module for the four pilot countries (Armenia, Egypt, Ecuador, Thailand). Each country gets one
//! person file covering two consecutive quarters and one roster of household members living
//! abroad, each in the country's own column names and code scheme, from a stratified two-stage
//! design with replicate weights. Same arguments, same bytes: every PSU draws from its own random
//! stream, rows are streamed (memory does not grow with `--persons`), and countries run in
//! parallel into separate files.
mod arm;
pub mod country;
pub mod design;
mod ecu;
mod egy;
mod labour;
pub mod people;
pub mod rng;
mod tha;
pub mod writer;

use std::path::PathBuf;

use csv::ByteRecord;

use country::header;
pub use country::Country;
use design::{base_weight, stratum_shares, DesignSpec, StratumPlan, STREAM_PSU};
use people::{fill_household, Household, Place};
use rng::Rng;
pub use writer::Format;
use writer::{Cells, TableWriter};

/// `--country`: one pilot country or all four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CountryArg {
    #[value(name = "ARM")]
    Arm,
    #[value(name = "EGY")]
    Egy,
    #[value(name = "ECU")]
    Ecu,
    #[value(name = "THA")]
    Tha,
    #[value(name = "all")]
    All,
}

impl CountryArg {
    pub fn countries(self) -> Vec<Country> {
        match self {
            CountryArg::Arm => vec![Country::Arm],
            CountryArg::Egy => vec![Country::Egy],
            CountryArg::Ecu => vec![Country::Ecu],
            CountryArg::Tha => vec![Country::Tha],
            CountryArg::All => Country::ALL.to_vec(),
        }
    }
}

/// Arguments of `migstat synth`.
#[derive(clap::Args, Debug, Clone)]
pub struct SynthArgs {
    /// Country to generate: ARM, EGY, ECU, THA or all.
    #[arg(long, value_enum, ignore_case = true, default_value = "all")]
    pub country: CountryArg,
    /// Persons per country, over both quarters.
    #[arg(long, default_value_t = 4000)]
    pub persons: u64,
    /// Seed of the random streams; the same seed and sizes give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder (created if missing); files are `<iso3>_lfs_synth_{persons,roster}.csv`.
    #[arg(long)]
    pub out: PathBuf,
    /// Strata (default: persons / 400, between 2 and 200).
    #[arg(long)]
    pub strata: Option<u32>,
    /// PSUs in each stratum (at least 2).
    #[arg(long, default_value_t = 10)]
    pub psus_per_stratum: u32,
    /// Bootstrap replicate weights (default: 80 from 100 000 persons, else 20).
    #[arg(long)]
    pub replicates: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// With `--format parquet`: write the persons table as N Parquet files (consecutive rows,
    /// in a folder `<iso3>_lfs_synth_persons/`, `part-000.parquet` …), one table split over
    /// files as `migstat estimate FOLDER` reads it.
    #[arg(long, value_name = "N")]
    pub parts: Option<u32>,
}

impl SynthArgs {
    /// The design the arguments ask for, with defaults filled in and checked.
    pub fn design(&self) -> anyhow::Result<DesignSpec> {
        let spec = DesignSpec {
            strata: self
                .strata
                .unwrap_or_else(|| (self.persons / 400).clamp(2, 200) as u32),
            psus: self.psus_per_stratum,
            replicates: self
                .replicates
                .unwrap_or(if self.persons >= 100_000 { 80 } else { 20 }),
            persons: self.persons,
        };
        if let Some(n) = self.parts {
            if self.format != Format::Parquet || n == 0 || n > 10_000 {
                anyhow::bail!("--parts needs --format parquet and a count from 1 to 10000");
            }
        }
        if spec.replicates > 1000 {
            anyhow::bail!("--replicates {} is more than 1000", spec.replicates);
        }
        spec.check().map_err(anyhow::Error::msg)?;
        Ok(spec)
    }
}

/// Generates the files the arguments ask for and returns their paths (persons then roster, for
/// each country in the order ARM, EGY, ECU, THA). One line per country goes to `log`.
pub fn run(args: &SynthArgs, log: &mut dyn std::io::Write) -> anyhow::Result<Vec<PathBuf>> {
    let spec = args.design()?;
    std::fs::create_dir_all(&args.out).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the output folder {}: {e}",
            args.out.display()
        )
    })?;
    let countries = args.country.countries();
    let results: Vec<anyhow::Result<Summary>> = std::thread::scope(|s| {
        let handles: Vec<_> = countries
            .iter()
            .map(|&c| s.spawn(move || generate(c, &spec, args, args.format)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a generator thread panicked")))
            })
            .collect()
    });
    let mut paths = Vec::new();
    for r in results {
        let s = r?;
        writeln!(log, "{}", s.line(&spec))?;
        paths.push(s.persons_path);
        paths.push(s.roster_path);
    }
    Ok(paths)
}

/// What one country's generation produced.
struct Summary {
    country: Country,
    persons: u64,
    households: u64,
    abroad: u64,
    persons_path: PathBuf,
    roster_path: PathBuf,
}

impl Summary {
    fn line(&self, spec: &DesignSpec) -> String {
        let [(y0, q0), (y1, q1)] = self.country.profile().periods;
        format!(
            "{}: {} persons in {} households, {} members abroad ({y0}Q{q0}, {y1}Q{q1}; {} strata x {} PSUs, {} replicate weights) -> {}, {}",
            self.country.iso3(),
            self.persons,
            self.households,
            self.abroad,
            spec.strata,
            spec.psus,
            spec.replicates,
            self.persons_path.display(),
            self.roster_path.display()
        )
    }
}

/// Both files of one country.
fn generate(
    c: Country,
    spec: &DesignSpec,
    args: &SynthArgs,
    format: Format,
) -> anyhow::Result<Summary> {
    let (seed, out) = (args.seed, args.out.as_path());
    let layout = c.layout();
    let r = spec.replicates;
    // Every format is generated as CSV first, then rewritten (`writer::convert`).
    let file = |kind: &str| out.join(format!("{}_{kind}.csv", c.stem()));
    let mut persons = TableWriter::create(
        &file("persons"),
        &header(layout.person_columns, layout.person_reps, r),
    )?;
    let mut roster = TableWriter::create(
        &file("roster"),
        &header(layout.roster_columns, layout.roster_reps, r),
    )?;
    let mut g = Generator {
        country: c,
        spec,
        seed,
        shares: stratum_shares(seed, c.tag(), spec.strata),
        hh: Household::default(),
        rec: ByteRecord::new(),
        reps: ByteRecord::new(),
        households: 0,
    };
    for q in 0..2 {
        for h in 0..spec.strata {
            g.stratum(q, h, &mut persons, &mut roster)?;
        }
    }
    Ok(Summary {
        country: c,
        persons: persons.rows,
        households: g.households,
        abroad: roster.rows,
        persons_path: match args.parts {
            Some(n) => writer::split_parquet(&writer::convert(&persons.finish()?, format)?, n)?,
            None => writer::convert(&persons.finish()?, format)?,
        },
        roster_path: writer::convert(&roster.finish()?, format)?,
    })
}

/// The state of one country's generation: a household and two reusable records.
struct Generator<'a> {
    country: Country,
    spec: &'a DesignSpec,
    seed: u64,
    shares: Vec<f64>,
    hh: Household,
    rec: ByteRecord,
    reps: ByteRecord,
    households: u64,
}

impl Generator<'_> {
    /// All households of stratum `h` (0-based) in quarter `q`.
    fn stratum(
        &mut self,
        q: u32,
        h: u32,
        persons: &mut TableWriter,
        roster: &mut TableWriter,
    ) -> anyhow::Result<()> {
        let pr = self.country.profile();
        let tag = self.country.tag();
        let plan = StratumPlan::new(self.spec, self.seed, tag, h);
        let base = base_weight(self.spec, pr.population, self.shares[h as usize], q, h);
        let (year, quarter) = pr.periods[q as usize];
        for psu in 0..self.spec.psus {
            let path = [tag, STREAM_PSU, u64::from(q), u64::from(h), u64::from(psu)];
            let mut rng = Rng::stream(self.seed, &path);
            let place = Place {
                profile: pr,
                year: i64::from(year),
                urban: plan.urban,
                migration: plan.migration[psu as usize],
            };
            let mut left = self.spec.psu_quota(q, h, psu);
            while left > 0 {
                self.households += 1;
                let hh = &mut self.hh;
                hh.id = self.households;
                (hh.year, hh.quarter, hh.stratum, hh.psu) = (year, quarter, h + 1, psu + 1);
                hh.weight = base * plan.nonresponse[psu as usize] * rng.uniform(0.95, 1.05);
                fill_household(&mut rng, &place, left, hh);
                left -= hh.members.len() as u64;
                self.write(plan.psu_factors(psu), persons, roster)?;
            }
        }
        Ok(())
    }

    /// Writes the current household's persons and members abroad.
    fn write(
        &mut self,
        factors: &[f64],
        persons: &mut TableWriter,
        roster: &mut TableWriter,
    ) -> anyhow::Result<()> {
        let layout = self.country.layout();
        let hh = &self.hh;
        self.reps.clear();
        for f in factors {
            self.reps.fixed(hh.weight * f, 4);
        }
        for p in &hh.members {
            self.rec.clear();
            (layout.person_row)(hh, p, &mut self.rec);
            self.rec.extend(self.reps.iter());
            persons.write(&self.rec)?;
        }
        for e in &hh.abroad {
            self.rec.clear();
            (layout.roster_row)(hh, e, &mut self.rec);
            self.rec.extend(self.reps.iter());
            roster.write(&self.rec)?;
        }
        Ok(())
    }
}
