use std::collections::BTreeSet;
use std::num::NonZeroU32;

use proptest::prelude::*;

use super::*;

fn n(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("non-zero")
}

/// The published FNV-1a 64-bit test vectors (the FNV reference's `test_fnv.c`).
#[test]
fn fnv1a_64_matches_the_published_vectors() {
    assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
}

/// The vectors of the common Go implementations of the paper's algorithm (go-jump and its
/// forks), the last one through FNV-1a 64 of a UTF-8 string, as [`shard_of`] does.
#[test]
fn jump_hash_matches_the_published_vectors() {
    assert_eq!(jump_hash(1, n(1)), 0);
    assert_eq!(jump_hash(42, n(57)), 43);
    assert_eq!(jump_hash(0xDEAD_10CC, n(1)), 0);
    assert_eq!(jump_hash(0xDEAD_10CC, n(666)), 361);
    assert_eq!(jump_hash(256, n(1024)), 520);
    assert_eq!(shard_of("中国", n(10)), 5);
}

#[test]
fn jump_hash_stays_in_range_at_the_extremes() {
    for key in [0, 1, u64::MAX, u64::MAX / 3] {
        assert!(jump_hash(key, n(u32::MAX)) < u32::MAX);
        assert_eq!(jump_hash(key, n(1)), 0);
    }
}

proptest! {
    /// Going from `total` to `total + 1` shards moves a cluster only into the new shard.
    #[test]
    fn one_more_shard_moves_clusters_only_to_the_new_shard(
        names in proptest::collection::vec("[a-z0-9-]{1,24}", 1..200),
        total in 1u32..64,
    ) {
        for name in &names {
            let before = shard_of(name, n(total));
            let after = shard_of(name, n(total + 1));
            prop_assert!(before < total && after <= total);
            prop_assert!(after == before || after == total, "{name}: {before} -> {after}");
        }
    }
}

#[test]
fn clusters_spread_over_the_shards_and_a_few_move_to_a_new_one() {
    let names: Vec<String> = (0..3000).map(|i| format!("cluster-{i}")).collect();
    let mut per_shard = [0usize; 3];
    for name in &names {
        per_shard[shard_of(name, n(3)) as usize] += 1;
    }
    // About 1000 each; a hash this skewed would be a bug.
    assert!(
        per_shard.iter().all(|&c| (700..1300).contains(&c)),
        "{per_shard:?}"
    );
    let moved = names
        .iter()
        .filter(|c| shard_of(c, n(3)) != shard_of(c, n(4)))
        .count();
    // About a quarter move (to shard 3), not most of them as with `hash % total`.
    assert!((500..1000).contains(&moved), "{moved} of 3000 moved");
}

#[test]
fn every_cluster_has_exactly_one_owner() {
    let total = n(5);
    for i in 0..500 {
        let name = format!("dc{i}");
        let owners = (0..5)
            .filter(|&o| Sharding::new(o, total).unwrap().owns(&name))
            .count();
        assert_eq!(owners, 1, "{name}");
    }
}

fn args(shard: Option<&str>, total: Option<&str>) -> ShardArgs {
    ShardArgs {
        shard: shard.map(str::to_owned),
        total_shards: total.map(str::to_owned),
    }
}

fn host(name: &str) -> impl FnOnce() -> Option<String> + '_ {
    move || Some(name.to_owned())
}

#[test]
fn flags_resolve_to_a_shard() {
    let resolve = |s, t| {
        args(s, t)
            .resolve(|| None)
            .map(|s| (s.ordinal(), s.total().get()))
    };
    assert_eq!(resolve(None, None), Ok((0, 1)));
    assert_eq!(resolve(Some("2"), Some("3")), Ok((2, 3)));
    assert_eq!(resolve(Some(" 0 "), Some("1")), Ok((0, 1)));
    let auto = args(Some("auto"), Some("3"));
    assert_eq!(auto.resolve(host("cle-2")).map(|s| s.ordinal()), Ok(2));
    let auto = args(Some("auto"), Some("12"));
    let pod = host("cluster-link-exporter-prod-11");
    assert_eq!(auto.resolve(pod).map(|s| s.ordinal()), Ok(11));
    assert!(!args(None, None).given());
    assert!(args(None, Some("1")).given());
}

