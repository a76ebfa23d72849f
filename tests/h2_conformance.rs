//! httpwg, h2spec's HTTP/2 conformance cases ported to RFC 9113 (107 of
//! them), against our cleartext HTTP/2 server (`examples/h2_hello --h2c`),
//! through benches/httpwg/run.py. Every case must pass: the runner's
//! allow-list is empty, and it fails too when fewer cases ran than
//! expected (another httpwg version, or a run cut short).
//!
//! httpwg is a Rust program: `cargo install --locked httpwg-cli --version
//! 0.2.5` (`python3 benches/httpwg/run.py install` does that; CI does it up
//! front in `.ci/run`). It takes minutes to build, so this test does not
//! build it behind your back: when it is missing, the test fails and says
//! so. The logs stay in target/tmp/httpwg/.
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{example_bin, have};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether httpwg is on the PATH or in cargo's bin directory (where
/// `cargo install` puts it, which is not always on the PATH).
fn have_httpwg() -> bool {
    if have("httpwg") {
        return true;
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    cargo_home.is_some_and(|h| h.join("bin").join("httpwg").is_file())
}

#[test]
#[cfg_attr(
    not(feature = "tls"),
    ignore = "run once, in the default-features pass (CI runs cargo test twice)"
)]
fn httpwg_passes_every_case_against_h2_hello() {
    assert!(
        have("python3"),
        "python3 is missing: it runs benches/httpwg/run.py"
    );
    assert!(
        have_httpwg(),
        "httpwg is missing (neither on the PATH nor in ~/.cargo/bin): install it with \
         `python3 benches/httpwg/run.py install`, which runs \
         `cargo install --locked httpwg-cli --version 0.2.5` (without --locked it does not build)"
    );
    let bin = example_bin("h2_hello");
    if !bin.exists() || older_than_sources(&bin) {
        // `cargo test` builds the examples; `cargo test --test
        // h2_conformance` does not, and may find one built from older
        // sources: build it (in this profile, the dependencies are
        // already built for this test).
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--example", "h2_hello"])
            .current_dir(root())
            .status()
            .expect("run cargo build --example h2_hello");
        assert!(status.success(), "cargo build --example h2_hello failed");
    }
    assert!(
        bin.exists(),
        "{} is missing (cargo test builds the examples; this test's `cargo build --example h2_hello` \
         put it elsewhere: a --target-dir given on the command line instead of CARGO_TARGET_DIR?)",
        bin.display()
    );
    let outdir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("httpwg");
    let out = common::output_within(
        Command::new("python3")
            .arg(root().join("benches").join("httpwg").join("run.py"))
            .arg("--server-cmd")
            .arg(format!("'{}' {{port}} --h2c", bin.display()))
            .arg("--outdir")
            .arg(&outdir)
            .current_dir(root()),
        Duration::from_secs(600),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "httpwg: not every case passed (exit {:?}); the cases are listed above, the logs are in {}",
        out.status.code(),
        outdir.display()
    );
    assert!(stdout.contains("nodelike passed 107/107"), "{stdout}");
}

/// Whether `bin` was built before the last change to the crate's sources
/// or the example's (a stale binary would be judged, not this code).
fn older_than_sources(bin: &Path) -> bool {
    fn newest(dir: &Path, newest_seen: &mut std::time::SystemTime) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                newest(&path, newest_seen);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                *newest_seen = (*newest_seen).max(modified);
            }
        }
    }
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return true;
    };
    let mut sources = std::time::SystemTime::UNIX_EPOCH;
    newest(&root().join("src"), &mut sources);
    newest(&root().join("examples"), &mut sources);
    built < sources
}
