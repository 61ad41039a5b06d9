//! `PortSpec::from_str` on arbitrary UTF-8, then `Query::port_ranges` and
//! `sock_diag::port_filter` on the specs that parsed.
//!
//! Input: UTF-8 text, one port spec per line.
//! Checks: no panic; a spec that parses has 1 <= first <= last and reparses from its
//! canonical form; an error is one line. The merged ranges are sorted, disjoint, not
//! adjacent, and cover exactly the ports the specs cover. The inet_diag bytecode passes
//! the kernel's audit (inet_diag_bc_audit) and, run as the kernel runs it
//! (inet_diag_bc_run), accepts exactly the ports in the ranges: checked at every range
//! boundary and its neighbours, and at ports taken from the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekt::model::Protocol;
use rekt::platform::sock_diag::port_filter;
use rekt::query::{PortSpec, Query};

const INET_DIAG_BC_NOP: u8 = 0;
const INET_DIAG_BC_JMP: u8 = 1;
const INET_DIAG_BC_S_GE: u8 = 2;
const INET_DIAG_BC_S_LE: u8 = 3;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut specs = Vec::new();
    for line in text.split('\n') {
        match line.parse::<PortSpec>() {
            Ok(spec) => {
                assert!(
                    1 <= spec.first && spec.first <= spec.last,
                    "{line:?}: {spec:?}"
                );
                let canonical = match spec.protocol {
                    None => format!("{}-{}", spec.first, spec.last),
                    Some(Protocol::Tcp) => format!("{}-{}/tcp", spec.first, spec.last),
                    Some(Protocol::Udp) => format!("{}-{}/udp", spec.first, spec.last),
                };
                assert_eq!(canonical.parse::<PortSpec>(), Ok(spec));
                specs.push(spec);
            }
            Err(e) => assert!(!e.0.contains('\n') && !e.0.is_empty(), "{line:?}: {e}"),
        }
    }
    // Ports to probe besides the range boundaries: pairs of input bytes.
    let probes: Vec<u16> = data
        .chunks_exact(2)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        .take(64)
        .collect();
    let query = Query::ports(specs.clone());
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        let covered = |port: u16| specs.iter().any(|s| s.contains(protocol, port));
        let ranges = query.port_ranges(protocol);
        for pair in ranges.windows(2) {
            assert!(
                u32::from(pair[0].1) + 1 < u32::from(pair[1].0),
                "{ranges:?}"
            );
        }
        let mut ports = probes.clone();
        for &(lo, hi) in &ranges {
            assert!(lo <= hi);
            ports.extend([lo.wrapping_sub(1), lo, lo.wrapping_add(1)]);
            ports.extend([hi.wrapping_sub(1), hi, hi.wrapping_add(1)]);
        }
        for &s in &specs {
            ports.extend([
                s.first.wrapping_sub(1),
                s.first,
                s.last,
                s.last.wrapping_add(1),
            ]);
        }
        for &port in &ports {
            let in_ranges = ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&port));
            assert_eq!(in_ranges, covered(port), "port {port} in {ranges:?}");
            if !specs.is_empty() {
                assert_eq!(query.matches_port(protocol, port), in_ranges, "port {port}");
            }
        }
        let program = port_filter(&ranges);
        if program.is_empty() {
            // No kernel filter: only for no ranges, or too many for 16-bit jumps.
            assert!(ranges.is_empty() || ranges.len() > 1024, "{ranges:?}");
            continue;
        }
        assert_eq!(audit(&program), Ok(()), "{ranges:?}");
        for &port in &ports {
            let want = ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&port));
            assert_eq!(run(&program, port), want, "port {port} in {ranges:?}");
        }
    }
});

fn op(program: &[u8], at: usize) -> (u8, usize, usize) {
    let no = u16::from_ne_bytes([program[at + 2], program[at + 3]]);
    (program[at], usize::from(program[at + 1]), usize::from(no))
}

/// inet_diag_bc_run (net/ipv4/inet_diag.c), for the port comparisons we emit.
fn run(program: &[u8], port: u16) -> bool {
    let mut len = program.len() as isize;
    let mut at = 0usize;
    while len > 0 {
        let (code, yes, no) = op(program, at);
        let hit = match code {
            INET_DIAG_BC_NOP => true,
            INET_DIAG_BC_JMP => false,
            INET_DIAG_BC_S_GE => port >= op(program, at + 4).2 as u16,
            INET_DIAG_BC_S_LE => port <= op(program, at + 4).2 as u16,
            _ => panic!("op {code} that we never emit"),
        };
        let step = if hit { yes } else { no };
        at += step;
        len -= step as isize;
    }
    len == 0
}

/// valid_cc: whether `cc` bytes before the end is an op boundary, walking by `yes`.
fn valid_cc(program: &[u8], cc: usize) -> bool {
    let mut len = program.len();
    let mut at = 0;
    while len > 0 {
        if cc == len {
            return true;
        }
        let (_, yes, _) = op(program, at);
        if yes < 4 || yes > len {
            return false;
        }
        at += yes;
        len -= yes;
    }
    false
}

/// inet_diag_bc_audit: the checks the kernel makes before it runs a program (it answers
/// EINVAL to a request that fails them).
fn audit(program: &[u8]) -> Result<(), String> {
    if !program.len().is_multiple_of(4) {
        return Err(format!("length {}", program.len()));
    }
    let mut len = program.len() as isize;
    let mut at = 0usize;
    while len > 0 {
        let (code, yes, no) = op(program, at);
        let min_len = match code {
            INET_DIAG_BC_S_GE | INET_DIAG_BC_S_LE => {
                // valid_port_comparison: the op and the port op after it.
                if len < 8 {
                    return Err(format!("port comparison cut short at {at}"));
                }
                8
            }
            INET_DIAG_BC_JMP | INET_DIAG_BC_NOP => 4,
            other => return Err(format!("op {other} at {at}")),
        };
        if code != INET_DIAG_BC_NOP {
            let no = no as isize;
            if no < min_len || no > len + 4 || no & 3 != 0 {
                return Err(format!("no {no} at {at}"));
            }
            if no < len && !valid_cc(program, (len - no) as usize) {
                return Err(format!("no {no} at {at} lands inside an op"));
            }
        }
        let yes = yes as isize;
        if yes < min_len || yes > len + 4 || yes & 3 != 0 {
            return Err(format!("yes {yes} at {at}"));
        }
        at += yes as usize;
        len -= yes;
    }
    if len == 0 {
        Ok(())
    } else {
        Err(format!("ends at {len}"))
    }
}
