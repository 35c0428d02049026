//! The standard `process_*` families every Prometheus client library exports on Linux
//! (names, types and help texts as client_golang's process collector), read from
//! `/proc/self` through the `procfs` crate when `/metrics` is scraped: no background work and
//! no upstream call. [`ProcessCollector::register`] adds them to a registry; they carry no
//! prefix (not `clusterlink_`), so dashboards and alerts written for any exporter work.
//!
//! | family | type | source |
//! |---|---|---|
//! | `process_cpu_seconds_total` | counter | `utime + stime` of `/proc/self/stat`, in clock ticks |
//! | `process_open_fds` | gauge | entries of `/proc/self/fd` |
//! | `process_max_fds` | gauge | soft "Max open files" of `/proc/self/limits` |
//! | `process_virtual_memory_bytes` | gauge | `vsize` of `/proc/self/stat` |
//! | `process_virtual_memory_max_bytes` | gauge | soft "Max address space" of `/proc/self/limits` |
//! | `process_resident_memory_bytes` | gauge | `rss` of `/proc/self/stat` × the page size |
//! | `process_start_time_seconds` | gauge | `starttime` of `/proc/self/stat` + `btime` of `/proc/stat` |
//! | `process_threads` | gauge | `num_threads` of `/proc/self/stat` |
//!
//! A limit that is `unlimited` is written as 2⁶⁴−1, as client_golang does. A file that cannot
//! be read or parsed leaves out the families it feeds (the others are still written); nothing
//! here panics. On other operating systems the collector writes nothing.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;

/// Writes the `process_*` families at each scrape (see the module docs for what each reads).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ProcessCollector;

impl ProcessCollector {
    /// Registers the collector in `registry`. Its families take `registry`'s prefix: pass an
    /// unprefixed registry for the standard names.
    pub(crate) fn register(registry: &mut Registry) {
        registry.register_collector(Box::new(Self));
    }
}

#[cfg(target_os = "linux")]
impl Collector for ProcessCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        linux::Reading::now().encode(encoder)
    }
}

