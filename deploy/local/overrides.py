"""Writes the shipped rules / Alertmanager config for deploy/local/run.sh.

  overrides.py rules ALERTS_DIR OUT_DIR
      alerts/*.rules.yml with each alert's `for:` from alerts/test-overrides.yml; prints the
      evaluation interval to use.
  overrides.py alertmanager ALERTS_DIR OUT_DIR FAST
      alerts/alertmanager.yml with the webhook receivers pointed at the local receiver
      (http://127.0.0.1:9095/<receiver>) and, when FAST is 1, the test durations.
"""
import pathlib
import sys

import yaml


def shorten(route, durations, root):
    """The root route takes every duration; a child route only those it sets itself."""
    for key, value in durations.items():
        if root or key in route:
            route[key] = value
    for child in route.get("routes", []):
        shorten(child, durations, root=False)


def main():
    mode, alerts, out = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    overrides = yaml.safe_load((alerts / "test-overrides.yml").read_text())
    if mode == "rules":
        for path in sorted(alerts.glob("*.rules.yml")):
            rules = yaml.safe_load(path.read_text())
            for group in rules["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        rule["for"] = overrides["for"][rule["alert"]]
            (out / path.name).write_text(yaml.safe_dump(rules, sort_keys=False))
        print(overrides["evaluation_interval"])
    elif mode == "alertmanager":
        config = yaml.safe_load((alerts / "alertmanager.yml").read_text())
        for receiver in config["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = f"http://127.0.0.1:9095/{receiver['name']}"
        if sys.argv[4] == "1":
            shorten(config["route"], overrides["alertmanager"], root=True)
        (out / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    else:
        sys.exit(f"unknown mode {mode}")


main()
