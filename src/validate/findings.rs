//! A finding names the rule, its severity, the line and business key, the column and the value.
//! `Findings` keeps every count but lists at most `cap` findings per rule, groups every finding
//! by (rule, column) with its first and last line and the distinct values it names (`Group`),
//! and marks which data rows have errors, are quarantined or have warnings (three bits per line,
//! so that rows are counted once however many findings they have).
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::config::pipeline::Severity;
use crate::extract::limits::{clip_in_place, CLIP_CHARS};

/// Characters of a finding's message kept (values in it are bounded by the input's limits).
const MESSAGE_CHARS: usize = 2_000;

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub line: u64,
    pub key: String,
    pub column: String,
    pub value: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleCount {
    pub severity: Option<Severity>,
    pub count: u64,
    pub listed: u64,
}

/// Distinct values a group keeps with their counts; findings naming further values are counted
/// in `Group::untracked` (memory stays bounded whatever the file).
pub const GROUP_VALUES: usize = 1_000;

/// Every finding of one rule in one column: how many, where, and which values.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub severity: Option<Severity>,
    pub count: u64,
    /// First and last line named (0 when no finding named a line).
    pub first_line: u64,
    pub last_line: u64,
    /// The business key of the first finding.
    pub first_key: String,
    /// Distinct values (at most `GROUP_VALUES`) and how many findings name each.
    pub values: HashMap<String, u64>,
    /// Findings whose value was not kept (past `GROUP_VALUES` distinct values).
    pub untracked: u64,
}

impl Group {
    fn add(&mut self, f: &Finding) {
        self.count += 1;
        self.severity = Some(self.severity.map_or(f.severity, |s| s.max(f.severity)));
        if f.line > 0 {
            if self.first_line == 0 || f.line < self.first_line {
                self.first_line = f.line;
                self.first_key = f.key.clone();
            }
            self.last_line = self.last_line.max(f.line);
        }
        self.count_value(&f.value, 1);
    }

    fn count_value(&mut self, value: &str, n: u64) {
        if let Some(c) = self.values.get_mut(value) {
            *c += n;
        } else if self.values.len() < GROUP_VALUES {
            self.values.insert(value.to_string(), n);
        } else {
            self.untracked += n;
        }
    }

    fn merge(&mut self, other: Group) {
        self.count += other.count;
        self.severity = self.severity.max(other.severity);
        if other.first_line > 0 && (self.first_line == 0 || other.first_line < self.first_line) {
            self.first_line = other.first_line;
            self.first_key = other.first_key;
        }
        self.last_line = self.last_line.max(other.last_line);
        self.untracked += other.untracked;
        for (v, n) in other.values {
            self.count_value(&v, n);
        }
    }

