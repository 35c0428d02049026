//! `docs/metrics.md` lists exactly the metric families a running exporter serves, with their
//! types and labels: a family added or removed on either side fails this test.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::exporter::*;

#[test]
fn doc_table_parses_counters_by_sample_name() {
    let docs = parse_doc_table(
        "intro\n\n| metric | type | labels | meaning |\n|---|---|---|---|\n\
         | `x_total` | counter | `kafka_cluster`, `reason` | failures |\n\
         | `y` | gauge | `a` | a value |\n\nafter\n",
    );
    assert_eq!(
        docs,
        vec![
            DocFamily {
                name: "x_total".into(),
                kind: "counter".into(),
                labels: vec!["kafka_cluster".into(), "reason".into()],
            },
            DocFamily {
                name: "y".into(),
                kind: "gauge".into(),
                labels: vec!["a".into()],
            },
        ]
    );
}

#[test]
fn exposition_parser_maps_counter_samples_and_unescapes_labels() {
    let families = parse_exposition(
        "# HELP x Failures.\n# TYPE x counter\nx_total{kafka_cluster=\"a\",reason=\"t\\\"o\"} 0\n\
         # TYPE y gauge\ny{a=\"1,2}\"} 3.5\n# TYPE z gauge\n# EOF\n",
    );
    assert_eq!(
        families.keys().collect::<Vec<_>>(),
        vec!["x_total", "y", "z"]
    );
    let x = &families["x_total"];
    assert_eq!(x.kind, "counter");
    assert_eq!(x.samples[0].label_names(), vec!["kafka_cluster", "reason"]);
    assert_eq!(x.samples[0].label("reason"), Some("t\"o"));
    assert_eq!(families["y"].samples[0].label("a"), Some("1,2}"));
    assert_eq!(families["y"].samples[0].value, "3.5");
    assert!(families["z"].samples.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn docs_list_every_served_family_with_its_type_and_labels() {
    let all = documented_families();
    let docs = simulated_families();
    let running = start_with_every_family().await;
    let text = running.text.clone();
    running.stop().await;

    let served = served_set(&text);
    let documented = documented_set(&all);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && not_served.is_empty(),
        "docs/metrics.md and /metrics disagree on the families (name, type); counters are \
         documented as x_total for `# TYPE x counter`.\n\
         served but not documented: {undocumented:#?}\n\
         documented but not served: {not_served:#?}"
    );

    let families = parse_exposition(&text);
    // The exemptions are documented families the simulator declares without a sample; one it
    // gives samples loses its exemption.
    for (name, why) in NOT_SERVED_BY_THE_SIMULATOR {
        assert!(
            all.iter().any(|d| d.name == *name),
            "{name} is exempted but not documented"
        );
        assert!(
            families.get(*name).is_some_and(|f| f.samples.is_empty()),
            "{name}: the simulator's exporter serves samples of it now: remove its exemption ({why})"
        );
    }
    // Every other documented family is served with samples (`start_with_every_family` waited for
    // that), so every documented label list is checked here.
    let mut mismatches = Vec::new();
    for doc in &docs {
        let family = &families[&doc.name];
        let seen: BTreeSet<Vec<String>> = family.samples.iter().map(|s| s.label_names()).collect();
        if seen.len() != 1 || !seen.contains(&doc.labels) {
            mismatches.push(format!(
                "{}: documented {:?}, served {:?}",
                doc.name, doc.labels, seen
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "docs/metrics.md labels differ from the labels (in order) of the served samples:\n{}",
        mismatches.join("\n")
    );
    // One rule for every label value: empty or missing is written `unknown`, never "" (the
    // simulator reports no destination_cluster_id, for one).
    let empty: Vec<String> = families
        .values()
        .flat_map(|f| &f.samples)
        .filter(|s| s.labels.iter().any(|(_, v)| v.is_empty()))
        .map(|s| format!("{} {:?}", s.name, s.labels))
        .collect();
    assert!(
        empty.is_empty(),
        "samples with an empty label value: {empty:#?}"
    );

    // Every cluster family of the code is documented (also when the scenario missed one).
    let by_name: BTreeMap<&str, &DocFamily> = all.iter().map(|d| (d.name.as_str(), d)).collect();
    for def in cluster_link_exporter::CLUSTER_FAMILIES {
        let doc = by_name
            .get(def.name)
            .unwrap_or_else(|| panic!("{} is not in docs/metrics.md", def.name));
        let mut labels = vec!["kafka_cluster"];
        labels.extend(def.labels);
        assert_eq!(doc.labels, labels, "labels of {}", def.name);
        assert_eq!(doc.kind, "gauge", "type of {}", def.name);
    }
}

/// The fail-over readiness closed sets: every verdict has its row in docs/metrics.md's
/// "Fail-over readiness" table and every blocker is named there; every definite blocker (a
/// reason `not_ready` gives) has its row in the runbook of ClusterLinkNotReadyForFailover.
#[test]
fn docs_name_every_readiness_verdict_and_blocker() {
    use cluster_link_exporter::{FailoverBlocker, FailoverVerdict};
    let read = |path: &str| {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).expect(path)
    };
    let section = |doc: &str, heading: &str| -> String {
        doc.split(heading)
            .nth(1)
            .unwrap_or_else(|| panic!("no {heading}"))
            .split("\n## ")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let readiness = section(&read("docs/metrics.md"), "## Fail-over readiness");
    for v in FailoverVerdict::ALL {
        let row = format!("| `{}` |", v.as_str());
        assert!(readiness.contains(&row), "no row {row} in docs/metrics.md");
    }
    let runbook = section(
        &read("docs/runbooks.md"),
        "### ClusterLinkNotReadyForFailover",
    );
    for b in FailoverBlocker::ALL {
        let named = format!("`{}`", b.as_str());
        assert!(readiness.contains(&named), "{named} not in docs/metrics.md");
        if b.is_definite() {
            assert!(
                runbook.contains(&format!("| {named}")) || runbook.contains(&format!(", {named}")),
                "{named} has no row in the runbook of ClusterLinkNotReadyForFailover"
            );
        }
    }
}

/// The collection error reasons: `CollectionErrorReason::ALL`, the docs' table and the
/// counter's help text name the same set.
#[test]
fn docs_and_help_list_every_collection_error_reason() {
    use cluster_link_exporter::CollectionErrorReason;
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md"))
        .expect("docs/metrics.md");
    let section = doc
        .split("### Collection error reasons")
        .nth(1)
        .expect("the reasons section")
        .split("\n#")
        .next()
        .unwrap_or_default();
    let documented: BTreeSet<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let known: BTreeSet<&str> = CollectionErrorReason::ALL.map(|r| r.as_str()).into();
    assert_eq!(
        documented, known,
        "docs/metrics.md vs CollectionErrorReason::ALL"
    );

    let exposition = cluster_link_exporter::testing::Telemetry::new(&["a".to_owned()])
        .exposition
        .render();
    let help = exposition
        .lines()
        .find(|l| l.starts_with("# HELP clusterlink_collection_errors "))
        .expect("the counter's help");
    let listed: BTreeSet<&str> = help
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(list, _)| list.split(", ").collect())
        .unwrap_or_default();
    assert_eq!(
        listed, known,
        "help text vs CollectionErrorReason::ALL: {help}"
    );
}

/// The line before the generated table of the per-cluster families in `docs/metrics.md`.
const GENERATED_BEGIN: &str = "<!-- BEGIN generated from render::CLUSTER_FAMILIES by tests/e2e/metrics_doc.rs: edit the code, then UPDATE_DOCS=1 -->";
/// The line after it.
const GENERATED_END: &str = "<!-- END generated -->";

/// The table of the per-cluster families as the code declares them, in output order: name,
/// type, labels, and as the meaning the HELP text (without the suffix all share) followed by
/// the `///` lines of the family's row (`FamilyDef::doc`).
fn cluster_family_table() -> String {
    let mut table = format!("{TABLE_HEADER}\n|---|---|---|---|\n");
    for def in cluster_link_exporter::CLUSTER_FAMILIES {
        let labels: Vec<String> = std::iter::once("kafka_cluster")
            .chain(def.labels.iter().copied())
            .map(|l| format!("`{l}`"))
            .collect();
        let mut meaning = format!("{}.", def.help);
        let doc = def.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        if !doc.is_empty() {
            meaning = format!("{meaning} {doc}");
        }
        assert!(
            !meaning.contains('|'),
            "{}: no | in a HELP text or doc line (it would split the table's cell)",
            def.name
        );
        table.push_str(&format!(
            "| `{}` | gauge | {} | {meaning} |\n",
            def.name,
            labels.join(", ")
        ));
    }
    table
}

/// `docs/metrics.md`'s rows of the per-cluster families are generated from the code (as
/// node_exporter's end-to-end output is a golden file): this fails when they differ, and
/// `UPDATE_DOCS=1 cargo test --test e2e metrics_doc::` rewrites them. The prose around the
/// table stays hand-written.
#[test]
fn doc_rows_of_the_cluster_families_are_generated_from_the_code() {
    let doc = std::fs::read_to_string(METRICS_DOC).expect("docs/metrics.md");
    let (before, rest) = doc
        .split_once(&format!("{GENERATED_BEGIN}\n"))
        .unwrap_or_else(|| panic!("{METRICS_DOC}: no line {GENERATED_BEGIN:?}"));
    let (current, after) = rest
        .split_once(&format!("{GENERATED_END}\n"))
        .unwrap_or_else(|| panic!("{METRICS_DOC}: no line {GENERATED_END:?}"));
    let generated = format!("\n{}\n", cluster_family_table());
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{before}{GENERATED_BEGIN}\n{generated}{GENERATED_END}\n{after}");
        std::fs::write(METRICS_DOC, updated).expect("writing docs/metrics.md");
        return;
    }
    let differing: Vec<String> = generated
        .lines()
        .zip(current.lines())
        .filter(|(g, c)| g != c)
        .map(|(g, c)| format!("docs:      {c}\ngenerated: {g}"))
        .collect();
    assert!(
        current == generated,
        "{METRICS_DOC}'s per-cluster rows differ from the code's families (render/rest.rs, \
         render/kafka.rs); rewrite them with UPDATE_DOCS=1 cargo test --test e2e \
         metrics_doc:: and check the diff.\n{}",
        differing.join("\n")
    );
}
