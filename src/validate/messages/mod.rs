//! The message catalogue: every rule's message and every text of the validation report and the
//! service's pages, in English, French and Spanish, keyed by id (`rule.<id>` for a rule's
//! finding, `check.<id>` for what it checks, `cause.<kind>` for a file-level cause, `ui.<name>`
//! for the report and the pages). One table per language (`en.rs`, `fr.rs`, `es.rs`); a test
//! holds them to the same keys and placeholders.
//!
//! A text names its parameters in braces (`{column}`); `render` fills them. A key with the
//! suffix `.one` / `.other` has a singular and a plural form (`plural`).
mod en;
mod es;
mod fr;

use std::fmt;

/// A language of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Fr,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Fr, Lang::Es];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Es => "es",
        }
    }

    /// `en`, `fr` or `es` (a region such as `fr-CA` is accepted; case does not matter).
    pub fn parse(s: &str) -> Option<Lang> {
        let primary = s.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The language a browser prefers among ours, from its `Accept-Language` header (weights
    /// honoured; English when none of ours is asked for).
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, part) in header.split(',').enumerate().take(32) {
            let mut bits = part.split(';');
            let Some(lang) = bits.next().and_then(Lang::parse) else {
                continue;
            };
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let better = best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi));
            if q > 0.0 && better {
                best = Some((q, i, lang));
            }
        }
        best.map_or(Lang::En, |b| b.2)
    }

    fn table(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::En => en::TEXTS,
            Lang::Fr => fr::TEXTS,
            Lang::Es => es::TEXTS,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The text of `key` in `lang` (the English one when the key is missing there, empty when it is
/// missing everywhere; a test holds every key the code uses to the catalogue).
pub fn text(lang: Lang, key: &str) -> &'static str {
    let find = |l: Lang| l.table().iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    find(lang).or_else(|| find(Lang::En)).unwrap_or("")
}

/// Whether `key` is in the catalogue.
pub fn has(key: &str) -> bool {
    en::TEXTS.iter().any(|(k, _)| *k == key)
}

/// The text of `key` with its `{name}` placeholders filled from `args`.
pub fn render(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    fill(text(lang, key), args)
}

/// `key.one` for 1, `key.other` for any other count, filled with `{n}` and `args`.
pub fn plural(lang: Lang, key: &str, n: u64, args: &[(&str, &str)]) -> String {
    let form = if n == 1 || (lang == Lang::Fr && n == 0) {
        "one"
    } else {
        "other"
    };
    let count = grouped(lang, n);
    let mut all: Vec<(&str, &str)> = vec![("n", count.as_str())];
    all.extend_from_slice(args);
    fill(text(lang, &format!("{key}.{form}")), &all)
}

/// What follows a label before its text: `:` (` :` in French).
pub fn colon(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "\u{a0}:",
        _ => ":",
    }
}

/// A whole number with the language's thousands separator (`2,304`, `2 304`, `2.304`).
pub fn grouped(lang: Lang, n: u64) -> String {
    let sep = match lang {
        Lang::En => ',',
        Lang::Fr => '\u{202f}',
        Lang::Es => '.',
    };
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) && (lang != Lang::Es || digits.len() > 4) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{name}` placeholders of a text, sorted.
#[cfg(test)]
fn placeholders(t: &str) -> Vec<&str> {
    let mut out: Vec<&str> = t
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|x| x.0))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_key_is_in_every_language_with_the_same_placeholders() {
        let keys = |l: Lang| -> BTreeSet<&str> { l.table().iter().map(|x| x.0).collect() };
        for l in Lang::ALL {
            assert_eq!(keys(l).len(), l.table().len(), "{l}: a key occurs twice");
            let missing: Vec<_> = keys(Lang::En).difference(&keys(l)).copied().collect();
            let extra: Vec<_> = keys(l).difference(&keys(Lang::En)).copied().collect();
            assert!(missing.is_empty(), "{l} lacks {missing:?}");
            assert!(extra.is_empty(), "{l} has keys English lacks: {extra:?}");
            for (k, v) in l.table() {
                assert!(!v.trim().is_empty(), "{l}: {k} is empty");
                assert_eq!(
                    placeholders(v),
                    placeholders(text(Lang::En, k)),
                    "{l}: {k} names other placeholders than English"
                );
            }
        }
    }

    #[test]
    fn every_rule_has_its_message_and_what_it_checks() {
        for r in crate::validate::rules::REGISTRY {
            for prefix in ["rule", "check"] {
                assert!(
                    has(&format!("{prefix}.{}", r.id)),
                    "{prefix}.{} missing",
                    r.id
                );
            }
        }
    }

    #[test]
    fn placeholders_are_filled_and_plurals_agree() {
        assert_eq!(
            render(
                Lang::En,
                "rule.unknown_code",
                &[("column", "SEX"), ("value", "3")]
            ),
            "SEX: the code 3 is not in the pipeline's codes"
        );
        assert_eq!(plural(Lang::En, "ui.findings", 1, &[]), "1 finding");
        assert_eq!(plural(Lang::En, "ui.findings", 2304, &[]), "2,304 findings");
        assert_eq!(plural(Lang::Fr, "ui.findings", 0, &[]), "0 constat");
        assert_eq!(plural(Lang::Es, "ui.findings", 2304, &[]), "2304 hallazgos");
        assert_eq!(
            plural(Lang::Es, "ui.findings", 23040, &[]),
            "23.040 hallazgos"
        );
    }

    #[test]
    fn the_browser_language_is_picked_by_weight() {
        assert_eq!(
            Lang::from_accept_language("fr-FR,fr;q=0.9,en;q=0.8"),
            Lang::Fr
        );
        assert_eq!(Lang::from_accept_language("de,es;q=0.5,en;q=0.4"), Lang::Es);
        assert_eq!(Lang::from_accept_language("de"), Lang::En);
        assert_eq!(Lang::from_accept_language("en;q=0.1,fr;q=0"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
        assert_eq!(Lang::parse("ES"), Some(Lang::Es));
    }
}
