//! Visiting every process on several threads: the per-process scan is nearly all of a
//! lookup's time on Linux (`/proc/PID/fd`) and on macOS (libproc's fd lists), and the
//! processes are independent.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many processes one thread is as fast as two: starting a thread costs about
/// as much as scanning a few dozen small processes. Measured on Linux, 2 cores, with
/// `REKT_THREADS` (bench/README.md): 12 processes 2.1 ms either way, 32 processes 2.5 ms
/// with one thread and 2.3 ms with two, 77 processes 3.0 ms and 2.6 ms. macOS uses the
/// same threshold, unmeasured: a Mac always runs hundreds of processes, far above it.
const PARALLEL_THRESHOLD: usize = 32;

/// Processes handed to a thread at a time: small enough to balance one huge process
/// against many small ones, large enough that the shared counter is not contended.
const CHUNK: usize = 8;

/// Visits every PID, on as many threads as pay off for that many processes (see
/// `thread_count`), each thread with its own state from `init`; returns the states. Work is
/// handed out in small chunks, so one huge process does not leave a thread idle.
pub(crate) fn for_each_pid<S: Send>(
    pids: &[u32],
    init: impl Fn() -> S + Sync,
    visit: impl Fn(&mut S, u32) + Sync,
) -> Vec<S> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut state = init();
        loop {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= pids.len() {
                break;
            }
            for &pid in &pids[start..pids.len().min(start + CHUNK)] {
                visit(&mut state, pid);
            }
        }
        state
    };
    let threads = thread_count(pids.len());
    if threads <= 1 {
        return vec![work()];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut states = vec![work()];
        for handle in handles {
            states.push(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        states
    })
}

/// How many threads should scan `processes` processes. `REKT_THREADS` overrides the
/// choice; bench/README.md shows how the threshold was measured with it.
fn thread_count(processes: usize) -> usize {
    if let Some(n) = std::env::var("REKT_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 64);
    }
    if processes >= PARALLEL_THRESHOLD {
        cores()
    } else {
        1
    }
}

/// The cores this process may use, read once per run: the standard library reads the
/// cgroup's CPU quota files each time it is asked, and a lookup asks from two threads (the
/// fd scan and the other namespaces' search).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pid_is_visited_once() {
        for n in [0, 1, 31, 32, 200] {
            let pids: Vec<u32> = (0..n).collect();
            let states = for_each_pid(&pids, Vec::new, |seen: &mut Vec<u32>, pid| seen.push(pid));
            let mut seen: Vec<u32> = states.into_iter().flatten().collect();
            seen.sort_unstable();
            assert_eq!(seen, pids);
        }
    }
}
