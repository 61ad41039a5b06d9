//! Acting on the plan: ending containers through their engines and signalling owners,
//! each step said as it happens.

use super::{CONTAINER_TEARDOWN, Run};
use crate::container::{self, Ending, Job};
use crate::kill::{self, Pinned, Policy, Report};
use crate::lookup::Lookup;
use crate::model::Owner;

impl Run<'_> {
    /// Ends each container through its engine, and waits (bounded) for the forwarders
    /// that carried its ports to go with it, so that the ports are looked at afterwards.
    pub(super) fn end_containers(
        &mut self,
        containers: &mut Vec<Job>,
        found: &Lookup,
        policy: Policy,
    ) -> Vec<Ending> {
        let mut reports = Vec::new();
        for target in containers.drain(..) {
            let report = container::end(target, policy);
            self.printer.container(&report, self.details.known());
            if !report.outcome.is_failure() {
                let carriers: Vec<&Owner> = found
                    .ownership
                    .owners
                    .iter()
                    .filter(|o| report.job.owners.contains(&o.pid))
                    .collect();
                kill::wait_gone(&carriers, CONTAINER_TEARDOWN);
            }
            reports.push(report);
        }
        reports
    }

    /// Signals the pinned owners, waits, escalates if asked; says each step as it happens.
    pub(super) fn signal(&mut self, pinned: &[Pinned<'_>], policy: Policy) -> Vec<Report> {
        let (printer, details) = (&mut *self.printer, self.details.known());
        kill::execute(pinned, policy, |event| printer.event(event, details))
    }
}
