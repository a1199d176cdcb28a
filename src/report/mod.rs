//! Human and JSON renderings of each command's result.

pub mod deployment;
