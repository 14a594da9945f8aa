//! Replaying a rollout as the events a live `codex exec --json` run printed.
