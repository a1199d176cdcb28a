//! Human renderings of command results: one place, so every command reads alike. JSON
//! documents are the serialized result types themselves.

pub mod deployment;
pub mod diagnosis;
pub mod github;
pub mod incident;
pub mod whoami;
