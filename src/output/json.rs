//! `--json`: one document on stdout at the end of the run. The schema is documented in the
//! README ("JSON output").

use std::collections::HashMap;
use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

use super::stream::{Stream, Which};
use super::{Known, Printer, words};
use crate::container::{Container, EndOutcome, Ending};
use crate::exit_codes::ExitCode;
use crate::judge::Role;
use crate::judge::{HiddenSocket, PortVerdict, Status, Verdict};
use crate::kill::{Event, Outcome, Report};
use crate::lookup::Lookup;
use crate::model::{BoundVisibility, Family, Hidden, Owner, Signal, Socket, Text};
use crate::query::PortSpec;
use crate::supervision::Context;
use crate::text;
use std::net::SocketAddr;

#[derive(Default)]
pub(crate) struct JsonPrinter {
    doc: Document,
}

#[derive(Debug, Default, Serialize)]
struct Document {
    mode: &'static str,
    owners: Vec<JsonOwner>,
    /// Matching sockets whose owner could not be found.
    hidden: Vec<JsonSocket>,
    /// Owners not visible because processes could not be inspected (not privileged).
    incomplete: bool,
    /// The verdict on every port asked about (not in list mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    ports: Option<Vec<JsonPort>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hints: Vec<String>,
    /// After -t/-k: the containers rekt ended (or could not end) through their engines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    containers: Vec<JsonEnded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    exit_code: u8,
}