    /// The values with their counts, most frequent first (ties by value).
    pub fn top_values(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.values.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Findings {
    pub cap: u64,
    pub listed: Vec<Finding>,
    pub rules: BTreeMap<String, RuleCount>,
    /// Every finding grouped by (rule, column).
    #[serde(skip)]
    pub groups: BTreeMap<(String, String), Group>,
    #[serde(skip)]
    rows: RowMarks,
}

impl Default for Findings {
    fn default() -> Self {
        Findings {
            cap: 100,
            listed: Vec::new(),
            rules: BTreeMap::new(),
            groups: BTreeMap::new(),
            rows: RowMarks::default(),
        }
    }
}

/// One bit per line for each of error, quarantine and warning.
#[derive(Debug, Clone, Default)]
struct RowMarks {
    sets: [Vec<u64>; 3],
}

impl RowMarks {
    fn slot(sev: Severity) -> Option<usize> {
        match sev {
            Severity::Error => Some(0),
            Severity::Quarantine => Some(1),
            Severity::Warning => Some(2),
            Severity::Info => None,
        }
    }

    fn mark(&mut self, sev: Severity, line: u64) {
        let Some(s) = Self::slot(sev) else { return };
        let (word, bit) = ((line / 64) as usize, line % 64);
        let set = &mut self.sets[s];
        if set.len() <= word {
            set.resize(word + 1, 0);
        }
        set[word] |= 1 << bit;
    }

    /// Lines marked with `sev` and with none of the severities above it.
    fn count(&self, sev: Severity) -> u64 {
        let Some(s) = Self::slot(sev) else { return 0 };
        let word = |k: usize, i: usize| self.sets[k].get(i).copied().unwrap_or(0);
        (0..self.sets[s].len())
            .map(|i| {
                let above = (0..s).fold(0u64, |acc, k| acc | word(k, i));
                (word(s, i) & !above).count_ones() as u64
            })
            .sum()
    }
}

impl Findings {
    pub fn with_cap(cap: u64) -> Self {
        Findings {
            cap,
            ..Default::default()
        }
    }

    /// Counts and groups `f`, and lists it while its rule has fewer than `cap` listed; the value,
    /// key and column it echoes are cut to 200 characters, its message to 2,000.
    pub fn push(&mut self, mut f: Finding) {
        for s in [&mut f.value, &mut f.key, &mut f.column] {
            clip_in_place(s, CLIP_CHARS);
        }
        clip_in_place(&mut f.message, MESSAGE_CHARS);
        self.groups
            .entry((f.rule.clone(), f.column.clone()))
            .or_default()
            .add(&f);
        self.list(f);
    }

    /// Counts `f` and lists it while its rule has fewer than `cap` listed (not grouped).
    fn list(&mut self, f: Finding) {
        if f.line > 0 && super::rules::is_row_rule(&f.rule) {
            self.rows.mark(f.severity, f.line);
        }
        let rc = self.rules.entry(f.rule.clone()).or_default();
        rc.count += 1;
        rc.severity = Some(rc.severity.map_or(f.severity, |s| s.max(f.severity)));
        if rc.listed < self.cap {
            rc.listed += 1;
            self.listed.push(f);
        }
    }

    pub fn count(&self, sev: Severity) -> u64 {
        self.rules
            .values()
            .filter(|r| r.severity == Some(sev))
            .map(|r| r.count)
            .sum()
    }

    /// Adds `other`'s findings and counts (its unlisted findings stay counted, not listed).
    pub fn merge(&mut self, other: Findings) {
        for (rule, rc) in &other.rules {
            let mine = self.rules.entry(rule.clone()).or_default();
            mine.count += rc.count - rc.listed;
            mine.severity = mine.severity.max(rc.severity);
        }
        for f in other.listed {
            self.list(f);
        }
        for (k, g) in other.groups {
            match self.groups.get_mut(&k) {
                Some(mine) => mine.merge(g),
                None => {
                    self.groups.insert(k, g);
                }
            }
        }
        for (mine, theirs) in self.rows.sets.iter_mut().zip(other.rows.sets) {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m |= t;
            }
        }
    }

    /// Data rows whose worst finding has severity `sev` (rows with an error are not counted as
    /// quarantined or with warnings; info findings are not counted).
    pub fn rows_with(&self, sev: Severity) -> u64 {
        self.rows.count(sev)
    }

    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// The first listed error, for a one-line message.
    pub fn first_error(&self) -> Option<&Finding> {
        self.listed.iter().find(|f| f.severity == Severity::Error)
    }

    /// Plain-text summary: one line per listed finding, then counts per rule.
    pub fn render_text(&self, file: &str) -> String {
        let mut out = String::new();
        for f in &self.listed {
            out.push_str(&format!(
                "{file}:{}: [{}] {} (key {}, column {}, value {:?}): {}\n",
                f.line,
                f.severity.as_str(),
                f.rule,
                f.key,
                f.column,
                f.value,
                f.message
            ));
        }
        for (rule, rc) in &self.rules {
            let more = rc.count - rc.listed;
            let sev = rc.severity.map(|s| s.as_str()).unwrap_or("");
            out.push_str(&format!("  {rule} ({sev}): {}", rc.count));
            if more > 0 {
                out.push_str(&format!(", {more} more not listed"));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, severity: Severity, line: u64) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            line,
            key: line.to_string(),
            column: "c".into(),
            value: "v".into(),
            message: "m".into(),
        }
    }

    #[test]
    fn rows_are_counted_once_under_their_worst_severity() {
        let mut f = Findings::with_cap(1);
        f.push(finding("bad_number", Severity::Error, 5));
        f.push(finding("unknown_code", Severity::Error, 5));
        f.push(finding("lonely_psu", Severity::Warning, 5));
        f.push(finding("employed_job_missing", Severity::Warning, 5));
        f.push(finding("employed_job_missing", Severity::Warning, 70));
        f.push(finding("row_width", Severity::Quarantine, 130));
        f.push(finding("missing_column", Severity::Error, 1));
        assert_eq!(f.rows_with(Severity::Error), 1);
        assert_eq!(f.rows_with(Severity::Warning), 1);
        assert_eq!(f.rows_with(Severity::Quarantine), 1);
        assert_eq!(f.rules["unknown_code"].count, 1);
        assert_eq!(f.rules["employed_job_missing"].count, 2);
        assert_eq!(f.rules["employed_job_missing"].listed, 1);
    }

    #[test]
    fn merged_findings_keep_counts_and_row_marks() {
        let mut a = Findings::with_cap(2);
        a.push(finding("bad_number", Severity::Error, 5));
        let mut b = Findings::with_cap(2);
        for line in [6, 7, 8] {
            b.push(finding("bad_number", Severity::Error, line));
        }
        b.push(finding("lonely_psu", Severity::Warning, 9));
        a.merge(b);
        assert_eq!(a.rules["bad_number"].count, 4);
        assert_eq!(a.rules["bad_number"].listed, 2);
        assert_eq!(a.rows_with(Severity::Error), 4);
        assert_eq!(a.rules["lonely_psu"].count, 1);
        let g = &a.groups[&("bad_number".to_string(), "c".to_string())];
        assert_eq!((g.count, g.first_line, g.last_line), (4, 5, 8));
        assert_eq!(g.top_values(), vec![("v", 4)]);
    }

    #[test]
    fn groups_keep_a_bounded_table_of_values() {
        let mut f = Findings::with_cap(3);
        for i in 0..(GROUP_VALUES as u64 + 50) {
            let mut x = finding("unknown_code", Severity::Error, i + 2);
            x.value = format!("v{i}");
            f.push(x);
            f.push(finding("unknown_code", Severity::Error, i + 2));
        }
        let g = &f.groups[&("unknown_code".to_string(), "c".to_string())];
        assert_eq!(g.count, 2 * (GROUP_VALUES as u64 + 50));
        assert_eq!(g.values.len(), GROUP_VALUES);
        assert_eq!(g.untracked, 51);
        assert_eq!(g.top_values()[0], ("v", GROUP_VALUES as u64 + 50));
        assert_eq!(f.listed.len(), 3);
    }
}
