//! Sign-in tokens: `migstat token add|list|revoke` and their check. The file keeps, per token,
//! an id, the country, the creation time and the SHA-256 of the token; never the token itself.
//! The file is rewritten atomically (a temporary file renamed over it) and checks compare
//! digests in constant time.
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{MigError, Result};

/// `migstat token add|list|revoke`.
#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for a country's statisticians; prints it once, alone on stdout.
    Add {
        /// ISO 3166 alpha-3 code of the country (the pipelines' `ref_area`), e.g. ARM.
        country: String,
        #[arg(long)]
        tokens: PathBuf,
    },
    /// List the tokens' ids, countries and creation times (never the tokens).
    List {
        #[arg(long)]
        tokens: PathBuf,
    },
    /// Revoke a token by its id: its sessions end at their next request.
    Revoke {
        id: String,
        #[arg(long)]
        tokens: PathBuf,
    },
}

/// One token as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenEntry {
    pub id: String,
    pub country: String,
    pub created: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

/// Runs `migstat token …`; returns the exit code.
pub fn run(args: &TokenArgs, out: &mut dyn Write) -> Result<i32> {
    match &args.command {
        TokenCommand::Add { country, tokens } => {
            let token = add(tokens, country)?;
            let _ = writeln!(out, "{token}");
        }
        TokenCommand::List { tokens } => {
            let _ = writeln!(out, "{:<18} {:<8} created", "id", "country");
            for t in read(tokens)? {
                let _ = writeln!(out, "{:<18} {:<8} {}", t.id, t.country, t.created);
            }
        }
        TokenCommand::Revoke { id, tokens } => {
            revoke(tokens, id)?;
            let _ = writeln!(out, "revoked {id}");
        }
    }
    Ok(0)
}

/// Random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| MigError::Other(format!("no random source: {e}")))?;
    Ok(hex(&buf))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The stored tokens (none when the file does not exist yet).
pub fn read(path: &Path) -> Result<Vec<TokenEntry>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<TokenFile>(&text)
            .map(|f| f.tokens)
            .map_err(|e| MigError::Other(format!("{}: not a token file: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(MigError::io(path, e)),
    }
}

fn write(path: &Path, tokens: Vec<TokenEntry>) -> Result<()> {
    let body = serde_json::to_string_pretty(&TokenFile { tokens }).unwrap_or_default() + "\n";
    crate::serve::store::write_atomic(path, body.as_bytes())
}

/// Adds a token for `country`; returns the token (shown once, never stored).
pub fn add(path: &Path, country: &str) -> Result<String> {
    let country = country.trim().to_ascii_uppercase();
    if country.len() != 3 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(MigError::Other(format!(
            "{country:?}: a country is an ISO 3166 alpha-3 code such as ARM"
        )));
    }
    let token = format!("mst_{}", random_hex(32)?);
    let mut all = read(path)?;
    all.push(TokenEntry {
        id: format!("tok_{}", random_hex(6)?),
        country,
        created: crate::batch::summary::iso_now(),
        sha256: hex(&digest(&token)),
    });
    write(path, all)?;
    Ok(token)
}

/// Removes the token with this id.
pub fn revoke(path: &Path, id: &str) -> Result<()> {
    let mut all = read(path)?;
    let before = all.len();
    all.retain(|t| t.id != id);
    if all.len() == before {
        return Err(MigError::Other(format!(
            "{}: no token with id {id} (`migstat token list` shows them)",
            path.display()
        )));
    }
    write(path, all)
}

/// The stored token matching `token`, comparing every entry in constant time.
pub fn verify(entries: &[TokenEntry], token: &str) -> Option<TokenEntry> {
    let d = digest(token.trim());
    let mut found = None;
    for e in entries {
        let mut stored = [0u8; 32];
        let ok = decode_hex(&e.sha256, &mut stored);
        if bool::from(stored.ct_eq(&d)) && ok {
            found = Some(e.clone());
        }
    }
    found
}

fn decode_hex(s: &str, out: &mut [u8; 32]) -> bool {
    if s.len() != 64 {
        return false;
    }
    for (i, b) in out.iter_mut().enumerate() {
        match u8::from_str_radix(&s[2 * i..2 * i + 2], 16) {
            Ok(v) => *b = v,
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_stored_hashed_checked_and_revoked() {
        let dir = std::env::temp_dir().join(format!("migstat-tokens-{}", random_hex(4).unwrap()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tokens.json");
        let t = add(&file, "arm").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(&t), "the token itself is never stored");
        let all = read(&file).unwrap();
        let hit = verify(&all, &t).expect("token accepted");
        assert_eq!(hit.country, "ARM");
        assert!(verify(&all, "mst_wrong").is_none());
        revoke(&file, &hit.id).unwrap();
        assert!(verify(&read(&file).unwrap(), &t).is_none());
        assert!(add(&file, "Armenia").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
