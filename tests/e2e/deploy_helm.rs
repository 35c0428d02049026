//! The Helm chart `deploy/helm/cluster-link-exporter` (issue 14 §2), checked offline: every
//! `ci/*-values.yaml` renders, passes `kubernetes-validate --strict` for the oldest and the
//! newest Kubernetes the chart supports and lints clean (Helm's own linter, strict); the pods
//! are restricted (non-root, read-only root file system, no privilege escalation, no
//! capabilities, RuntimeDefault seccomp, no service account token) and probed on `/-/healthy`
//! and `/-/ready`; an HA pair gets a PodDisruptionBudget and anti-affinity, shards a
//! StatefulSet with `--shard=auto`, TLS an HTTPS probe and ServiceMonitor; the PrometheusRules
//! are `alerts/*.rules.yml` byte for byte and pass `promtool check rules`, the dashboards'
//! ConfigMaps are `dashboards/*.json` byte for byte, also in the packaged chart; the schema and
//! the templates refuse bad values; the config checksum changes exactly when the configuration
//! does; every rendered configuration passes `check-config`; `prometheusRule.runbookBaseUrl`
//! points both the rules' runbook links and the status page's (`status_page.runbook_base_url`
//! of the rendered configuration); docs/deploy.md's values table is the one values.yaml's
//! comments make.
//!
//! Needs the venv `.venv/` of `scripts/setup-deps.sh` (helm-python-sdk, kubernetes-validate)
//! and `promtool` (Debian's `prometheus`). `scripts/helm/chart.py` drives Helm's Go SDK.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::servers::{binary, command_output, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

/// The oldest Kubernetes the chart supports (Chart.yaml's `kubeVersion`) and the newest
/// kubernetes-validate knows.
const KUBE_VERSIONS: [&str; 2] = ["1.25.0", "1.37.0"];

/// The scenarios of `ci/`, as issue 14 lists them.
const CI_FILES: [&str; 6] = [
    "default-values.yaml",
    "existing-secret-values.yaml",
    "ha-values.yaml",
    "monitoring-values.yaml",
    "shards-values.yaml",
    "tls-values.yaml",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    root().join("deploy/helm/cluster-link-exporter")
}

fn ci_file(name: &str) -> PathBuf {
    chart().join("ci").join(name)
}

/// A program of the repository's venv.
fn venv(name: &str) -> PathBuf {
    let path = root().join(".venv/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup-deps.sh (it makes the venv .venv/)",
        path.display()
    );
    path
}

