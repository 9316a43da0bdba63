//! Empty: this crate only holds the `peers` benchmark.
