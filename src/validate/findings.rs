//! A finding names the rule, its severity, the line and business key, the column and the value.
//! `Findings` keeps every count but lists at most `cap` findings per rule.
use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::pipeline::Severity;

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

#[derive(Debug, Clone, Serialize)]
pub struct Findings {
    pub cap: u64,
    pub listed: Vec<Finding>,
    pub rules: BTreeMap<String, RuleCount>,
}

impl Default for Findings {
    fn default() -> Self {
        Findings {
            cap: 100,
            listed: Vec::new(),
            rules: BTreeMap::new(),
        }
    }
}

impl Findings {
    pub fn with_cap(cap: u64) -> Self {
        Findings {
            cap,
            ..Default::default()
        }
    }

    pub fn push(&mut self, f: Finding) {
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