/// `scripts/helm/chart.py <args>`: its JSON answer.
fn chart_py(args: &[&str]) -> Value {
    let (out, text) = command_output(
        Command::new(venv("python3"))
            .arg(root().join("scripts/helm/chart.py"))
            .args(args),
    );
    assert!(out.status.success(), "chart.py {args:?} failed:\n{text}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("chart.py {args:?}: not JSON ({e}):\n{text}"))
}

/// One rendering of the chart.
struct Rendered {
    /// Every object of every template (not NOTES.txt).
    objects: Vec<Value>,
    /// Template path → rendered text.
    manifests: BTreeMap<String, String>,
    /// Secret name → key → decoded value.
    secrets: Value,
}

/// Renders the chart with a values file (from the packaged chart with `package`); `Err` holds
/// Helm's refusal (schema or template).
fn try_render(values: &Path, package: bool) -> Result<Rendered, String> {
    let values = values.to_str().expect("UTF-8 path");
    let chart_dir = chart();
    let dir = temp_dir("helm-package");
    let mut args = vec!["render", chart_dir.to_str().unwrap(), values];
    if package {
        args.extend(["--package", dir.to_str().unwrap()]);
    }
    let answer = chart_py(&args);
    if answer["ok"] != Value::Bool(true) {
        return Err(answer["error"]
            .as_str()
            .unwrap_or("no error text")
            .to_string());
    }
    let objects = answer["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| o["object"].clone())
        .collect();
    let manifests = serde_json::from_value(answer["manifests"].clone()).expect("manifests");
    Ok(Rendered {
        objects,
        manifests,
        secrets: answer["secrets"].clone(),
    })
}

fn render(values: &Path) -> Rendered {
    try_render(values, false)
        .unwrap_or_else(|e| panic!("{} does not render: {e}", values.display()))
}

/// Renders the chart with values given as YAML text.
fn render_yaml(yaml: &str) -> Result<Rendered, String> {
    let path = temp_dir("helm-values").join("values.yaml");
    std::fs::write(&path, yaml).expect("write values");
    try_render(&path, false)
}

impl Rendered {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The one Deployment or StatefulSet.
    fn workload(&self) -> &Value {
        let found: Vec<&Value> = self
            .objects
            .iter()
            .filter(|o| o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
            .collect();
        assert_eq!(found.len(), 1, "one workload: {found:?}");
        found[0]
    }

    fn pod(&self) -> &Value {
        &self.workload()["spec"]["template"]
    }

    fn container(&self) -> &Value {
        let containers = self.pod()["spec"]["containers"]
            .as_array()
            .expect("containers");
        assert_eq!(containers.len(), 1, "{containers:?}");
        &containers[0]
    }

    fn args(&self) -> Vec<String> {
        strings(&self.container()["args"])
    }

    fn checksum(&self) -> Option<String> {
        self.pod()["metadata"]["annotations"]["checksum/config"]
            .as_str()
            .map(str::to_string)
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The objects as one multi-document YAML file.
fn write_manifests(rendered: &Rendered, path: &Path) {
    let docs: Vec<String> = rendered
        .objects
        .iter()
        .map(|o| serde_norway::to_string(o).expect("YAML"))
        .collect();
    std::fs::write(path, docs.join("---\n")).expect("write manifests");
}

#[test]
fn the_ci_scenarios_are_the_ones_the_issue_lists() {
    let mut found: Vec<String> = std::fs::read_dir(chart().join("ci"))
        .expect("ci/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, CI_FILES, "deploy/helm/cluster-link-exporter/ci/");
}

/// kubernetes-validate passes every object it has a schema for, and only the Prometheus
/// Operator's kinds lack one (their fields are checked by the tests below).
fn validate(rendered: &Rendered, scenario: &str) {
    let file = temp_dir("helm-validate").join(format!("{scenario}.yaml"));
    write_manifests(rendered, &file);
    for version in KUBE_VERSIONS {
        let (out, text) = command_output(
            Command::new(venv("kubernetes-validate"))
                .args(["--strict", "-k", version])
                .arg(&file),
        );
        assert!(out.status.success(), "{scenario} on {version}:\n{text}");
        for line in text.lines() {
            assert!(
                line.starts_with("INFO ")
                    || (line.starts_with("WARN ") && line.contains("monitoring.coreos.com/v1")),
                "{scenario} on {version}: {line}"
            );
        }
        for o in &rendered.objects {
            if o["apiVersion"]
                .as_str()
                .unwrap_or("")
                .starts_with("monitoring.coreos.com")
            {
                continue;
            }
            let kind = o["kind"].as_str().unwrap().to_lowercase();
            let name = o["metadata"]["name"].as_str().unwrap();
            let passed = format!("passed for resource {kind}/{name} against");
            assert!(
                text.contains(&passed),
                "{scenario} on {version}: {passed}?\n{text}"
            );
        }
    }
}

/// `helm lint --strict` with the scenario's values, for each Kubernetes version: nothing above
/// info (the one info is "icon is recommended").
fn lint(values: &Path, scenario: &str) {
    let chart_dir = chart();
    for version in KUBE_VERSIONS {
        let kube = format!("v{version}");
        let report = chart_py(&[
            "lint",
            chart_dir.to_str().unwrap(),
            values.to_str().unwrap(),
            "--kube-version",
            &kube,
        ]);
        let messages = report["messages"].as_array().expect("messages");
        let bad: Vec<&Value> = messages
            .iter()
            .filter(|m| m["severity"].as_u64() != Some(1))
            .collect();
        assert!(bad.is_empty(), "lint {scenario} on {kube}: {bad:?}");
        assert!(
            report["errors"].as_array().is_some_and(|e| e.is_empty()),
            "{report}"
        );
    }
}

/// What every scenario's pod must be: restricted, probed, configured, pinned.
fn check_pod(r: &Rendered, scenario: &str) {
    let spec = &r.pod()["spec"];
    assert_eq!(spec["automountServiceAccountToken"], false, "{scenario}");
    let pod_sc = &spec["securityContext"];
    assert_eq!(pod_sc["runAsNonRoot"], true, "{scenario}");
    assert_ne!(pod_sc["runAsUser"], 0, "{scenario}");
    assert_eq!(
        pod_sc["seccompProfile"]["type"], "RuntimeDefault",
        "{scenario}"
    );
    let c = r.container();
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{scenario}");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{scenario}");
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{scenario}");
    let image = c["image"].as_str().expect("image");
    assert!(
        !image.ends_with(":latest") && image.contains(':'),
        "{scenario}: {image}"
    );
    let probe = |name: &str, path: &str| {
        let p = &c[name];
        assert!(
            p["httpGet"]["path"] == path || p["tcpSocket"]["port"] == "metrics",
            "{scenario}: {name} {p}"
        );
    };
    probe("livenessProbe", "/-/healthy");
    probe("readinessProbe", "/-/ready");
    assert!(
        r.args()
            .contains(&"--config=/etc/cluster-link-exporter/config/config.yaml".to_string()),
        "{scenario}: {:?}",
        r.args()
    );
    for account in r.of_kind("ServiceAccount") {
        assert_eq!(account["automountServiceAccountToken"], false, "{scenario}");
    }
}

#[test]
fn every_ci_scenario_renders_validates_and_lints() {
    for scenario in CI_FILES {
        let values = ci_file(scenario);
        let rendered = render(&values);
        check_pod(&rendered, scenario);
        validate(&rendered, scenario);
        lint(&values, scenario);
    }
}

#[test]
fn an_ha_pair_gets_a_disruption_budget_and_anti_affinity_and_one_replica_neither() {
    let ha = render(&ci_file("ha-values.yaml"));
    assert_eq!(ha.workload()["kind"], "Deployment");
    assert_eq!(ha.workload()["spec"]["replicas"], 2);
    let pdbs = ha.of_kind("PodDisruptionBudget");
    assert_eq!(pdbs.len(), 1, "{pdbs:?}");
    assert_eq!(pdbs[0]["spec"]["maxUnavailable"], 1);
    assert_eq!(
        pdbs[0]["spec"]["selector"]["matchLabels"],
        ha.workload()["spec"]["selector"]["matchLabels"]
    );
    let anti = &ha.pod()["spec"]["affinity"]["podAntiAffinity"];
    let term = &anti["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(term["topologyKey"], "kubernetes.io/hostname", "{anti}");
    assert_eq!(
        term["labelSelector"]["matchLabels"],
        ha.workload()["spec"]["selector"]["matchLabels"]
    );

    let single = render(&ci_file("default-values.yaml"));
    assert_eq!(single.workload()["spec"]["replicas"], 1);
    assert!(single.of_kind("PodDisruptionBudget").is_empty());
    assert!(single.pod()["spec"]["affinity"].is_null());
}

#[test]
fn shards_run_as_a_statefulset_with_shard_auto() {
    let r = render(&ci_file("shards-values.yaml"));
    let sts = r.workload();
    assert_eq!(sts["kind"], "StatefulSet");
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["podManagementPolicy"], "Parallel");
    let args = r.args();
    assert!(args.contains(&"--shard=auto".to_string()), "{args:?}");
    assert!(args.contains(&"--total-shards=3".to_string()), "{args:?}");
    assert_eq!(r.of_kind("PodDisruptionBudget").len(), 1);
    let soft = &r.pod()["spec"]["affinity"]["podAntiAffinity"]
        ["preferredDuringSchedulingIgnoredDuringExecution"];
    assert_eq!(
        soft[0]["podAffinityTerm"]["topologyKey"],
        "kubernetes.io/hostname"
    );
    // The ServiceMonitor labels each target with its shard (from the pod name), so that the
    // rules, which merge replicas by dropping instance and pod, keep the shards apart.
    let relabel = &r.of_kind("ServiceMonitor")[0]["spec"]["endpoints"][0]["relabelings"][0];
    assert_eq!(relabel["targetLabel"], "shard", "{relabel}");
    assert_eq!(
        strings(&relabel["sourceLabels"]),
        ["__meta_kubernetes_pod_name"]
    );
    // Prometheus anchors the regex.
    let re = regex::Regex::new(&format!("^(?:{})$", relabel["regex"].as_str().unwrap())).unwrap();
    let name = format!("{}-2", sts["metadata"]["name"].as_str().unwrap());
    let shard = re.replace(
        &name,
        relabel["replacement"]
            .as_str()
            .unwrap()
            .replace("$1", "${1}"),
    );
    assert_eq!(shard, "2", "{name}");
    let services = r.of_kind("Service");
    assert_eq!(sts["spec"]["serviceName"], services[0]["metadata"]["name"]);
    // The pod name ends in -<ordinal>: the StatefulSet's name, then the ordinal.
    let name = sts["metadata"]["name"].as_str().unwrap();
    assert!(!name.is_empty() && name.len() <= 52, "{name}");
}

#[test]
fn tls_probes_and_scrapes_over_https_with_credentials() {
    let r = render(&ci_file("tls-values.yaml"));
    let c = r.container();
    for probe in ["livenessProbe", "readinessProbe"] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["scheme"], "HTTPS", "{probe}: {get}");
        let header = &get["httpHeaders"][0];
        assert_eq!(header["name"], "Authorization", "{probe}: {get}");
        // probe:changeme, the probe user of tls-values.yaml
        assert_eq!(header["value"], "Basic cHJvYmU6Y2hhbmdlbWU=", "{probe}");
    }
    let web = &r.secrets["cle-cluster-link-exporter-web"]["web-config.yml"];
    let web: Value = serde_norway::from_str(web.as_str().expect("web-config.yml")).unwrap();
    let tls = &web["tls_server_config"];
    assert_eq!(
        tls["cert_file"], "/etc/cluster-link-exporter/tls/tls.crt",
        "{web}"
    );
    assert_eq!(tls["min_version"], "TLS13", "{web}");
    assert!(web["basic_auth_users"]["prometheus"].is_string(), "{web}");
    assert_eq!(
        web["http_server_config"]["headers"]["X-Frame-Options"],
        "deny"
    );
    assert!(r
        .args()
        .contains(&"--web.config.file=/etc/cluster-link-exporter/web/web-config.yml".to_string()));
    let mounts = &c["volumeMounts"];
    let paths: Vec<&str> = mounts
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/etc/cluster-link-exporter/tls"),
        "{paths:?}"
    );
    let sm = r.of_kind("ServiceMonitor");
    assert_eq!(sm[0]["spec"]["endpoints"][0]["scheme"], "https");
    assert_eq!(
        sm[0]["spec"]["endpoints"][0]["basicAuth"]["password"]["key"],
        "password"
    );
}

/// Basic auth without probe credentials, or a required client certificate (the kubelet has
/// none): TCP probes. Without a web configuration: plain HTTP probes.
#[test]
fn probes_fall_back_to_tcp_when_the_kubelet_cannot_log_in() {
    for extra in [
        "web: {basicAuth: {users: {p: $2b$10$JfIHHMur6qv1hUcIqlCdKOtCzIfyocy24wu8cqiTcbPUua7DFJSva}}}",
        "web: {tls: {enabled: true, secretName: s, clientAuthType: RequireAndVerifyClientCert, clientCAKey: ca.crt}}",
    ] {
        let r = render_yaml(extra).unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert_eq!(r.container()["livenessProbe"]["tcpSocket"]["port"], "metrics", "{extra}");
        assert!(r.container()["readinessProbe"]["httpGet"].is_null(), "{extra}");
    }
    let plain = render(&ci_file("default-values.yaml"));
    assert_eq!(
        plain.container()["livenessProbe"]["httpGet"]["scheme"],
        "HTTP"
    );
    assert!(!plain
        .args()
        .iter()
        .any(|a| a.starts_with("--web.config.file")));
}

/// The rendered web configuration is one the exporter accepts: `check-config --web.config.file`
/// with the certificate paths moved to a temporary folder holding a real key pair.
#[test]
fn the_rendered_web_configuration_passes_check_config() {
    let r = render(&ci_file("tls-values.yaml"));
    let web = r.secrets["cle-cluster-link-exporter-web"]["web-config.yml"]
        .as_str()
        .expect("web-config.yml")
        .to_string();
    let dir = temp_dir("helm-web");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["cle.monitoring.svc".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    let moved = web.replace(
        "/etc/cluster-link-exporter/tls/",
        &format!("{}/", dir.display()),
    );
    assert_ne!(
        moved, web,
        "the web configuration names the mounted certificate"
    );
    std::fs::write(dir.join("web-config.yml"), moved).unwrap();
    let config = r.secrets["cle-cluster-link-exporter"]["config.yaml"]
        .as_str()
        .unwrap();
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    let (out, text) = command_output(
        Command::new(BIN)
            .arg("check-config")
            .arg("--config")
            .arg(dir.join("config.yaml"))
            .arg("--web.config.file")
            .arg(dir.join("web-config.yml")),
    );
    assert!(out.status.success(), "{text}");
}

#[test]
fn every_rendered_configuration_passes_check_config() {
    let mut checked = 0;
    for scenario in CI_FILES {
        let r = render(&ci_file(scenario));
        let Some(config) = r.secrets["cle-cluster-link-exporter"]["config.yaml"].as_str() else {
            assert!(
                scenario.starts_with("existing-secret"),
                "{scenario}: no config Secret"
            );
            continue;
        };
        // The checksum is the configuration's: the Secret's content, hashed.
        let path = temp_dir("helm-config").join("config.yaml");
        std::fs::write(&path, config).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("check-config").arg("--config").arg(&path);
        cmd.env("CLE_PASSWORD", "from-a-secret");
        if r.workload()["kind"] == "StatefulSet" {
            cmd.args(["--total-shards", "3"]);
        }
        let (out, text) = command_output(&mut cmd);
        assert!(out.status.success(), "{scenario}: {text}");
        checked += 1;
    }
    assert_eq!(checked, CI_FILES.len() - 1);
}

/// The ServiceMonitor scrapes the Service's `metrics` port, and its job is the Service's
/// `app.kubernetes.io/name` label: `cluster-link-exporter`, which the rules' job regex matches.
#[test]
fn the_service_monitor_sets_the_job_the_rules_select() {
    let r = render(&ci_file("monitoring-values.yaml"));
    let sm = r.of_kind("ServiceMonitor");
    assert_eq!(sm.len(), 1);
    let spec = &sm[0]["spec"];
    let service = r.of_kind("Service")[0];
    let job_label = spec["jobLabel"].as_str().expect("jobLabel");
    let job = service["metadata"]["labels"][job_label]
        .as_str()
        .expect("the job label");
    assert_eq!(job, "cluster-link-exporter");
    let rules = std::fs::read_to_string(root().join("alerts/clusterlink.rules.yml")).unwrap();
    assert!(
        rules.contains(r#"up{job=~".*cluster-link-exporter.*"}"#),
        "the rules' job"
    );
    for (k, v) in spec["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&service["metadata"]["labels"][k], v, "selector {k}");
    }
    assert_eq!(spec["endpoints"][0]["port"], "metrics");
    assert_eq!(service["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(spec["endpoints"][0]["scheme"], "http");
    assert_eq!(
        spec["endpoints"][0]["relabelings"],
        serde_json::Value::Null,
        "no shards"
    );
    assert_eq!(
        sm[0]["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    // A release name of its own does not change the job.
    let named = render_yaml("serviceMonitor: {enabled: true}\nfullnameOverride: metrics-dr\n")
        .expect("renders");
    assert_eq!(
        named.of_kind("Service")[0]["metadata"]["labels"][job_label],
        job
    );
    // A name the rules would not select is refused.
    let err = render_yaml("serviceMonitor: {enabled: true}\nnameOverride: cle\n")
        .err()
        .expect("nameOverride cle refused");
    assert!(err.contains("nameOverride"), "{err}");
}

/// `*.rules.yml` of a folder, by file name.
fn shipped(dir: &str, suffix: &str) -> BTreeMap<String, String> {
    std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The rule file text of each rendered PrometheusRule (by its `rule-file` annotation): the
/// lines under `spec:`, two spaces of indentation taken off, from the rendered text itself.
fn rule_specs(r: &Rendered) -> BTreeMap<String, String> {
    let text = &r.manifests["cluster-link-exporter/templates/prometheusrule.yaml"];
    let mut specs = BTreeMap::new();
    for doc in text
        .split("\n---\n")
        .filter(|d| d.contains("kind: PrometheusRule"))
    {
        let file = doc
            .lines()
            .find_map(|l| l.trim().strip_prefix("cluster-link-exporter/rule-file: "))
            .expect("rule-file annotation")
            .to_string();
        let (_, body) = doc.split_once("\nspec:\n").expect("spec");
        let lines: Vec<&str> = body
            .lines()
            .map(|l| l.strip_prefix("  ").unwrap_or(l.trim_start()))
            .collect();
        specs.insert(file, lines.join("\n").trim_end().to_string() + "\n");
    }
    specs
}

#[test]
fn the_prometheus_rules_are_the_shipped_files_and_pass_promtool() {
    let r = render(&ci_file("monitoring-values.yaml"));
    let specs = rule_specs(&r);
    let files = shipped("alerts", ".rules.yml");
    assert_eq!(
        specs.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>(),
        "one PrometheusRule per alerts/*.rules.yml"
    );
    assert_eq!(r.of_kind("PrometheusRule").len(), files.len());
    let dir = temp_dir("helm-rules");
    for (name, spec) in &specs {
        assert!(
            spec == &files[name],
            "{name}: the PrometheusRule differs from alerts/{name}"
        );
        let path = dir.join(name);
        std::fs::write(&path, spec).unwrap();
        let (out, text) = command_output(
            Command::new(binary("promtool", "prometheus"))
                .args(["check", "rules"])
                .arg(&path),
        );
        assert!(out.status.success(), "promtool check rules {name}:\n{text}");
    }
    for rule in r.of_kind("PrometheusRule") {
        assert_eq!(
            rule["metadata"]["labels"]["release"],
            "kube-prometheus-stack"
        );
        assert!(rule["spec"]["groups"]
            .as_array()
            .is_some_and(|g| !g.is_empty()));
    }
}

const SHIPPED_RUNBOOKS: &str =
    "https://github.com/cluster-link-exporter/cluster-link-exporter/blob/main/docs/runbooks.md";
const OUR_RUNBOOKS: &str = "https://wiki.internal.example/sre/cluster-link-runbooks.html";

/// `prometheusRule.runbookBaseUrl` points every alert's `runbook_url` at the team's own copy of
/// the runbooks, anchors kept; nothing else of the rule files changes.
#[test]
fn the_runbook_base_url_is_set_in_one_value() {
    const SHIPPED: &str = SHIPPED_RUNBOOKS;
    const OURS: &str = OUR_RUNBOOKS;
    let yaml = format!("prometheusRule: {{enabled: true, runbookBaseUrl: '{OURS}'}}\n");
    let rendered = render_yaml(&yaml).expect("renders");
    assert_eq!(
        status_page_runbooks(&rendered).as_deref(),
        Some(OURS),
        "the status page links the same runbooks as the alerts"
    );
    let specs = rule_specs(&rendered);
    let files = shipped("alerts", ".rules.yml");
    let mut urls = 0;
    for (name, spec) in &specs {
        assert!(
            !spec.contains(SHIPPED),
            "{name} still links the public runbooks"
        );
        assert_eq!(spec, &files[name].replace(SHIPPED, OURS), "{name}");
        urls += spec.matches(&format!("runbook_url: {OURS}#")).count();
    }
    let shipped_urls: usize = files
        .values()
        .map(|f| f.matches("runbook_url:").count())
        .sum();
    assert!(
        shipped_urls > 30,
        "only {shipped_urls} runbook URLs shipped"
    );
    assert_eq!(
        urls, shipped_urls,
        "every runbook_url points at the new base"
    );
}

/// The configuration file's `status_page.runbook_base_url` as the chart renders it (`None`:
/// not set, the exporter links the public runbooks).
fn status_page_runbooks(r: &Rendered) -> Option<String> {
    let config = r.secrets["cle-cluster-link-exporter"]["config.yaml"]
        .as_str()
        .expect("config.yaml");
    let config: Value = serde_norway::from_str(config).expect("YAML");
    config["status_page"]["runbook_base_url"]
        .as_str()
        .map(str::to_string)
}

/// `prometheusRule.runbookBaseUrl` also reaches the exporter's configuration, as
/// `status_page.runbook_base_url` (whether PrometheusRules are rendered or not), and the
/// rendered file passes `check-config`; a `config.file` that sets the key keeps its own; empty
/// sets nothing; a URL the exporter would refuse is refused by the chart.
#[test]
fn the_runbook_base_url_reaches_the_status_page() {
    let cluster = "    clusters: [{name: dr, rest_url: 'https://dr:8090/kafka/v3'}]\n";
    let ours = format!("prometheusRule: {{runbookBaseUrl: '{OUR_RUNBOOKS}'}}\n");
    let r = render_yaml(&format!("{ours}config:\n  file:\n{cluster}")).expect("renders");
    assert_eq!(status_page_runbooks(&r).as_deref(), Some(OUR_RUNBOOKS));
    let path = temp_dir("helm-runbooks").join("config.yaml");
    let config = r.secrets["cle-cluster-link-exporter"]["config.yaml"]
        .as_str()
        .unwrap();
    std::fs::write(&path, config).unwrap();
    let (out, text) = command_output(
        Command::new(BIN)
            .arg("check-config")
            .arg("--config")
            .arg(&path),
    );
    assert!(out.status.success(), "{config}\n{text}");

    let own = "https://runbooks.team.example/cle";
    let yaml = format!(
        "{ours}config:\n  file:\n{cluster}    status_page: {{runbook_base_url: '{own}'}}\n"
    );
    let r = render_yaml(&yaml).expect("renders");
    assert_eq!(
        status_page_runbooks(&r).as_deref(),
        Some(own),
        "config.file wins"
    );

    let r = render(&ci_file("default-values.yaml"));
    assert_eq!(
        status_page_runbooks(&r),
        None,
        "empty: the exporter's default"
    );

    for bad in [
        "wiki.internal.example/rb",
        "https://wiki.internal.example/rb#top",
    ] {
        let yaml = format!("prometheusRule: {{runbookBaseUrl: '{bad}'}}\n");
        match render_yaml(&yaml) {
            Ok(_) => panic!("{bad:?} was accepted"),
            Err(e) => assert!(e.contains("/prometheusRule/runbookBaseUrl"), "{bad}: {e}"),
        }
    }
}

/// Each dashboard ConfigMap's one value, by its key (the file name).
fn dashboard_maps(r: &Rendered) -> BTreeMap<String, String> {
    r.of_kind("ConfigMap")
        .into_iter()
        .flat_map(|cm| {
            assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1", "{cm}");
            let data = cm["data"].as_object().expect("data");
            assert_eq!(data.len(), 1);
            data.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_dashboard_config_maps_are_the_shipped_dashboards() {
    let r = render(&ci_file("monitoring-values.yaml"));
    let maps = dashboard_maps(&r);
    let files = shipped("dashboards", ".json");
    assert_eq!(
        maps.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>()
    );
    for (name, text) in &maps {
        assert!(
            text == &files[name],
            "{name}: the ConfigMap differs from dashboards/{name}"
        );
    }
    let off = render(&ci_file("default-values.yaml"));
    assert!(off.of_kind("ConfigMap").is_empty() && off.of_kind("PrometheusRule").is_empty());
}

/// What a chart repository serves is `helm package`'s archive: Helm follows the chart's links
/// `files/alerts` and `files/dashboards`, so the archive carries the files themselves (and
/// `.helmignore` keeps the rule tests and other files out).
#[test]
fn the_packaged_chart_carries_the_rules_and_the_dashboards() {
    let dir = temp_dir("helm-archive");
    let chart_dir = chart();
    let listing = chart_py(&[
        "archive-members",
        chart_dir.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    let members: BTreeSet<String> = strings(&listing["members"]).into_iter().collect();
    let mut wanted: Vec<String> = shipped("alerts", ".rules.yml")
        .into_keys()
        .map(|n| format!("cluster-link-exporter/files/alerts/{n}"))
        .collect();
    wanted.extend(
        shipped("dashboards", ".json")
            .into_keys()
            .map(|n| format!("cluster-link-exporter/files/dashboards/{n}")),
    );
    for file in &wanted {
        assert!(
            members.contains(file),
            "{file} not in the archive: {members:?}"
        );
    }
    let extra: Vec<&String> = members
        .iter()
        .filter(|m| m.contains("/files/") && !wanted.contains(m))
        .collect();
    assert!(extra.is_empty(), "packaged but never read: {extra:?}");

    let packaged = try_render(&ci_file("monitoring-values.yaml"), true).expect("renders");
    assert_eq!(rule_specs(&packaged), shipped("alerts", ".rules.yml"));
    assert_eq!(dashboard_maps(&packaged), shipped("dashboards", ".json"));
}

#[test]
fn bad_values_are_refused_with_their_key() {
    let cases = [
        ("replicaCount: 0", "/replicaCount"),
        ("image: {tag: latest}", "/image/tag"),
        ("image: {digest: sha256:abc}", "/image/digest"),
        ("replicas: 2", "additional properties 'replicas'"),
        ("web: {port: 70000}", "/web/port"),
        ("web: {basicAuth: {users: {prometheus: changeme}}}", "/web/basicAuth/users/prometheus"),
        ("web: {tls: {clientAuthType: RequireClientCert}}", "/web/tls/clientAuthType"),
        ("probes: {mode: exec}", "/probes/mode"),
        ("probes: {liveness: {httpGet: {path: /}}}", "/probes/liveness"),
        ("sharding: {enabled: true, shards: 1}", "/sharding/shards"),
        ("config: {file: {clusters: []}}", "/config/file/clusters"),
        ("config: {file: {clusters: [{name: a, rest_url: 'kafka:8090'}]}}", "/config/file/clusters/0/rest_url"),
        ("extraArgs: ['web.max-connections=5']", "/extraArgs/0"),
        ("serviceMonitor: {interval: 30}", "/serviceMonitor/interval"),
        ("podAntiAffinity: always", "/podAntiAffinity"),
        // Combinations the templates refuse, each naming its keys.
        ("sharding: {enabled: true}\nreplicaCount: 2", "replicaCount must be 1 with sharding.enabled"),
        ("web: {tls: {enabled: true}}", "web.tls.secretName is required"),
        ("web: {tls: {enabled: true, secretName: s, clientAuthType: RequireAndVerifyClientCert}}", "web.tls.clientCAKey is required"),
        ("probes: {basicAuth: {username: probe}}", "probes.basicAuth.password is required"),
    ];
    for (values, wanted) in cases {
        match render_yaml(values) {
            Ok(_) => panic!("{values:?} was accepted"),
            Err(e) => assert!(e.contains(wanted), "{values:?}: {wanted:?} not in {e}"),
        }
    }
}

/// The pods roll when (and only when) the configuration changes: `checksum/config` is the
/// SHA-256 of the rendered file; the web configuration, which the exporter re-reads itself,
/// and every other value leave it alone.
#[test]
fn the_config_checksum_changes_exactly_when_the_configuration_changes() {
    let base = "config:\n  file:\n    defaults: {poll_interval: 30s}\n    clusters:\n      - {name: dr, rest_url: 'https://dr:8090/kafka/v3'}\n";
    let sum = |yaml: &str| {
        render_yaml(yaml)
            .unwrap_or_else(|e| panic!("{yaml}: {e}"))
            .checksum()
            .expect("checksum/config")
    };
    let reference = sum(base);
    assert_eq!(reference.len(), 64);
    let same = [
        "config:\n  file:\n    clusters:\n      - {rest_url: 'https://dr:8090/kafka/v3', name: dr}\n    defaults: {poll_interval: 30s}\n",
        &format!("{base}replicaCount: 2\n"),
        &format!("{base}resources: {{requests: {{cpu: 1}}}}\n"),
        &format!("{base}image: {{tag: 0.2.0}}\n"),
        &format!("{base}podAnnotations: {{team: kafka}}\n"),
        &format!("{base}web: {{basicAuth: {{users: {{p: $2b$10$JfIHHMur6qv1hUcIqlCdKOtCzIfyocy24wu8cqiTcbPUua7DFJSva}}}}}}\n"),
        &format!("{base}extraEnv: [{{name: A, value: b}}]\n"),
    ];
    for yaml in same {
        assert_eq!(sum(yaml), reference, "changed by {yaml}");
    }
    let changed = [
        base.replace("30s", "15s"),
        base.replace("https://dr:", "https://dr2:"),
        base.replace("name: dr,", "name: dr-east,"),
        format!("{base}      - {{name: eu, rest_url: 'https://eu:8090/kafka/v3'}}\n"),
        // It is the status page's runbook_base_url too.
        format!("{base}prometheusRule: {{runbookBaseUrl: 'https://wiki.example/rb'}}\n"),
    ];
    let mut seen = BTreeSet::from([reference.clone()]);
    for yaml in &changed {
        let s = sum(yaml);
        assert!(seen.insert(s), "not changed (or same as another) by {yaml}");
    }
    // The annotation is the hash of what the Secret holds.
    let r = render_yaml(base).unwrap();
    let config = r.secrets["cle-cluster-link-exporter"]["config.yaml"]
        .as_str()
        .unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, config.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(r.checksum().unwrap(), hex);
    // With an existing Secret the chart cannot see the configuration: no checksum.
    let existing = render(&ci_file("existing-secret-values.yaml"));
    assert_eq!(existing.checksum(), None);
    assert!(existing.secrets.get("cle-cluster-link-exporter").is_none());
}

#[test]
fn the_values_table_in_docs_deploy_md_is_generated_from_values_yaml() {
    let (out, text) = command_output(
        Command::new(venv("python3"))
            .arg(root().join("scripts/helm/values-table.py"))
            .arg("--check")
            .arg(root().join("docs/deploy.md")),
    );
    assert!(out.status.success(), "{text}");
    // Every top-level key of values.yaml is documented (itself or its keys).
    let values: Value =
        serde_norway::from_str(&std::fs::read_to_string(chart().join("values.yaml")).unwrap())
            .unwrap();
    let doc = std::fs::read_to_string(root().join("docs/deploy.md")).unwrap();
    for key in values.as_object().unwrap().keys() {
        assert!(
            doc.contains(&format!("| `{key}` |")) || doc.contains(&format!("| `{key}.")),
            "values.yaml key {key} is not in docs/deploy.md's table"
        );
    }
}

#[test]
fn the_chart_runs_this_version_of_the_exporter() {
    let chart_yaml: Value =
        serde_norway::from_str(&std::fs::read_to_string(chart().join("Chart.yaml")).unwrap())
            .unwrap();
    assert_eq!(chart_yaml["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        chart_yaml["kubeVersion"],
        format!(">={}-0", KUBE_VERSIONS[0])
    );
}

/// NOTES.txt, printed by `helm install`: how to reach the exporter, and the warnings that apply.
#[test]
fn the_notes_say_what_to_do_next() {
    let notes = |scenario: &str| {
        render(&ci_file(scenario)).manifests["cluster-link-exporter/templates/NOTES.txt"].clone()
    };
    let default = notes("default-values.yaml");
    assert!(
        default.contains("port-forward svc/cle-cluster-link-exporter 9849"),
        "{default}"
    );
    assert!(default.contains("placeholder"), "{default}");
    assert!(default.contains("no ServiceMonitor"), "{default}");
    let ha = notes("ha-values.yaml");
    assert!(
        !ha.contains("placeholder") && !ha.contains("no ServiceMonitor"),
        "{ha}"
    );
    assert!(ha.contains("(2 replica(s))"), "{ha}");
    let shards = notes("shards-values.yaml");
    assert!(shards.contains("3 shards, --shard=auto"), "{shards}");
    let existing = notes("existing-secret-values.yaml");
    assert!(
        existing.contains("rollout restart deployment/cle-cluster-link-exporter"),
        "{existing}"
    );
    let tls = notes("tls-values.yaml");
    assert!(
        tls.contains("curl -k https://") && tls.contains("-u <user>:<password>"),
        "{tls}"
    );
}
