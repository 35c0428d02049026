//! The container image (issue 14 §1), checked without a container engine: hadolint on the
//! `Dockerfile`; its structure (pinned bases, numeric non-root user, `EXPOSE` = the default
//! port, exec-form entrypoint, default `--config`, OCI labels, no `latest`); the release binary
//! the `Dockerfile` builds by default (`--no-default-features --features static-deps`) needing no shared library the runtime
//! image lacks; and that binary run as uid 65532 in a root file system assembled from exactly
//! the Debian packages of `gcr.io/distroless/cc-debian12` (`apt-get download` +
//! `dpkg-deb -x`, run through `unshare` + `chroot`, so root is needed): `--version`,
//! `check-config` of `deploy/config.example.yaml` at the image's default path, and `/metrics`
//! served for the simulator.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::common::deploy::{
    altered_copy, dockerfile, release_binary, repo, run, venv_tool, Instruction,
};
use crate::common::eventually::eventually;
use crate::common::exporter::get_text;
use crate::common::servers::{free_port, temp_dir};
use crate::common::sim::start;

/// The Debian packages of `gcr.io/distroless/cc-debian12`, as GoogleContainerTools/distroless
/// assembles it: `static` = base-files, netbase, tzdata, media-types (`static/static.bzl`),
/// `base` adds libc6 and libssl3 (`base/config.bzl`), `cc` adds libgomp1, libstdc++6,
/// libgcc-s1 and gcc-12-base (`cc/config.bzl`). Its CA bundle is made from ca-certificates,
/// which [`runtime_root`] does too (the package's scripts do not run in either).
const RUNTIME_PACKAGES: &[&str] = &[
    "base-files",
    "netbase",
    "tzdata",
    "media-types",
    "libc6",
    "libssl3",
    "libgomp1",
    "libstdc++6",
    "libgcc-s1",
    "gcc-12-base",
];

/// The `nonroot` variant's user and group.
const NONROOT: &str = "65532:65532";

fn instructions() -> Vec<Instruction> {
    dockerfile(&std::fs::read_to_string(repo("Dockerfile")).expect("read Dockerfile"))
}

/// The arguments of every `keyword` instruction.
fn all(instructions: &[Instruction], keyword: &str) -> Vec<String> {
    instructions
        .iter()
        .filter(|i| i.keyword == keyword)
        .map(|i| i.args.clone())
        .collect()
}

/// An exec-form (JSON array) instruction's arguments.
fn exec_form(instructions: &[Instruction], keyword: &str) -> Vec<String> {
    let args = all(instructions, keyword);
    assert_eq!(args.len(), 1, "one {keyword}: {args:?}");
    serde_json::from_str(&args[0])
        .unwrap_or_else(|e| panic!("{keyword} is not in exec form (a JSON array): {e}"))
}

#[test]
fn hadolint_is_clean_at_warning_level_and_catches_an_unpinned_apt_install() {
    let hadolint = venv_tool("hadolint");
    let lint = |path: &Path| {
        run(Command::new(&hadolint)
            .args(["--no-color", "--failure-threshold", "warning"])
            .arg(path))
    };
    let ran = lint(&repo("Dockerfile"));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert_eq!(ran.stdout.trim(), "", "hadolint findings:\n{}", ran.show());
    // The same file without its one documented exception must fail: the linter really ran.
    let dir = temp_dir("hadolint");
    let unexcused = altered_copy(
        &repo("Dockerfile"),
        &dir,
        "Dockerfile",
        "# hadolint ignore=DL3008\n",
        "",
    );
    let ran = lint(&unexcused);
    assert!(
        ran.code != Some(0) && ran.stdout.contains("DL3008"),
        "{}",
        ran.show()
    );
    std::fs::remove_dir_all(dir).ok();
}

/// `image:tag@sha256:<64 hex>`: (image, tag); panics when the digest is missing.
fn pinned(reference: &str) -> (&str, &str) {
    let (name, digest) = reference
        .split_once("@sha256:")
        .unwrap_or_else(|| panic!("{reference}: not pinned by digest"));
    assert!(
        digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "{reference}: bad digest"
    );
    let (image, tag) = name
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{reference}: no tag"));
    assert!(!tag.contains("latest"), "{reference}: a latest tag");
    (image, tag)
}

