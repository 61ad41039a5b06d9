//! The man page and completion scripts that the .deb and the Windows zip ship are committed
//! under assets/, because cargo-deb packages files that exist before it builds. This test
//! keeps them equal to what the binary generates: it fails when one is stale.
//! `REKT_UPDATE_ASSETS=1 cargo test --test it assets` writes them anew.
//!
//! Unix only: the generated text does not depend on the OS (the completions name the
//! binary `rekt` everywhere), and a Windows checkout may turn the committed files' line
//! ends into CRLF. CI compares the Windows build's PowerShell script when it makes the zip.

use std::path::Path;
use std::process::Command;

/// Each committed asset and the arguments that generate it.
const ASSETS: &[(&str, &[&str])] = &[
    ("assets/rekt.1", &["man"]),
    ("assets/completions/rekt.bash", &["completions", "bash"]),
    ("assets/completions/_rekt", &["completions", "zsh"]),
    ("assets/completions/rekt.fish", &["completions", "fish"]),
    (
        "assets/completions/rekt.ps1",
        &["completions", "powershell"],
    ),
];

fn generate(args: &[&str]) -> Vec<u8> {
    let out = Command::new(crate::support::rekt_bin(args))
        .args(args)
        .output()
        .expect("run rekt");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "rekt {args:?}: {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "rekt {args:?} printed nothing");
    out.stdout
}

#[test]
fn committed_assets_are_what_the_binary_generates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("REKT_UPDATE_ASSETS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (path, args) in ASSETS {
        let fresh = generate(args);
        let file = root.join(path);
        if update {
            std::fs::write(&file, &fresh).unwrap_or_else(|e| panic!("write {path}: {e}"));
        } else if std::fs::read(&file).ok().as_deref() != Some(&fresh[..]) {
            stale.push(format!("{path} (rekt {})", args.join(" ")));
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing assets: {}; run REKT_UPDATE_ASSETS=1 cargo test --test it assets \
         and commit them",
        stale.join(", ")
    );
}