#[derive(Debug, Serialize)]
struct JsonOwner {
    pid: u32,
    name: Option<Text>,
    exe: Option<Text>,
    /// The executable is gone from disk (replaced by a rebuild, or deleted).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    cmdline: Vec<Text>,
    user: Option<Text>,
    uid: Option<u32>,
    sockets: Vec<JsonSocket>,
    /// holder | client | caller | protected | forwarder.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    /// The container it runs in, or (a forwarder) carries the port for, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<JsonContainer>,
    /// A forwarder's kind: docker-proxy, dockerd, rootlesskit, wslrelay, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    forwarder: Option<&'static str>,
    /// Who started it, nearest first (only where the context was read).
    #[serde(skip_serializing_if = "Option::is_none")]
    parents: Option<Vec<JsonProcess>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<Option<JsonUnit>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supervisor: Option<Option<JsonSupervisor>>,
    /// The last signal sent: "terminate" or "kill".
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<&'static str>,
    /// It was stopped, so rekt continued it (SIGCONT) after the SIGTERM.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    continued: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Debug, Serialize)]
struct JsonSocket {
    protocol: &'static str,
    family: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    address: String,
    port: u16,
    state: &'static str,
    uid: Option<u32>,
    /// A link-local IPv6 address's interface (its scope): the name, or the index when the
    /// name is not known here (another network namespace's).
    #[serde(skip_serializing_if = "Option::is_none")]
    interface: Option<Text>,
    /// With --all-netns: the network namespace the socket is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    netns: Option<JsonNetns>,
    /// A hidden socket: why its owner cannot be seen (`other_user`, `hidepid`,
    /// `unreadable`, `other_pid_namespace`, `kernel`, `no_process`; on Windows
    /// `binder_exited`, `reserved`, `unlisted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// A hidden socket: the sentence the human output says about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Debug, Serialize)]
struct JsonNetns {
    inode: u64,
    name: Option<Text>,
}

#[derive(Debug, Serialize)]
struct JsonProcess {
    pid: u32,
    name: Option<Text>,
}

#[derive(Debug, Serialize)]
struct JsonUnit {
    name: Text,
    /// "system", or "user" for a unit of a user's own service manager.
    scope: &'static str,
    /// The uid of that user, for a user unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
}

#[derive(Debug, Serialize)]
struct JsonSupervisor {
    kind: &'static str,
    name: Option<Text>,
    pid: Option<u32>,
    stop_command: Option<String>,
}

/// The verdict on one port and protocol (or a run of free ports of a range).
#[derive(Debug, Serialize)]
struct JsonPort {
    port: u16,
    /// The last port of a run of free ports (a range's); absent for one port.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_port: Option<u16>,
    protocol: &'static str,
    /// held | hidden | blocked | elsewhere | free
    status: &'static str,
    /// A fresh bind() would succeed (status free or elsewhere).
    free: bool,
    held_by: Vec<u32>,
    /// A socket on it has an owner that cannot be seen (its reason is in `hidden`).
    hidden: bool,
    /// After -t/-k: the port was held before the signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    was_held: Option<bool>,
    /// Status blocked: the connections that no process holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    blocked_by: Vec<JsonLingering>,
    /// Status elsewhere: the other network namespaces that hold it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    netns: Vec<JsonPlace>,
    /// Status published: the containers that publish it with no socket here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    published_by: Vec<JsonContainer>,
    /// Status free, when bound-but-not-listening TCP sockets could not be looked for:
    /// `old_kernel` (Linux before 6.8) or `text_tables` (the /proc/net fallback).
    #[serde(skip_serializing_if = "Option::is_none")]
    unseen: Option<&'static str>,
    /// What the human output says about it, when there is more to say than the status.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// How long the port was watched for a newcomer after it was found free; only when it
    /// was watched.
    #[serde(skip_serializing_if = "is_zero")]
    watched_ms: u64,
    /// Newcomers that took the port after the signal: only when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    retaken_by: Vec<JsonNewcomer>,
    /// How long after it was found free the settle watch saw newcomers take it (with
    /// `retaken_by`).
    #[serde(skip_serializing_if = "Option::is_none")]
    retaken_after_ms: Option<u64>,
    /// Status bound_briefly: how long after it was found free the settle watch saw it
    /// bound by a socket that was gone, with its process, before rekt could name them.
    #[serde(skip_serializing_if = "Option::is_none")]
    bound_briefly_after_ms: Option<u64>,
    /// Status free: nothing holds it, but the user running rekt may not bind it (a port
    /// below net.ipv4.ip_unprivileged_port_start), so `free` is false.
    #[serde(skip_serializing_if = "is_false")]
    needs_privilege: bool,
    /// After -t/-k: the sockets on it whose owners cannot be seen, with why (before a
    /// signal they are in the document's `hidden`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hidden_by: Vec<JsonSocket>,
}

#[derive(Debug, Serialize)]
struct JsonNewcomer {
    pid: u32,
    name: Option<Text>,
    /// It started after the signal (a restart); false: it was already running and took
    /// the port then.
    restarted: bool,
    parents: Vec<JsonProcess>,
    unit: Option<JsonUnit>,
    supervisor: Option<JsonSupervisor>,
}

fn is_false(b: &bool) -> bool {
    !b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn parents(context: &Context, details: &Known) -> Vec<JsonProcess> {
    context
        .parents
        .iter()
        .map(|&pid| JsonProcess {
            pid,
            name: details.info(pid).and_then(|i| i.shown_name().cloned()),
        })
        .collect()
}

fn unit(context: &Context) -> Option<JsonUnit> {
    context.unit.as_ref().map(|u| JsonUnit {
        name: u.name.clone(),
        scope: if u.user.is_some() { "user" } else { "system" },
        uid: u.user,
    })
}

fn supervisor(context: &Context) -> Option<JsonSupervisor> {
    context.supervisor.as_ref().map(|s| JsonSupervisor {
        kind: s.kind.as_str(),
        name: s.name.clone(),
        pid: s.pid,
        stop_command: s.stop.clone(),
    })
}

/// A container rekt set out to end, and how that went.
#[derive(Debug, Serialize)]
struct JsonEnded {
    #[serde(flatten)]
    container: JsonContainer,
    /// The owners it holds the port through (its processes, its forwarders).
    owners: Vec<u32>,
    /// "stop" (-t) or "kill" (-k).
    action: &'static str,
    /// stopped | killed | not_running | declined | refused | failed
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// A container: an owner's, a forwarder's, a port's publisher, or one rekt ended.
#[derive(Debug, Serialize)]
struct JsonContainer {
    runtime: &'static str,
    id: String,
    name: Option<Text>,
    image: Option<Text>,
    /// A restart policy that can bring it back, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    restart: Option<Text>,
    /// The Kubernetes pod's UID, when it runs in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pod: Option<String>,
    /// Whether an engine's API answers for it (if not, rekt cannot end it).
    engine: bool,
    /// The address of the engine it belongs to (`unix:///run/docker.sock`), when known,
    /// whether or not it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    engine_host: Option<Text>,
    /// The command that ends it by hand (`docker stop web`).
    command: String,
}

impl From<&Container> for JsonContainer {
    fn from(c: &Container) -> JsonContainer {
        JsonContainer {
            runtime: c.runtime.as_str(),
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            restart: c.restart.clone(),
            pod: c.pod.clone(),
            engine: c.answers(),
            engine_host: c.engine.as_ref().map(|e| e.endpoint.address()),
            command: c.command(Signal::Terminate),
        }
    }
}

#[derive(Debug, Serialize)]
struct JsonLingering {
    state: &'static str,
    address: String,
    /// Milliseconds until the kernel drops it, when known.
    ends_in_ms: Option<u64>,
}

#[derive(Debug, Serialize)]
struct JsonPlace {
    inode: u64,
    name: Option<Text>,
    pids: Vec<u32>,
}

/// The sockets on a port whose owners cannot be seen.
fn hidden_sockets(status: &Status) -> &[HiddenSocket] {
    match status {
        Status::Held { hidden, .. } => hidden,
        Status::Hidden { sockets } => sockets,
        _ => &[],
    }
}

fn port(p: &PortVerdict, after: bool, details: &Known) -> JsonPort {
    let mut json = JsonPort {
        port: p.first(),
        last_port: (p.last() != p.first()).then_some(p.last()),
        protocol: p.protocol().as_str(),
        status: "free",
        free: false,
        held_by: Vec::new(),
        hidden: p.status().has_hidden(),
        was_held: after.then_some(p.was_held()),
        blocked_by: Vec::new(),
        netns: Vec::new(),
        published_by: Vec::new(),
        unseen: None,
        message: None,
        watched_ms: p.after().map_or(0, |a| a.watched.as_millis() as u64),
        retaken_by: p
            .newcomers()
            .iter()
            .map(|n| {
                let pid = n.pid;
                let context = details.context(pid).cloned().unwrap_or_default();
                JsonNewcomer {
                    pid,
                    name: details.info(pid).and_then(|i| i.shown_name().cloned()),
                    restarted: n.restarted,
                    parents: parents(&context, details),
                    unit: unit(&context),
                    supervisor: supervisor(&context),
                }
            })
            .collect(),
        retaken_after_ms: p
            .after()
            .filter(|a| !a.newcomers.is_empty())
            .and_then(|a| a.retaken_after)
            .map(|d| d.as_millis() as u64),
        bound_briefly_after_ms: None,
        needs_privilege: false,
        hidden_by: Vec::new(),
    };
    if after {
        json.hidden_by = hidden_sockets(p.status())
            .iter()
            .map(|h| JsonSocket {
                reason: h.reason.as_ref().map(reason_name),
                message: Some(words::hidden(&h.socket, h.reason.as_ref(), details)),
                ..socket(&h.socket, &Lookup::default(), details)
            })
            .collect();
    }
    match p.status() {
        Status::Held { pids, .. } => {
            json.status = "held";
            json.held_by = pids.clone();
        }
        Status::Hidden { .. } => json.status = "hidden",
        Status::BoundBriefly { .. } => {
            json.status = "bound_briefly";
            json.bound_briefly_after_ms = p
                .after()
                .and_then(|a| a.retaken_after)
                .map(|d| d.as_millis() as u64);
            json.message = Some(words::bound_briefly(p));
        }
        Status::Blocked { lingering } => {
            json.status = "blocked";
            json.blocked_by = lingering
                .iter()
                .map(|l| JsonLingering {
                    state: l.socket.state.as_str(),
                    address: l.socket.local.ip().to_string(),
                    ends_in_ms: l.ends_in.map(|d| d.as_millis() as u64),
                })
                .collect();
            json.message = Some(words::blocked(
                p.first(),
                p.protocol(),
                lingering,
                after && p.was_held(),
            ));
        }
        Status::Elsewhere { places } => {
            json.status = "elsewhere";
            json.free = true;
            json.netns = places
                .iter()
                .map(|place| JsonPlace {
                    inode: place.netns.inode,
                    name: place.netns.name.clone(),
                    pids: place.pids.clone(),
                })
                .collect();
        }
        Status::Published { containers } => {
            json.status = "published";
            json.free = true;
            json.published_by = containers.iter().map(JsonContainer::from).collect();
            json.message = Some(words::published(p.first(), p.protocol(), containers, after));
        }
        Status::Free { unseen, privileged } => {
            // Free for whom asked: a port this user may not bind is not.
            json.free = !privileged;
            json.needs_privilege = *privileged;
            if *privileged {
                json.message = Some(words::needs_privilege(
                    p.first(),
                    p.last(),
                    p.protocol(),
                    details,
                ));
            }
            json.unseen = unseen.and_then(|u| match u {
                BoundVisibility::OldKernel => Some("old_kernel"),
                BoundVisibility::TextTables => Some("text_tables"),
                BoundVisibility::Shown | BoundVisibility::Unknown => None,
            });
            if let Some(u) = unseen {
                json.message = Some(words::unseen(*u).to_owned());
            }
        }
    }
    json
}

/// The name of a hidden socket's reason in JSON.
fn reason_name(reason: &Hidden) -> &'static str {
    match reason {
        Hidden::OtherUser => "other_user",
        Hidden::HiddenPid => "hidepid",
        Hidden::Unreadable { .. } => "unreadable",
        Hidden::OtherPidNamespace => "other_pid_namespace",
        Hidden::Kernel { .. } => "kernel",
        Hidden::NoProcess => "no_process",
        Hidden::BinderExited { .. } => "binder_exited",
        Hidden::Reserved => "reserved",
        Hidden::Unlisted => "unlisted",
    }
}

fn socket(s: &Socket, found: &Lookup, details: &Known) -> JsonSocket {
    // An interface index names an interface of the socket's own namespace.
    let interface = match s.local {
        SocketAddr::V6(a) if a.scope_id() != 0 && a.ip().is_unicast_link_local() => Some(
            found
                .netns
                .is_empty()
                .then(|| details.interface(a.scope_id()))
                .flatten()
                .unwrap_or_else(|| Text::from(a.scope_id().to_string())),
        ),
        _ => None,
    };
    JsonSocket {
        netns: found.netns.get(&s.key).map(|ns| JsonNetns {
            inode: ns.inode,
            name: ns.name.clone(),
        }),
        interface,
        ..JsonSocket::from(s)
    }
}

impl From<&Socket> for JsonSocket {
    fn from(s: &Socket) -> JsonSocket {
        JsonSocket {
            protocol: s.protocol.as_str(),
            family: match s.family {
                Family::V4 => "ipv4",
                Family::V6 => "ipv6",
            },
            kind: s.kind(),
            address: s.local.ip().to_string(),
            port: s.port(),
            state: s.state.as_str(),
            uid: s.uid,
            interface: None,
            netns: None,
            reason: None,
            message: None,
        }
    }
}

fn owner(o: &Owner, found: &Lookup, details: &Known) -> JsonOwner {
    let info = details.info(o.pid).cloned().unwrap_or_default();
    let context = details.context(o.pid);
    let role = details.role(o.pid);
    let forwarding = match role {
        Some(Role::Forwarder(f)) => Some(f),
        _ => None,
    };
    JsonOwner {
        container: forwarding
            .and_then(|f| f.container.as_ref())
            .or_else(|| details.container(o.pid))
            .map(JsonContainer::from),
        forwarder: forwarding.map(|f| f.kind.name()),
        role: role.map(|r| r.as_str()),
        parents: context.map(|c| parents(c, details)),
        unit: context.map(unit),
        supervisor: context.map(supervisor),
        continued: false,
        pid: o.pid,
        name: info.shown_name().cloned(),
        exe: info.exe,
        deleted: info.deleted,
        cmdline: info.cmdline,
        user: info.user,
        uid: info.uid,
        sockets: o
            .sockets
            .iter()
            .map(|s| socket(s, found, details))
            .collect(),
        signal: None,
        outcome: None,
        message: None,
    }
}

impl JsonPrinter {
    /// The document for a command line that could not be run.
    pub(crate) fn usage_error(&mut self, error: &crate::error::UsageError) {
        self.doc.mode = "usage";
        self.doc.error = Some(error.to_string());
    }

    fn record(&mut self, mode: &'static str, found: &Lookup, details: &Known) {
        self.doc.mode = mode;
        self.doc.owners = found
            .ownership
            .owners
            .iter()
            .map(|o| owner(o, found, details))
            .collect();
        self.doc.hidden = found
            .ownership
            .hidden
            .iter()
            .map(|s| {
                let reason = found.ownership.reasons.get(&s.key);
                JsonSocket {
                    reason: reason.map(reason_name),
                    message: Some(words::hidden(s, reason, details)),
                    ..socket(s, found, details)
                }
            })
            .collect();
        self.doc.incomplete = found.ownership.incomplete;
    }
}

/// The name of an outcome in JSON.
fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Exited => "exited",
        Outcome::Released => "released",
        Outcome::HeldBack { .. } => "held_back",
        Outcome::StillRunning => "still_running",
        Outcome::NotWaited => "not_waited",
        Outcome::ViaContainer => "container",
        Outcome::Refused | Outcome::Guarded(_) => "refused",
        Outcome::Skipped => "skipped",
        Outcome::Denied(_) => "denied",
        Outcome::AlreadyGone => "already_gone",
        Outcome::Declined => "declined",
        Outcome::NoWindows => "no_windows",
        Outcome::ConsoleOnly => "console_only",
        Outcome::Failed(_) => "failed",
    }
}

impl Printer for JsonPrinter {
    fn wants_details(&self, _: bool, _: bool) -> bool {
        true
    }

