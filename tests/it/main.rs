//! rekt's end-to-end tests: one test binary (as ripgrep and fd have), one module per
//! feature, real processes holding real sockets. `support` is the shared machinery: running
//! rekt, isolation, the fixture processes, ports and output rewriting (its module docs map
//! it). Run one feature with `cargo test --test it MODULE`, e.g. `cargo test --test it kill`.

#[macro_use]
mod support;

#[cfg(unix)]
mod assets;
#[cfg(target_os = "linux")]
mod docker;
#[cfg(target_os = "linux")]
mod hardening;
#[cfg(target_os = "linux")]
mod isolation;
#[cfg(target_os = "linux")]
mod json;
#[cfg(target_os = "linux")]
mod kill;
#[cfg(target_os = "linux")]
mod list;
#[cfg(target_os = "linux")]
mod lookup;
#[cfg(target_os = "linux")]
mod names;
#[cfg(target_os = "linux")]
mod netns;
#[cfg(target_os = "linux")]
mod output;
#[cfg(target_os = "linux")]
mod pid_reuse;
#[cfg(target_os = "linux")]
mod plain_lookup;
#[cfg(target_os = "linux")]
mod podman;
#[cfg(target_os = "linux")]
mod privileges;
#[cfg(target_os = "linux")]
mod takeover;
#[cfg(target_os = "linux")]
mod terminal;
mod usage;
#[cfg(target_os = "linux")]
mod verdict;
#[cfg(target_os = "linux")]
mod view;
#[cfg(target_os = "linux")]
mod watch;
#[cfg(windows)]
mod windows;