#[test]
fn dockerfile_pins_its_bases_and_runs_the_exporter_as_a_numeric_non_root_user() {
    let ins = instructions();
    let froms = all(&ins, "FROM");
    assert_eq!(froms.len(), 2, "builder and runtime stages: {froms:?}");
    let builder: Vec<&str> = froms[0].split_whitespace().collect();
    let (image, tag) = pinned(builder[0]);
    assert_eq!(image, "rust");
    assert!(
        tag.ends_with("-bookworm") && tag.split('-').next().unwrap().split('.').count() == 3,
        "builder: a full Rust version on bookworm: {tag}"
    );
    assert_eq!(
        pinned(&froms[1]),
        ("gcr.io/distroless/cc-debian12", "nonroot")
    );
    let text = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    assert!(!text.contains(":latest"), "a latest tag in the Dockerfile");

    assert_eq!(all(&ins, "USER"), vec![NONROOT.to_owned()]);
    let main = std::fs::read_to_string(repo("src/main.rs")).unwrap();
    let default_listen = main
        .lines()
        .find_map(|l| l.strip_prefix("const DEFAULT_LISTEN: &str = \""))
        .and_then(|rest| rest.strip_suffix("\";"))
        .expect("DEFAULT_LISTEN in src/main.rs");
    let port = default_listen.rsplit_once(':').unwrap().1;
    assert_eq!(all(&ins, "EXPOSE"), vec![port.to_owned()]);
    assert_eq!(
        exec_form(&ins, "ENTRYPOINT"),
        vec!["/usr/local/bin/cluster-link-exporter"]
    );
    assert_eq!(
        exec_form(&ins, "CMD"),
        vec!["--config=/etc/cluster-link-exporter/config.yaml"]
    );
    let build = all(&ins, "RUN")
        .into_iter()
        .find(|r| r.contains("cargo build"))
        .expect("a cargo build");
    assert!(
        build.contains("--release --locked --no-default-features --features \"${CARGO_FEATURES}\""),
        "{build}"
    );
    assert_eq!(
        all(&ins, "ARG")
            .iter()
            .find_map(|a| a.strip_prefix("CARGO_FEATURES=")),
        Some(crate::common::deploy::IMAGE_FEATURES),
        "the image's default features are those the tests build with"
    );
    assert_labels(&ins);
}

fn assert_labels(ins: &[Instruction]) {
    let labels = all(ins, "LABEL").join(" ");
    for key in [
        "title",
        "description",
        "source",
        "licenses",
        "version",
        "revision",
    ] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{key}=\"")),
            "label org.opencontainers.image.{key} missing: {labels}"
        );
    }
    let cargo = std::fs::read_to_string(repo("Cargo.toml")).unwrap();
    assert!(
        cargo.contains("license = \"Apache-2.0\"")
            && labels.contains("org.opencontainers.image.licenses=\"Apache-2.0\""),
        "the licenses label follows Cargo.toml"
    );
}

/// The shared libraries the binary names (`readelf -d`, NEEDED entries).
fn needed(binary: &Path) -> Vec<String> {
    let ran = run(Command::new("readelf").arg("-d").arg(binary));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    ran.stdout
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split_once("Shared library: [")?.1.split_once(']'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// File names (files and symbolic links) under `dir`.
fn file_names(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            file_names(&entry.path(), out);
        } else {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn release_binary_needs_only_libraries_the_runtime_image_ships() {
    let binary = release_binary();
    let needed = needed(&binary);
    eprintln!("NEEDED: {needed:?}");
    assert!(
        needed.iter().any(|n| n.starts_with("libc.so")),
        "{needed:?}"
    );
    for missing_in_runtime in ["libz.so", "libcurl.so"] {
        assert!(
            !needed.iter().any(|n| n.starts_with(missing_in_runtime)),
            "{missing_in_runtime} is dynamic (distroless cc-debian12 has none): {needed:?}"
        );
    }
    let root = runtime_root();
    let mut shipped = Vec::new();
    file_names(&root.join("lib"), &mut shipped);
    file_names(&root.join("usr/lib"), &mut shipped);
    let absent: Vec<&String> = needed.iter().filter(|n| !shipped.contains(n)).collect();
    assert!(absent.is_empty(), "not in the runtime image: {absent:?}");
    std::fs::remove_dir_all(root).ok();
}

/// `.deb` files of [`RUNTIME_PACKAGES`] and ca-certificates, downloaded once into
/// `target/deploy-image/debs/` (apt-get download: the current bookworm versions).
fn debs() -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _once = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo("target/deploy-image/debs");
    std::fs::create_dir_all(&dir).unwrap();
    let have = |p: &str| {
        std::fs::read_dir(&dir).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{p}_"))
        })
    };
    let packages = RUNTIME_PACKAGES.iter().chain(&["ca-certificates"]);
    let missing: Vec<&&str> = packages.filter(|p| !have(p)).collect();
    if !missing.is_empty() {
        let ran = run(Command::new("apt-get")
            .arg("download")
            .args(missing.iter().map(|p| **p))
            .current_dir(&dir));
        assert_eq!(ran.code, Some(0), "apt-get download:\n{}", ran.show());
    }
    dir
}

