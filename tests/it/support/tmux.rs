//! A terminal as a person uses it: a tmux server of the test's own (its own socket, so it
//! never touches the user's), typed at with `send-keys` and read with `capture-pane`. It
//! runs in the test's network namespace when started after `private_netns`.

use super::{READY_BOUND, output_within, stderr, stdout, unused_port};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A tmux server of the test's own (its own socket), in the test's network namespace.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A session of `width`×`height` running `command` (a shell unless given).
    pub fn start(width: u16, height: u16, command: &str) -> Tmux {
        let socket = format!("rekt-test-{}-{}", std::process::id(), unused_port());
        let tmux = Tmux { socket };
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        assert!(out.status.success(), "tmux: {}", stderr(&out));
        // The session stays when its command exits, so that a crash is seen, not hidden.
        tmux.run(&["set-option", "-g", "remain-on-exit", "on"]);
        tmux
    }

    pub fn shell(width: u16, height: u16) -> Tmux {
        let tmux = Tmux::start(width, height, "bash --norc --noprofile");
        tmux.wait_for("the shell's prompt", prompt);
        tmux
    }

    pub fn run(&self, args: &[&str]) -> Output {
        output_within(
            Command::new("tmux").arg("-L").arg(&self.socket).args(args),
            READY_BOUND,
        )
    }

    /// Types `keys` (tmux key names: `Enter`, `C-c`, `Escape`, or literal text).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend(keys);
        self.run(&args);
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "0", "-l", text]);
    }

    pub fn screen(&self) -> String {
        stdout(&self.run(&["capture-pane", "-p", "-t", "0"]))
    }

    pub fn display(&self, format: &str) -> String {
        stdout(&self.run(&["display", "-p", "-t", "0", format]))
            .trim()
            .to_owned()
    }

    /// Waits (bounded) until the screen satisfies `ready`; returns it.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + READY_BOUND;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what}; the screen:\n{screen}\ndead: {}",
                self.display("#{pane_dead} #{pane_dead_status}")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pane's process is still running (it did not crash).
    pub fn alive(&self) -> bool {
        self.display("#{pane_dead}") == "0"
    }
    /// Types `text` and Enter, as a person at the pane's shell would.
    pub fn send(&self, text: &str) {
        self.type_text(text);
        self.keys(&["Enter"]);
    }

    /// The PID of the pane's process (its shell).
    pub fn pane_pid(&self) -> u32 {
        self.display("#{pane_pid}").parse().expect("the pane's pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// Whether the screen's last non-empty line is bash's prompt.
pub fn prompt(screen: &str) -> bool {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_end().ends_with('#') || l.trim_end().ends_with('$'))
}