    fn wants_context(&self, _: bool) -> bool {
        true
    }

    /// The owner's `supervisor` says it.
    fn supervised(&mut self, _: u32, _: &Known) {}

    fn too_many(&mut self, count: usize, ports: &[PortSpec], asked: bool) {
        self.doc.error = Some(words::too_many(count, ports, asked));
    }

    fn owners(&mut self, found: &Lookup, details: &Known) {
        self.record("lookup", found, details);
    }

    fn listeners(&mut self, found: &Lookup, details: &Known) {
        self.record("list", found, details);
    }

    fn hidden(&mut self, _: &Lookup, _: bool, _: &Known) {}

    fn verdict(&mut self, verdict: &Verdict, details: &Known) {
        let after = verdict.after_signal();
        self.doc.ports = Some(verdict.entries().map(|p| port(p, after, details)).collect());
        for p in verdict.entries() {
            if let Status::Elsewhere { places } = p.status() {
                for place in places {
                    let hint = words::elsewhere(p.first(), p.protocol(), place);
                    if !self.doc.hints.contains(&hint) {
                        self.doc.hints.push(hint);
                    }
                }
            }
        }
    }

    fn skipped(&mut self, _: &Report, _: &Known) {}

    fn container(&mut self, report: &Ending, details: &Known) {
        self.doc.containers.push(JsonEnded {
            container: JsonContainer::from(&report.job.container),
            owners: report.job.owners.clone(),
            action: report.signal.engine_verb(),
            outcome: match &report.outcome {
                EndOutcome::Stopped => "stopped",
                EndOutcome::Killed => "killed",
                EndOutcome::NotRunning => "not_running",
                EndOutcome::Declined => "declined",
                EndOutcome::Unreachable(_) => "refused",
                EndOutcome::Failed(_) => "failed",
            },
            message: matches!(
                report.outcome,
                EndOutcome::Unreachable(_) | EndOutcome::Failed(_)
            )
            .then(|| words::container_ended(report, details)),
        });
    }

