//! Reading rekt's output as it would be if no other network namespace held the test's
//! port numbers.

use super::{in_pid_sandbox, private, started_here};

/// `text` (rekt's stderr) as it would read if no other network namespace held the test's
/// port numbers: a test in a private namespace (not a PID sandbox) shares port numbers with
/// whatever the machine runs (ci-strangers.sh holds every one the tests draw, on purpose),
/// and rekt rightly says `port 12158/tcp is free here, but held in network namespace … by
/// PID 22744`. Those lines are about processes the test did not start, so they are read as
/// what they say about the test's own namespace: `port 12158/tcp is free`. Tests that are
/// about such hints run in a PID sandbox, where this changes nothing.
#[cfg(target_os = "linux")]
pub fn here(text: &str) -> String {
    if in_pid_sandbox() || !private() {
        return text.to_owned();
    }
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let bare = line.strip_prefix("rekt: ").unwrap_or(line);
        let read = match bare.split_once(" is free here, but held in network namespace ") {
            Some((port, rest))
                if rest.ends_with("; use --all-netns to see it") && foreign(rest) =>
            {
                if bare.len() == line.len() {
                    format!("{port} is free")
                } else {
                    // Before a signal the free port's line is the `nothing holds` note.
                    format!("rekt: nothing holds {port}")
                }
            }
            _ => line.to_owned(),
        };
        // Two foreign namespaces read as the same line once.
        if out.last() != Some(&read) || read == line {
            out.push(read);
        }
    }
    let mut text_out = out.join("\n");
    if !out.is_empty() {
        text_out.push('\n');
    }
    text_out
}

/// Whether the rest of a hint line (`4026531833 by PIDs 22744, 22745; use …`) names only
/// processes that this thread's test did not start.
#[cfg(target_os = "linux")]
fn foreign(rest: &str) -> bool {
    let pids: Vec<u32> = rest
        .split(|c: char| !c.is_ascii_digit())
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    !pids.is_empty() && pids.iter().all(|&p| !started_here(p))
}

/// [`here`] for a JSON document: a port whose status is `elsewhere` reads `free`, without
/// its `netns`, and the hints go.
#[cfg(target_os = "linux")]
pub fn json_here(mut doc: serde_json::Value) -> serde_json::Value {
    if in_pid_sandbox() || !private() {
        return doc;
    }
    if let Some(ports) = doc.get_mut("ports").and_then(|p| p.as_array_mut()) {
        for port in ports {
            let pids: Vec<u32> = port["netns"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|place| place["pids"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| p.as_u64().map(|p| p as u32))
                .collect();
            let ours = pids.iter().any(|&p| started_here(p));
            if port["status"] == "elsewhere"
                && !ours
                && let Some(map) = port.as_object_mut()
            {
                map.insert("status".into(), "free".into());
                map.remove("netns");
            }
        }
    }
    if let Some(hints) = doc.get_mut("hints").and_then(|h| h.as_array_mut()) {
        hints.retain(|hint| {
            let text = hint.as_str().unwrap_or("");
            !text
                .split_once(" is free here, but held in network namespace ")
                .is_some_and(|(_, rest)| foreign(rest))
        });
        if hints.is_empty()
            && let Some(map) = doc.as_object_mut()
        {
            map.remove("hints");
        }
    }
    doc
}
