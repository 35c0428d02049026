//! The closed sets of states the REST API reports, each with its one `ALL` list (the known
//! values, in the order the state families write them), and [`Reported`]: a known value or
//! the raw text of one the exporter does not know (exported as is).

use crate::util::{closed_set, ClosedSet};

closed_set! {
    /// A link's `link_state` (`clusterlink_link_state{state}`).
    pub enum LinkState {
        /// Mirroring.
        Active = "ACTIVE",
        /// Failed (see the link error).
        Failed = "FAILED",
        /// The source cluster cannot be reached.
        Unavailable = "UNAVAILABLE",
        /// Paused by an operator.
        Paused = "PAUSED",
        /// Reported as unknown, or not reported (an empty or missing state).
        Unknown = "UNKNOWN",
    }
}

closed_set! {
    /// A link's `link_error` (`clusterlink_link_error{error}`).
    pub enum LinkError {
        /// Healthy, or not reported (an empty or missing error).
        NoError = "NO_ERROR",
        /// An error Confluent does not classify.
        Unknown = "UNKNOWN",
        /// The source cluster refused the link's credentials.
        AuthenticationError = "AUTHENTICATION_ERROR",
        /// The source's bootstrap servers do not resolve.
        UnresolvableBootstrapError = "UNRESOLVABLE_BOOTSTRAP_ERROR",
        /// The bootstrap points at an internal endpoint.
        InvalidBootstrapInternalEndpointError = "INVALID_BOOTSTRAP_INTERNAL_ENDPOINT_ERROR",
        /// No TCP connection to the bootstrap servers.
        BootstrapTcpConnectionFailedError = "BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR",
        /// Requests to the source time out.
        TimeoutError = "TIMEOUT_ERROR",
    }
}

closed_set! {
    /// A link task's `state` (`clusterlink_link_task_state{state}`).
    pub enum TaskState {
        /// Reported as unknown, or not reported.
        Unknown = "UNKNOWN",
        /// Running.
        Active = "ACTIVE",
        /// Failing (see the task's errors).
        InError = "IN_ERROR",
        /// The link does not enable the task.
        NotConfigured = "NOT_CONFIGURED",
        /// The link failed.
        LinkFailed = "LINK_FAILED",
        /// The link is unavailable.
        LinkUnavailable = "LINK_UNAVAILABLE",
        /// The link is paused.
        LinkPaused = "LINK_PAUSED",
    }
}

closed_set! {
    /// A mirror topic's `mirror_status` (`clusterlink_mirror_topic_state{state}`,
    /// `clusterlink_link_mirror_topics{state}`).
    pub enum MirrorState {
        /// Mirroring.
        Active = "ACTIVE",
        /// Failed (see the mirror topic error).
        Failed = "FAILED",
        /// Paused by an operator.
        Paused = "PAUSED",
        /// Promoted or failed over: a regular topic now (not measured over Kafka).
        Stopped = "STOPPED",
        /// Being stopped.
        PendingStopped = "PENDING_STOPPED",
        /// Synchronizing before a promotion.
        PendingSynchronize = "PENDING_SYNCHRONIZE",
        /// Being set up.
        PendingMirror = "PENDING_MIRROR",
        /// The source topic cannot be read.
        SourceUnavailable = "SOURCE_UNAVAILABLE",
        /// The link failed.
        LinkFailed = "LINK_FAILED",
        /// The link is paused.
        LinkPaused = "LINK_PAUSED",
        /// Being set up for a restore.
        PendingSetupForRestore = "PENDING_SETUP_FOR_RESTORE",
        /// Being restored.
        PendingRestore = "PENDING_RESTORE",
        /// Reported as unknown, or not reported.
        Unknown = "UNKNOWN",
    }
}

closed_set! {
    /// A `state_category` of Confluent Cloud's `category_counts`
    /// (`clusterlink_link_mirror_partitions{state_category}`).
    pub enum StateCategory {
        /// Mirroring.
        Active = "ACTIVE",
        /// Paused.
        Paused = "PAUSED",
        /// Failing.
        InError = "IN_ERROR",
        /// In a pending state.
        Pending = "PENDING",
        /// Not applicable (e.g. stopped).
        NotApplicable = "NOT_APPLICABLE",
    }
}

/// A value of a closed set as the REST API reported it: a known value, or the raw text of
/// another (a state a newer Confluent version added), which is exported as is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reported<T> {
    /// One of the set's values.
    Known(T),
    /// Text that is none of them (possibly empty).
    Other(String),
}

impl<T: ClosedSet> Reported<T> {
    /// `raw` as reported: known when it is exactly one of the set's labels.
    pub(crate) fn parse(raw: &str) -> Self {
        T::from_label(raw).map_or_else(|| Self::Other(raw.to_owned()), Self::Known)
    }

    /// `raw`, or `default` when it is missing or empty.
    pub(crate) fn parse_or(raw: Option<&str>, default: T) -> Self {
        match raw.filter(|r| !r.is_empty()) {
            Some(r) => Self::parse(r),
            None => Self::Known(default),
        }
    }

    /// The label value: the known value's, or the raw text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Known(v) => v.as_str(),
            Self::Other(raw) => raw,
        }
    }

    /// Whether this is the known value `value`.
    pub(crate) fn is(&self, value: T) -> bool {
        matches!(self, Self::Known(v) if *v == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_values_are_known_exactly_or_kept_raw() {
        assert_eq!(
            Reported::<LinkState>::parse("PAUSED"),
            Reported::Known(LinkState::Paused)
        );
        // Exact match only: another case is another (raw) value.
        assert_eq!(
            Reported::<LinkState>::parse("paused"),
            Reported::Other("paused".into())
        );
        assert_eq!(
            Reported::parse_or(Some(""), LinkError::NoError).as_str(),
            "NO_ERROR"
        );
        assert_eq!(
            Reported::parse_or(None, TaskState::Unknown),
            Reported::Known(TaskState::Unknown)
        );
        assert_eq!(
            Reported::<MirrorState>::parse_or(Some("BRAND_NEW"), MirrorState::Unknown).as_str(),
            "BRAND_NEW"
        );
        assert!(Reported::<MirrorState>::parse("STOPPED").is(MirrorState::Stopped));
    }

    #[test]
    fn every_set_lists_each_value_once_with_its_label() {
        fn check<T: ClosedSet + std::fmt::Debug>() {
            let labels: std::collections::BTreeSet<&str> =
                T::all().iter().map(|v| v.as_str()).collect();
            assert_eq!(labels.len(), T::all().len());
            for v in T::all() {
                assert_eq!(T::from_label(v.as_str()), Some(*v));
            }
        }
        check::<LinkState>();
        check::<LinkError>();
        check::<TaskState>();
        check::<MirrorState>();
        check::<StateCategory>();
        assert_eq!(MirrorState::ALL.len(), 13);
        assert_eq!(LinkError::NoError, "NO_ERROR");
    }
}