/// Elsewhere than on Linux there is no `/proc`: the families are absent.
#[cfg(not(target_os = "linux"))]
impl Collector for ProcessCollector {
    fn encode(&self, _encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
mod linux {
    //! One reading of `/proc/self` and its encoding.

    use procfs::process::{LimitValue, Limits, Process, Stat};
    use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;

    /// What one scrape read; `None` where the file it comes from could not be read.
    #[derive(Debug, Default, PartialEq)]
    pub(super) struct Reading {
        /// User plus system CPU time, seconds.
        pub(super) cpu_seconds: Option<f64>,
        /// Open file descriptors.
        pub(super) open_fds: Option<u64>,
        /// Soft limit on open file descriptors.
        pub(super) max_fds: Option<f64>,
        /// Virtual memory size, bytes.
        pub(super) virtual_memory_bytes: Option<u64>,
        /// Soft limit on the address space, bytes.
        pub(super) virtual_memory_max_bytes: Option<f64>,
        /// Resident set size, bytes.
        pub(super) resident_memory_bytes: Option<u64>,
        /// Process start, Unix seconds.
        pub(super) start_time_seconds: Option<f64>,
        /// OS threads.
        pub(super) threads: Option<u64>,
    }

    impl Reading {
        /// Reads `/proc/self` (and `/proc/stat` for the boot time) now.
        pub(super) fn now() -> Self {
            let mut reading = Self::default();
            let Ok(process) = Process::myself() else {
                return reading;
            };
            if let Ok(stat) = process.stat() {
                reading.set_stat(&stat);
            }
            if let Ok(limits) = process.limits() {
                reading.set_limits(&limits);
            }
            reading.open_fds = process.fd_count().ok().map(|n| n as u64);
            reading
        }

        fn set_stat(&mut self, stat: &Stat) {
            let ticks = procfs::ticks_per_second();
            if ticks > 0 {
                let ticks = ticks as f64;
                self.cpu_seconds = Some(stat.utime.saturating_add(stat.stime) as f64 / ticks);
                self.start_time_seconds = procfs::boot_time_secs()
                    .ok()
                    .map(|boot| boot as f64 + stat.starttime as f64 / ticks);
            }
            self.virtual_memory_bytes = Some(stat.vsize);
            self.resident_memory_bytes = Some(stat.rss.saturating_mul(procfs::page_size()));
            self.threads = u64::try_from(stat.num_threads).ok();
        }

        fn set_limits(&mut self, limits: &Limits) {
            self.max_fds = Some(limit(&limits.max_open_files.soft_limit));
            self.virtual_memory_max_bytes = Some(limit(&limits.max_address_space.soft_limit));
        }

        /// Writes the families read, in client_golang's order.
        pub(super) fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            if let Some(v) = self.cpu_seconds {
                let help = "Total user and system CPU time spent in seconds.";
                write(
                    &mut encoder,
                    "process_cpu_seconds",
                    help,
                    ConstCounter::new(v),
                )?;
            }
            let gauges = [
                (
                    "process_open_fds",
                    "Number of open file descriptors.",
                    self.open_fds.map(|v| v as f64),
                ),
                (
                    "process_max_fds",
                    "Maximum number of open file descriptors.",
                    self.max_fds,
                ),
                (
                    "process_virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                    self.virtual_memory_bytes.map(|v| v as f64),
                ),
                (
                    "process_virtual_memory_max_bytes",
                    "Maximum amount of virtual memory available in bytes.",
                    self.virtual_memory_max_bytes,
                ),
                (
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                    self.resident_memory_bytes.map(|v| v as f64),
                ),
                (
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    self.start_time_seconds,
                ),
                (
                    "process_threads",
                    "Number of OS threads in the process.",
                    self.threads.map(|v| v as f64),
                ),
            ];
            for (name, help, value) in gauges {
                if let Some(v) = value {
                    write(&mut encoder, name, help, ConstGauge::new(v))?;
                }
            }
            Ok(())
        }
    }

    /// A limit's value; `unlimited` is 2⁶⁴−1 (as client_golang writes it).
    fn limit(value: &LimitValue) -> f64 {
        match value {
            LimitValue::Unlimited => u64::MAX as f64,
            LimitValue::Value(v) => *v as f64,
        }
    }

    fn write(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        metric: impl EncodeMetric,
    ) -> Result<(), std::fmt::Error> {
        let metric_encoder = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
        metric.encode(metric_encoder)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use prometheus_client::registry::Registry;

    use super::linux::Reading;
    use super::ProcessCollector;
    use crate::render::families_in;

    fn scrape() -> String {
        let mut registry = Registry::default();
        ProcessCollector::register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        text
    }

    /// The value of the unlabelled sample `name` in `text`.
    fn value(text: &str, name: &str) -> f64 {
        let line = text
            .lines()
            .find(|l| l.split_once(' ').is_some_and(|(n, _)| n == name))
            .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"));
        let (_, v) = line.split_once(' ').unwrap_or_default();
        v.parse().unwrap_or_else(|e| panic!("{name}: {v:?}: {e}"))
    }

    #[test]
    fn every_family_with_its_standard_name_and_type() {
        let families = families_in(&scrape());
        let expected = [
            ("process_cpu_seconds", "counter"),
            ("process_open_fds", "gauge"),
            ("process_max_fds", "gauge"),
            ("process_virtual_memory_bytes", "gauge"),
            ("process_virtual_memory_max_bytes", "gauge"),
            ("process_resident_memory_bytes", "gauge"),
            ("process_start_time_seconds", "gauge"),
            ("process_threads", "gauge"),
        ]
        .map(|(n, k)| (n.to_owned(), k.to_owned()));
        assert_eq!(families, expected.into());
    }

    #[test]
    fn values_are_those_of_this_process() {
        let text = scrape();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        let start = value(&text, "process_start_time_seconds");
        // The boot time is whole seconds and recomputed by the kernel at each read: 5 s of slack.
        assert!(
            start > now - 3600.0 && start < now + 5.0,
            "start {start}, now {now}"
        );
        assert!(value(&text, "process_resident_memory_bytes") > 0.0);
        let vsize = value(&text, "process_virtual_memory_bytes");
        assert!(vsize >= value(&text, "process_resident_memory_bytes"));
        assert!(value(&text, "process_cpu_seconds_total") >= 0.0);
        assert!(value(&text, "process_threads") >= 1.0);
        let open = value(&text, "process_open_fds");
        assert!(open >= 3.0 && open <= value(&text, "process_max_fds"));
        assert!(value(&text, "process_virtual_memory_max_bytes") > 0.0);
    }

    #[test]
    fn open_fds_counts_files_this_test_opens() {
        const OPENED: usize = 128;
        let before = value(&scrape(), "process_open_fds");
        let files: Vec<std::fs::File> = (0..OPENED)
            .map(|_| std::fs::File::open("/dev/null").expect("/dev/null"))
            .collect();
        let during = value(&scrape(), "process_open_fds");
        drop(files);
        // Other tests of this binary open and close files meanwhile: half the files opened is
        // the bound, far above what they hold open at once.
        assert!(
            during >= before + (OPENED / 2) as f64,
            "open fds {before} before opening {OPENED} files, {during} after"
        );
    }

    #[test]
    fn a_value_that_could_not_be_read_leaves_its_family_out() {
        let mut text = String::new();
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Partial));
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        let names: Vec<String> = families_in(&text).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["process_resident_memory_bytes"]);
        assert_eq!(value(&text, "process_resident_memory_bytes"), 4096.0);
    }

    /// A reading in which only the resident memory was read.
    #[derive(Debug)]
    struct Partial;

    impl prometheus_client::collector::Collector for Partial {
        fn encode(
            &self,
            encoder: prometheus_client::encoding::DescriptorEncoder,
        ) -> Result<(), std::fmt::Error> {
            Reading {
                resident_memory_bytes: Some(4096),
                ..Reading::default()
            }
            .encode(encoder)
        }
    }
}
