//! Entry points for the fuzz targets and the corpus replay test (feature `__fuzz`).
//! Not a stable API.

pub use crate::server::fuzz::{server_script, server_split_differential};
