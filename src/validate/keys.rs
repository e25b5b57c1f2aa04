//! Compact sets of business keys: a 64-bit fingerprint per key instead of the key's text, so
//! that checking uniqueness costs about 9-18 bytes a row whatever the key's length. Two
//! different keys share a fingerprint with probability about n²/2⁶⁵ (7·10⁻⁷ for 5 million
//! rows, 7·10⁻¹¹ for 50 000): a duplicate reported is a duplicate in practice. The hash is
//! SipHash under keys drawn at random once per process, so no file can be made to collide on
//! purpose, and a chance collision does not repeat on the next run. Fingerprints never leave
//! the process.
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::OnceLock;

/// The fingerprint of a sequence of strings (parts are separated, so `("a","bc")` and
/// `("ab","c")` differ); the same in every thread of the process.
pub fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    let mut h = KEYS.get_or_init(RandomState::new).build_hasher();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// A hasher for keys that already are well-mixed fingerprints.
#[derive(Default)]
pub struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

pub type FpBuild = BuildHasherDefault<Identity>;
/// A map keyed by fingerprints.
pub type FpMap<V> = HashMap<u64, V, FpBuild>;

/// Keys seen so far.
#[derive(Default)]
pub struct KeySet {
    seen: HashSet<u64, FpBuild>,
}

impl KeySet {
    /// Adds `key`; false when it was already there.
    pub fn insert(&mut self, key: &str) -> bool {
        self.insert_fingerprint(fingerprint([key]))
    }

    /// Adds a key by its [`fingerprint`]; false when it was already there.
    pub fn insert_fingerprint(&mut self, fp: u64) -> bool {
        self.seen.insert(fp)
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_seen_once() {
        let mut s = KeySet::default();
        assert!(s.insert("1-1"));
        assert!(s.insert("1-2"));
        assert!(!s.insert("1-1"));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn parts_are_separated() {
        assert_ne!(fingerprint(["a", "bc"]), fingerprint(["ab", "c"]));
        assert_eq!(fingerprint(["2024Q1", "17"]), fingerprint(["2024Q1", "17"]));
    }

    #[test]
    fn the_hash_is_keyed_not_the_public_default() {
        // With the fixed keys of `DefaultHasher::new`, anyone can compute a fingerprint
        // offline and craft two keys that collide.
        let mut public = std::hash::DefaultHasher::new();
        "1-1".hash(&mut public);
        assert_ne!(fingerprint(["1-1"]), public.finish());
        let other = std::thread::spawn(|| fingerprint(["1-1"])).join().unwrap();
        assert_eq!(fingerprint(["1-1"]), other);
    }

    #[test]
    fn many_distinct_keys_do_not_collide() {
        let mut s = KeySet::default();
        for i in 0..200_000u32 {
            assert!(s.insert(&format!("{}-{}", i / 7, i % 7)), "{i}");
        }
    }
}
