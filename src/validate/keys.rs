//! Business keys as 64-bit fingerprints instead of their text, so that checking uniqueness
//! (`seen::KeySet`) costs the same whatever the key's length. Two
//! different keys share a fingerprint with probability about n²/2⁶⁵ (7·10⁻⁷ for 5 million
//! rows, 7·10⁻¹¹ for 50 000): a duplicate reported is a duplicate in practice. The hash is
//! SipHash under keys drawn at random once per process, so no file can be made to collide on
//! purpose, and a chance collision does not repeat on the next run. Fingerprints never leave
//! the process.
use std::collections::hash_map::RandomState;
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
    fn write_u128(&mut self, x: u128) {
        self.0 = (x as u64) ^ ((x >> 64) as u64);
    }
}

/// Hash tables keyed by fingerprints.
pub type FpBuild = BuildHasherDefault<Identity>;

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut s = std::collections::HashSet::new();
        for i in 0..200_000u32 {
            assert!(
                s.insert(fingerprint([format!("{}-{}", i / 7, i % 7).as_str()])),
                "{i}"
            );
        }
    }
}