#[test]
fn bad_flag_values_are_refused_naming_the_flag() {
    let err = |a: ShardArgs, h: Option<&str>| {
        let h = h.map(str::to_owned);
        a.resolve(move || h).expect_err("refused").to_string()
    };
    assert_eq!(
        err(args(Some("3"), Some("3")), None),
        "--shard 3 must be less than --total-shards 3 (shards are numbered from 0)"
    );
    assert_eq!(
        err(args(Some("0"), Some("0")), None),
        "--total-shards (CLUSTER_LINK_EXPORTER_TOTAL_SHARDS): expected a whole number of shards from 1 up, got \"0\""
    );
    for bad in ["-1", "two", "1.5", "", "99999999999"] {
        let e = err(args(Some("0"), Some(bad)), None);
        assert!(
            e.starts_with("--total-shards (CLUSTER_LINK_EXPORTER_TOTAL_SHARDS): "),
            "{e}"
        );
        let e = err(args(Some(bad), Some("3")), None);
        assert!(
            e.starts_with("--shard (CLUSTER_LINK_EXPORTER_SHARD): expected"),
            "{e}"
        );
    }
    assert_eq!(
        err(args(None, Some("3")), None),
        "--total-shards 3 needs --shard (CLUSTER_LINK_EXPORTER_SHARD): an ordinal from 0 to 2, or auto"
    );
    assert_eq!(
        err(args(Some("1"), None), None),
        "--shard 1 must be less than --total-shards 1 (shards are numbered from 0)"
    );
    for name in ["exporter", "cle-", "cle-x1", "cle-1a", "cle-99999999999"] {
        let e = err(args(Some("auto"), Some("3")), Some(name));
        let expected = format!("--shard=auto: the host name {name:?} does not end in -<ordinal>");
        assert!(e.starts_with(&expected), "{e}");
    }
    let e = err(args(Some("auto"), Some("3")), Some("cle-3"));
    assert_eq!(
        e,
        "--shard=auto: the host name \"cle-3\" gives shard 3, which must be less than --total-shards 3 (shards are numbered from 0)"
    );
    let e = err(args(Some("auto"), Some("3")), None);
    assert!(e.starts_with("--shard=auto: no host name"), "{e}");
}

#[test]
fn retain_keeps_only_the_shards_clusters() {
    use crate::config::ClusterConfig;
    let names: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
    let config = Config {
        clusters: names
            .iter()
            .map(|name| ClusterConfig::platform(name, "http://127.0.0.1:1/kafka/v3"))
            .collect(),
        ..Config::default()
    };
    let mut seen = BTreeSet::new();
    for ordinal in 0..3 {
        let sharding = Sharding::new(ordinal, n(3)).unwrap();
        let kept = sharding.retain(config.clone());
        assert!(
            !kept.clusters.is_empty(),
            "shard {ordinal} got nothing of 40"
        );
        for c in &kept.clusters {
            assert_eq!(shard_of(&c.name, n(3)), ordinal);
            assert!(seen.insert(c.name.clone()), "{} in two shards", c.name);
        }
    }
    assert_eq!(seen.len(), names.len());
    let all: Vec<String> = Sharding::default()
        .retain(config)
        .clusters
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(all, names);
}

#[test]
fn describe_lists_each_cluster_with_its_shard() {
    let names: Vec<String> = ["dr", "prod", "eu", "us"].map(str::to_owned).to_vec();
    let text = describe(&names, n(2), Some(1));
    let lines: Vec<&str> = text.lines().collect();
    let mine = names.iter().filter(|c| shard_of(c, n(2)) == 1).count();
    assert_eq!(
        lines[0],
        format!("shard 1 of 2: {mine} of 4 cluster(s) assigned")
    );
    for (line, name) in lines[1..].iter().zip(&names) {
        let shard = shard_of(name, n(2));
        let mark = if shard == 1 { " (this shard)" } else { "" };
        assert_eq!(*line, format!("  {name}: shard {shard}{mark}"));
    }
    assert_eq!(lines.len(), 5);
    let text = describe(&names, n(2), None);
    assert!(text.starts_with("4 cluster(s) over 2 shard(s)\n"), "{text}");
    assert!(!text.contains("this shard"), "{text}");
}

