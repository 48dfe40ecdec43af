//! kubectl-krill run as a user runs it, against whichever cluster `KRILL_CLUSTER` names (the
//! cluster suite's fixtures): each command's output and its failure modes. What needs a running
//! container (exec, logs, chat, snapshots) says NOT RUN on simulated nodes.

mod errors;
mod real;
mod restore;
mod status;
mod support;
mod values;