/// A root file system like the runtime image's: the packages extracted, the CA bundle, the
/// passwd/group entries of distroless (root, nobody, nonroot 65532), `/tmp`, the nonroot home,
/// and the release binary at `/usr/local/bin/cluster-link-exporter`.
fn runtime_root() -> PathBuf {
    let debs = debs();
    let root = temp_dir("image-root");
    let extras = temp_dir("image-cacerts");
    for entry in std::fs::read_dir(&debs).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let target = if name.starts_with("ca-certificates_") {
            &extras
        } else if RUNTIME_PACKAGES
            .iter()
            .any(|p| name.starts_with(&format!("{p}_")))
        {
            &root
        } else {
            continue;
        };
        let ran = run(Command::new("dpkg-deb")
            .arg("-x")
            .arg(entry.path())
            .arg(target));
        assert_eq!(ran.code, Some(0), "{name}:\n{}", ran.show());
    }
    write_bundle(&extras.join("usr/share/ca-certificates"), &root);
    std::fs::remove_dir_all(extras).ok();
    let files: [(&str, &str); 3] = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
        ),
        ("etc/group", "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"),
        ("etc/nsswitch.conf", "hosts: files dns\n"),
    ];
    for (path, text) in files {
        std::fs::write(root.join(path), text).unwrap();
    }
    for dir in [
        "tmp",
        "proc",
        "home/nonroot",
        "usr/local/bin",
        "etc/cluster-link-exporter",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    chmod(&root.join("tmp"), 0o1777);
    chown(&root.join("home/nonroot"), NONROOT);
    std::fs::copy(
        release_binary(),
        root.join("usr/local/bin/cluster-link-exporter"),
    )
    .unwrap();
    root
}

/// `/etc/ssl/certs/ca-certificates.crt`: every certificate of the package, concatenated (what
/// distroless does instead of running update-ca-certificates).
fn write_bundle(certs: &Path, root: &Path) {
    let mut names = Vec::new();
    collect_paths(certs, &mut names);
    names.sort();
    let bundle: String = names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "crt"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(bundle.contains("BEGIN CERTIFICATE"), "no CA certificates");
    std::fs::create_dir_all(root.join("etc/ssl/certs")).unwrap();
    std::fs::write(root.join("etc/ssl/certs/ca-certificates.crt"), bundle).unwrap();
}