#[test]
fn metrics_follow_the_assignment_and_forget_removed_clusters() {
    let mut registry = Registry::default();
    let m = ShardMetrics::register(registry.sub_registry_with_prefix("clusterlink"));
    let render = |r: &Registry| {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, r).unwrap();
        s
    };
    let before = render(&registry);
    assert!(
        before.contains("clusterlink_exporter_total_shards 1\n"),
        "{before}"
    );
    assert!(
        before.contains("clusterlink_exporter_shard_ordinal{shard_ordinal=\"0\"} 0\n"),
        "{before}"
    );
    let names: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
    let sharding = Sharding::new(2, n(3)).unwrap();
    m.record(&sharding, &names);
    let text = render(&registry);
    let mine = names.iter().filter(|c| sharding.owns(c)).count();
    assert!(
        text.contains("clusterlink_exporter_shard_ordinal{shard_ordinal=\"2\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("clusterlink_exporter_total_shards 3\n"),
        "{text}"
    );
    assert!(
        text.contains("clusterlink_exporter_clusters_configured 12\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("clusterlink_exporter_clusters_assigned {mine}\n")),
        "{text}"
    );
    for name in &names {
        let v = u8::from(sharding.owns(name));
        let line =
            format!("clusterlink_exporter_cluster_assigned{{kafka_cluster=\"{name}\"}} {v}\n");
        assert!(text.contains(&line), "no {line} in\n{text}");
    }
    m.record(&sharding, &names[..1]);
    let text = render(&registry);
    assert!(!text.contains("kafka_cluster=\"c5\""), "{text}");
    assert!(
        text.contains("clusterlink_exporter_clusters_configured 1\n"),
        "{text}"
    );
}

#[test]
fn describe_warns_when_this_shard_gets_no_cluster() {
    let names: Vec<String> = vec!["only".to_owned()];
    let mine = shard_of("only", n(3));
    let idle = (0..3).find(|&o| o != mine).expect("two other shards");
    let text = describe(&names, n(3), Some(idle));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("shard {idle} of 3: 0 of 1 cluster(s) assigned")
    );
    assert_eq!(lines[1], idle_warning(idle, n(3)));
    assert!(lines[1].starts_with("warning: "), "{text}");
    let text = describe(&names, n(3), Some(mine));
    assert!(!text.contains("warning"), "{text}");
    let text = describe(&[], n(1), Some(0));
    assert!(
        !text.contains("warning"),
        "one shard is not sharded: {text}"
    );
}

#[test]
fn counts_are_the_last_recorded() {
    let m = ShardMetrics::default();
    let names: Vec<String> = ["a", "b", "c", "d", "e"].map(str::to_owned).to_vec();
    let sharding = Sharding::new(1, n(2)).unwrap();
    m.record(&sharding, &names);
    let mine = names.iter().filter(|c| sharding.owns(c)).count() as u64;
    assert_eq!(m.counts(), (mine, 5));
    m.record(&sharding, &names[..1]);
    assert_eq!(m.counts(), (u64::from(sharding.owns("a")), 1));
}

/// A log sink for one test: what a `tracing` subscriber wrote.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::util::lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What [`warn_if_idle`] logs for `sharding` and `clusters`.
fn idle_log(sharding: &Sharding, clusters: &[String]) -> String {
    let sink = Captured::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || warn_if_idle(sharding, clusters));
    let text = String::from_utf8(crate::util::lock(&sink.0).clone()).unwrap();
    text
}

#[test]
fn a_shard_without_clusters_logs_a_warning() {
    let names: Vec<String> = vec!["only".to_owned()];
    let mine = shard_of("only", n(3));
    let idle = (0..3).find(|&o| o != mine).expect("two other shards");
    let log = idle_log(&Sharding::new(idle, n(3)).unwrap(), &names);
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains(&format!(
            "shard {idle} of 3 is assigned no configured cluster"
        )),
        "{log}"
    );
    assert_eq!(idle_log(&Sharding::new(mine, n(3)).unwrap(), &names), "");
    assert_eq!(
        idle_log(&Sharding::default(), &[]),
        "",
        "one shard: no warning"
    );
}
