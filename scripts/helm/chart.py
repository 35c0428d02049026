#!/usr/bin/env python3
"""Renders, lints and packages the Helm chart offline, for tests/e2e/deploy_helm.rs.

Uses helm-python-sdk (Helm v4's Go SDK behind ctypes: no `helm` binary, no cluster), from the
venv scripts/setup-deps.sh makes (.venv/). Prints one JSON object on stdout:

  chart.py render CHART VALUES.yaml [--package DIR] [--name N] [--namespace NS]
      {"ok": true, "manifests": {template: text}, "objects": [{"template": t, "object": {...}}],
       "secrets": {name: {key: decoded text}}}
      or {"ok": false, "error": "..."} (bad values, a failed template); --package renders the
      archive `helm package` makes in DIR (what a chart repository serves) instead of the folder.
  chart.py lint CHART VALUES.yaml --kube-version v1.25.0
      {"messages": [{"severity": 1, "path": ..., "error": ...}], "errors": [...]}
  chart.py archive-members CHART DIR
      {"members": [...]}: the files of the packaged chart
"""
import argparse
import base64
import json
import sys
import tarfile

import helm_python as helm
import yaml


def load_values(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def render(args):
    values = load_values(args.values)
    try:
        if args.package:
            archive = helm.package(args.chart, destination=args.package)
            with open(archive, "rb") as f:
                chart = helm.Chart.load_archive(f.read())
        else:
            chart = helm.Chart.load(args.chart)
        manifests = chart.render(values, name=args.name, namespace=args.namespace,
                                 is_install=True)
    except helm.HelmError as e:
        return {"ok": False, "error": str(e)}
    objects = []
    for template, text in sorted(manifests.items()):
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc is not None:
                objects.append({"template": template, "object": doc})
    secrets = {
        o["object"]["metadata"]["name"]: {
            k: base64.b64decode(v).decode("utf-8") for k, v in o["object"].get("data", {}).items()
        }
        for o in objects
        if o["object"].get("kind") == "Secret"
    }
    return {"ok": True, "manifests": manifests, "objects": objects, "secrets": secrets}


def lint(args):
    return helm.lint(args.chart, load_values(args.values), strict=True,
                     kube_version=args.kube_version)


def archive_members(args):
    archive = helm.package(args.chart, destination=args.dir)
    with tarfile.open(archive) as tar:
        return {"members": sorted(tar.getnames())}


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render")
    r.add_argument("chart")
    r.add_argument("values")
    r.add_argument("--package")
    r.add_argument("--name", default="cle")
    r.add_argument("--namespace", default="monitoring")
    r.set_defaults(run=render)
    lnt = sub.add_parser("lint")
    lnt.add_argument("chart")
    lnt.add_argument("values")
    lnt.add_argument("--kube-version", required=True)
    lnt.set_defaults(run=lint)
    a = sub.add_parser("archive-members")
    a.add_argument("chart")
    a.add_argument("dir")
    a.set_defaults(run=archive_members)
    args = parser.parse_args()
    json.dump(args.run(args), sys.stdout)


if __name__ == "__main__":
    main()