fn collect_paths(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().unwrap().is_dir() {
            collect_paths(&entry.path(), out);
        } else {
            out.push(entry.path());
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, owner: &str) {
    let ran = run(Command::new("chown").arg(owner).arg(path));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
}

/// The binary in `root`, as uid/gid 65532, in new PID and mount namespaces with `/proc`
/// mounted (as a container runtime gives it, the exporter their PID 1), the environment of the
/// distroless image only. The network is the host's, so loopback servers are reachable.
///
/// It dies with the test, also when the test process is killed without unwinding (its drops
/// never run): `setpriv --pdeathsig KILL` has the outer `unshare` killed when the test dies;
/// that `unshare`'s child is root, keeps its parent-death signal (`--kill-child`) and is PID 1
/// of an outer PID namespace, so its death takes every process of that namespace with it,
/// the exporter too. The exporter's own parent-death signal cannot do it: the kernel clears
/// it when chroot changes the user, so the exporter, PID 1 of an inner namespace, is never
/// the namespace's init that the kernel signals for it.
fn in_image(root: &Path, args: &[String]) -> Command {
    assert!(
        run(Command::new("id").arg("-u")).stdout.trim() == "0",
        "this test assembles and enters a root file system (unshare, chroot): run it as root"
    );
    let mut cmd = Command::new("setpriv");
    // A process group of its own as well, which a stop kills whole (KillGroupOnDrop).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.args(["--pdeathsig", "KILL", "--"])
        .args(["unshare", "--pid", "--fork", "--kill-child", "--"])
        .args(["unshare", "--pid", "--fork", "--kill-child", "--mount"])
        .arg(format!("--mount-proc={}", root.join("proc").display()))
        .args(["chroot", &format!("--userspec={NONROOT}")])
        .arg(root)
        .arg("/usr/local/bin/cluster-link-exporter")
        .args(args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
        .env("HOME", "/home/nonroot");
    cmd
}

/// The image's default arguments (its `CMD`).
fn cmd_args() -> Vec<String> {
    exec_form(&instructions(), "CMD")
}

#[test]
fn release_binary_prints_its_version_and_checks_the_example_config_in_the_runtime_file_set() {
    let root = runtime_root();
    let ran = run(&mut in_image(&root, &["--version".into()]));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert_eq!(
        ran.stdout.trim(),
        format!("cluster-link-exporter {}", env!("CARGO_PKG_VERSION"))
    );
    // The example configuration at the default path, its secret where it says, both readable
    // by anyone (a mounted ConfigMap/Secret), owned by root.
    let config = cmd_args()[0]
        .strip_prefix("--config=/")
        .expect("CMD gives --config=<absolute path>")
        .to_owned();
    std::fs::copy(repo("deploy/config.example.yaml"), root.join(&config)).unwrap();
    let ran = run(&mut in_image(&root, &check_config_args()));
    assert_eq!(
        ran.code,
        Some(2),
        "the secret file is not there yet:\n{}",
        ran.show()
    );
    let secret = root.join("run/secrets/cluster-link-exporter");
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("rest-password"), "example\n").unwrap();
    let ran = run(&mut in_image(&root, &check_config_args()));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert_eq!(
        ran.stdout.trim(),
        "config OK: 1 cluster(s)",
        "{}",
        ran.show()
    );
    std::fs::remove_dir_all(root).ok();
}

/// `check-config` followed by the image's `CMD` (`docker run <image> check-config --config=…`).
fn check_config_args() -> Vec<String> {
    std::iter::once("check-config".to_owned())
        .chain(cmd_args())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn release_binary_serves_metrics_for_the_simulator_as_uid_65532_in_the_runtime_file_set() {
    let sim = start(
        "clusters:\n  - {name: A, brokers: 1, topics: [{name: demo-perf-topic, partitions: 2}]}\n  - {name: B, brokers: 1}\nlinks:\n  - {name: ab-link, source: A, destination: B, mirrors: [demo-perf-topic]}\n",
    )
    .await;
    let root = runtime_root();
    let config = crate::common::scrape::exporter_yaml(&sim, "500ms", &[("B", "")]);
    std::fs::write(root.join("etc/cluster-link-exporter/config.yaml"), config).unwrap();
    let port = free_port();
    let mut args = cmd_args();
    args.push(format!("--web.listen-address=127.0.0.1:{port}"));
    let log = root.join("tmp/exporter.log");
    let child = Mutex::new(KillGroupOnDrop(
        in_image(&root, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the exporter in the runtime root"),
    ));
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = eventually(Duration::from_secs(60), "ab-link on /metrics", || async {
        let exited = child.lock().unwrap().0.try_wait();
        if let Ok(Some(status)) = exited {
            panic!("exited: {status}; log:\n{}", read(&log));
        }
        match get_text(&client, &url).await {
            Some((200, text)) if text.contains("link=\"ab-link\"") => Ok(text),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let up = crate::common::scrape::value(&text, "clusterlink_up", &[("kafka_cluster", "B")]);
    assert_eq!(up, Some(1.0), "{text}");
    // setpriv becomes the outer unshare, which forks the inner one (the outer namespace's
    // init), which forks the child that chroots and becomes the exporter: one each.
    let child = child.into_inner().unwrap();
    let init = children(child.0.id());
    assert_eq!(init.len(), 1, "{init:?}");
    let exporter = children(init[0]);
    assert_eq!(exporter.len(), 1, "{exporter:?}");
    let status = read(Path::new(&format!("/proc/{}/status", exporter[0])));
    let ids = |key: &str| {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap_or("");
        line.split_whitespace().skip(1).collect::<Vec<_>>()
    };
    assert_eq!(ids("Uid:"), vec!["65532"; 4], "{status}");
    assert_eq!(ids("Gid:"), vec!["65532"; 4], "{status}");
    drop(child);
    // The exporter itself stops too (the process group; the test's death, see `in_image`).
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        !Path::new(&format!("/proc/{}", exporter[0])).exists()
    });
    assert!(gone, "the exporter {} outlived the test", exporter[0]);
    std::fs::remove_dir_all(root).ok();
}

/// A child started in a process group of its own, killed with its whole group (and reaped)
/// when dropped, also when the test panics first.
struct KillGroupOnDrop(std::process::Child);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The process ids whose parent is `pid` (from `/proc/<pid>/stat`).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = read(Path::new(&format!("/proc/{p}/stat")));
            // pid (comm) state ppid …: the command may hold spaces, so split after ')'.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(pid)
        })
        .collect()
}
