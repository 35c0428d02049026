//! Entry points for the end-to-end tests and tools: a collector run by hand, the REST
//! decoders, the telemetry without an exporter, the test hooks. Not a stable API: these
//! change with the code they reach into.

pub use crate::collect::{Collector, CollectorOutputs, RateLimitBackoff};
pub use crate::exporter::Telemetry;
pub use crate::render::{families_in, Exposition};
pub use crate::rest_client::{
    decode_link, decode_link_config, decode_mirror, retry_after, RestError, MAX_RETRY_AFTER,
};
pub use crate::snapshot::{ClusterSnapshot, Publish};
pub use crate::status::StatusStore;
#[cfg(feature = "test-hooks")]
pub use crate::supervise::test_hooks::panic_next;
pub use crate::util::unix_ms;