    fn event(&mut self, _: Event<'_>, _: &Known) {}

    fn outcomes(&mut self, reports: &[Report], details: &Known) {
        let by_pid: HashMap<u32, &Report> = reports.iter().map(|r| (r.pid, r)).collect();
        for owner in &mut self.doc.owners {
            if let Some(report) = by_pid.get(&owner.pid) {
                owner.outcome = Some(outcome_name(&report.outcome));
                owner.signal = report.signal.map(Signal::verb);
                owner.continued = report.continued;
                owner.message = words::outcome_detail(report.pid, &report.outcome, details);
            }
        }
    }

    fn lookup_failed(&mut self, error: &io::Error) {
        self.doc.error = Some(words::lookup_failed(error));
    }

    fn recheck_failed(&mut self, error: &io::Error) {
        self.doc.error = Some(words::recheck_failed(error));
    }

    fn finish(&mut self, code: ExitCode) -> ExitCode {
        self.doc.exit_code = code as u8;
        if self.doc.mode.is_empty() {
            self.doc.mode = "lookup";
        }
        let mut out = Stream::new(Which::Stdout);
        let mut text = Vec::new();
        let mut serializer =
            serde_json::Serializer::with_formatter(&mut text, SafeFormatter::default());
        // Plain data with string keys cannot fail to serialize, but that is no reason to
        // panic either.
        if self.doc.serialize(&mut serializer).is_err() {
            return ExitCode::Error;
        }
        text.push(b'\n');
        out.write(&text);
        // The document could not be written (a full disk; a closed pipe is no failure):
        // stderr, which JSON otherwise keeps clean, says why.
        if let Some(e) = out.failure() {
            Stream::new(Which::Stderr).line(&format!(
                "rekt: {}",
                words::cannot_write("the JSON document", e)
            ));
            return ExitCode::Error;
        }
        code
    }
}

/// serde_json's pretty printer, except that strings also escape what a terminal could act
/// on (DEL, C1 controls, invisible format and bidi controls) as `\uXXXX`. serde_json
/// escapes only C0 controls; the value is the same either way, but a document shown on a
/// terminal can then not recolour it or hide text.
#[derive(Default)]
struct SafeFormatter<'a>(PrettyFormatter<'a>);

impl Formatter for SafeFormatter<'_> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut plain = 0;
        for (i, c) in fragment.char_indices() {
            if text::is_terminal_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[plain..i])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                plain = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[plain..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe_json(value: &str) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeFormatter::default());
        value.serialize(&mut ser).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_what_a_terminal_would_act_on() {
        let hostile = "py\x1b[31mRED\u{9b}2J\u{202e}gpj.exe\u{7f}\u{e0041}";
        let json = safe_json(hostile);
        assert_eq!(
            json,
            r#""py\u001b[31mRED\u009b2J\u202egpj.exe\u007f\udb40\udc41""#
        );
        assert!(!json.chars().any(text::is_terminal_unsafe), "{json}");
        // The value is unchanged.
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), hostile);
        assert_eq!(safe_json("サーバー"), "\"サーバー\"");
    }
}
