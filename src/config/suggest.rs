//! "Did you mean": the known name nearest to a mistyped one (Levenshtein distance on lower-case
//! characters, at most a third of the name's length), and short lists of what is valid.

/// Edit distance between `a` and `b` (insertions, deletions, substitutions), case-insensitive.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate nearest to `name`, when it is near enough to be a typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let lower = name.to_lowercase();
    // One name that begins the other (`SEX_MALE` for `SEX_M`) is near whatever its length.
    let begins = |c: &str| {
        let c = c.to_lowercase();
        c.len().min(lower.len()) >= 3 && (lower.starts_with(&c) || c.starts_with(&lower))
    };
    candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| (*d <= limit || begins(c)) && *c != name)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// ` (did you mean "x"?)`, or nothing.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(name, candidates).map_or(String::new(), |c| format!(" (did you mean {c:?}?)"))
}

/// At most `n` items joined by `, `, with `… (N in all)` when there are more.
pub fn listed<'a>(items: impl IntoIterator<Item = &'a str>, n: usize) -> String {
    let all: Vec<&str> = items.into_iter().collect();
    if all.len() <= n {
        all.join(", ")
    } else {
        format!("{}, … ({} in all)", all[..n].join(", "), all.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        assert_eq!(distance("delimter", "delimiter"), 1);
        assert_eq!(distance("", "abc"), 3);
        let keys = ["delimiter", "encoding", "decimal", "key"];
        assert_eq!(nearest("delimeter", keys), Some("delimiter"));
        assert_eq!(nearest("encodng", keys), Some("encoding"));
        assert_eq!(nearest("colour", keys), None);
        assert_eq!(
            nearest("SEX_MALE", ["SEX_T", "SEX_M", "SEX_F"]),
            Some("SEX_M")
        );
        assert_eq!(nearest("KEY", keys), Some("key"));
        assert_eq!(nearest("key", keys), None);
        assert_eq!(listed(["a", "b", "c"], 2), "a, b, … (3 in all)");
    }
}
