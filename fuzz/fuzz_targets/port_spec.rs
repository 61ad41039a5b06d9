//! `PortSpec::from_str` on arbitrary UTF-8, then `Query::port_ranges` and
//! `sock_diag::port_filter` on the specs that parsed.
//!
//! Input: UTF-8 text, one port spec per line.
//! Checks: no panic; a spec that parses has 1 <= first <= last and reparses from its
//! canonical form; an error is one line. The merged ranges are sorted, disjoint, not
//! adjacent, and cover exactly the ports the specs cover. The inet_diag bytecode passes
//! the kernel's audit (inet_diag_bc_audit) and, run as the kernel runs it
//! (inet_diag_bc_run), accepts exactly the ports in the ranges: checked at every range
//! boundary and its neighbours, and at ports taken from the input. The dump requests
//! (`sock_diag::request`, `request_tcp_both`) carry that bytecode, with every length
//! field right.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekt::model::{Family, Protocol};
use rekt::internals::{port_filter, request, request_tcp_both};
use rekt::{PortSpec, Query};

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
        let covered = coverage(&specs, protocol);
        let ranges = query.port_ranges(protocol);
        for pair in ranges.windows(2) {
            assert!(
                u32::from(pair[0].1) + 1 < u32::from(pair[1].0),
                "{ranges:?}"
            );
        }
        let in_ranges = |port: u16| {
            let after = ranges.partition_point(|&(lo, _)| lo <= port);
            after > 0 && port <= ranges[after - 1].1
        };
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
            assert_eq!(in_ranges(port), covered(port), "port {port} in {ranges:?}");
        }
        // The checks below cost O(ranges) per port: at most about 512 ports, spread over
        // the list (probes first, then every range's boundaries).
        let stride = ports.len().div_ceil(512).max(1);
        let sample: Vec<u16> = ports
            .iter()
            .skip(data.len() % stride)
            .step_by(stride)
            .copied()
            .collect();
        if !specs.is_empty() {
            for &port in &sample {
                assert_eq!(
                    query.matches_port(protocol, port),
                    in_ranges(port),
                    "port {port}"
                );
            }
        }
        let program = port_filter(&ranges);
        check_requests(&query, protocol, &program);
        if program.is_empty() {
            // No kernel filter: only for no ranges, or too many for 16-bit jumps.
            assert!(ranges.is_empty() || ranges.len() > 1024, "{ranges:?}");
            continue;
        }
        assert_eq!(audit(&program), Ok(()), "{ranges:?}");
        for &port in &sample {
            assert_eq!(
                run(&program, port),
                in_ranges(port),
                "port {port} in {ranges:?}"
            );
        }
    }
});

/// Which ports the specs cover for `protocol`, computed apart from `Query::port_ranges`:
/// a scan for a few specs, a bitmap for many.
fn coverage(specs: &[PortSpec], protocol: Protocol) -> impl Fn(u16) -> bool + '_ {
    let bitmap = (specs.len() > 32).then(|| {
        let mut depth = vec![0i32; 65537];
        for s in specs
            .iter()
            .filter(|s| s.protocol.is_none_or(|p| p == protocol))
        {
            depth[usize::from(s.first)] += 1;
            depth[usize::from(s.last) + 1] -= 1;
        }
        let mut level = 0;
        depth[..65536]
            .iter()
            .map(|d| {
                level += d;
                level > 0
            })
            .collect::<Vec<bool>>()
    });
    move |port| match &bitmap {
        Some(bits) => bits[usize::from(port)],
        None => specs.iter().any(|s| s.contains(protocol, port)),
    }
}

/// The dump requests carry `program` as their bytecode attribute, and every length field
/// matches the bytes that follow it.
fn check_requests(query: &Query, protocol: Protocol, program: &[u8]) {
    let mut requests = vec![
        (request(protocol, Family::V4, query, 7), 56),
        (request(protocol, Family::V6, query, 8), 56),
    ];
    if protocol == Protocol::Tcp {
        requests.push((request_tcp_both(query, 9), 60));
    }
    for (req, body_len) in requests {
        let len = u32::from_ne_bytes(req[0..4].try_into().unwrap()) as usize;
        assert_eq!(len, req.len());
        let attr = &req[16 + body_len..];
        if program.is_empty() {
            assert!(attr.is_empty());
            continue;
        }
        let attr_len = u16::from_ne_bytes([attr[0], attr[1]]) as usize;
        assert_eq!(attr_len, attr.len());
        assert_eq!(u16::from_ne_bytes([attr[2], attr[3]]), 1); // INET_DIAG_REQ_BYTECODE
        assert_eq!(&attr[4..], program);
    }
}

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
