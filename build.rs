//! Embeds the build identity: the package version and a hash of the sources, schemas and lock
//! file this binary was built from (`MIGSTAT_BUILD_ID`), so that incremental runs notice a new
//! build even when the version string did not change.
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let mut all = Vec::new();
    for d in ["src", "schemas"] {
        println!("cargo:rerun-if-changed={d}");
        files(Path::new(d), &mut all);
    }
    for f in ["Cargo.lock", "Cargo.toml", "build.rs"] {
        println!("cargo:rerun-if-changed={f}");
        all.push(PathBuf::from(f));
    }
    all.sort();
    // FNV-1a, 64 bits, over each path and its bytes; the profile and features go in too.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for f in &all {
        eat(f.to_string_lossy().as_bytes());
        eat(&std::fs::read(f).unwrap_or_default());
    }
    eat(std::env::var("PROFILE").unwrap_or_default().as_bytes());
    let mut features: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("CARGO_FEATURE_"))
        .collect();
    features.sort();
    for k in features {
        eat(k.as_bytes());
    }
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=MIGSTAT_BUILD_ID={version}+{h:016x}");
}
