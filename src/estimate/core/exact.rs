//! Serialisation of the state's sums as the bits of each `f64`, so that a state read back is
//! the state written (text formats do not promise to round-trip every float).
use serde::{Deserialize, Deserializer, Serializer};

use super::state::UnitSums;

type Bits = (u32, Vec<(u32, u64)>);

fn to_bits(units: &[UnitSums]) -> Vec<Bits> {
    units
        .iter()
        .map(|(u, cs)| (*u, cs.iter().map(|(c, v)| (*c, v.to_bits())).collect()))
        .collect()
}

fn from_bits(units: Vec<Bits>) -> Vec<UnitSums> {
    units
        .into_iter()
        .map(|(u, cs)| {
            (
                u,
                cs.into_iter()
                    .map(|(c, b)| (c, f64::from_bits(b)))
                    .collect(),
            )
        })
        .collect()
}

pub mod floats {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.to_bits()))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<u64>::deserialize(d)?
            .into_iter()
            .map(f64::from_bits)
            .collect())
    }
}

pub mod units {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[UnitSums], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(to_bits(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<UnitSums>, D::Error> {
        Ok(from_bits(Vec::<Bits>::deserialize(d)?))
    }
}

pub mod stages {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[Vec<UnitSums>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|u| to_bits(u)))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<UnitSums>>, D::Error> {
        Ok(Vec::<Vec<Bits>>::deserialize(d)?
            .into_iter()
            .map(from_bits)
            .collect())
    }
}
