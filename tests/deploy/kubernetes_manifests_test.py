#!/usr/bin/env python3
"""deploy/kubernetes/: yamllint-clean, and the Deployment keeps the promises docs/deploy.md
makes: probes on /health, a grace period that covers the drain, one GPU per replica,
Services that select the Deployment's pods. Needs Debian's yamllint (and python3-yaml)."""
import pathlib
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
ABORT_GRACE_S = 5  # src/server/server.cpp kAbortGrace: aborted streams' time to end


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def arg_value(args, flag):
    for arg in args:
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    fail(f"the tern container's args lack {flag}=...")


def main():
    if shutil.which("yamllint") is None:
        fail("yamllint is not installed (scripts/install-deps.sh installs it)")
    lint = subprocess.run(["yamllint", "-s", "-c", str(MANIFESTS / ".yamllint"), str(MANIFESTS)],
                          capture_output=True, text=True)
    check(lint.returncode == 0, "yamllint:\n" + lint.stdout + lint.stderr)

    docs = [d for f in sorted(MANIFESTS.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    services = [d for d in docs if d["kind"] == "Service"]
    check(len(deployments) == 1 and services, "one Deployment and its Services")
    deployment = deployments[0]
    pod = deployment["spec"]["template"]
    check(deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(),
          "the Deployment's selector matches its pod labels")
    container = pod["spec"]["containers"][0]
    args = container["args"]
    check(args[0] == "serve", "the container runs `tern serve`")
    check(arg_value(args, "--host") == "0.0.0.0", "tern listens beyond loopback inside the pod")
    port = int(arg_value(args, "--port"))
    named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(named_ports.get("http") == port, "the http container port is tern's --port")

    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        check(get["path"] == "/health" and get["port"] == "http", f"{probe} asks GET /health on the http port")
    check(container["readinessProbe"]["failureThreshold"] == 1, "a draining replica leaves the endpoints at once")

    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    check(sleep[0] == "sleep", "preStop waits for the endpoints to be updated")
    drain = int(sleep[1]) + int(arg_value(args, "--shutdown-timeout")) + ABORT_GRACE_S
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    check(grace > drain, f"terminationGracePeriodSeconds {grace} covers preStop + drain + abort grace ({drain} s)")
    check(container["resources"]["limits"]["nvidia.com/gpu"] == 1, "one GPU per replica")

    for service in services:
        check(service["spec"]["selector"].items() <= pod["metadata"]["labels"].items(),
              f"Service {service['metadata']['name']} selects the tern pods")
        check(all(p["targetPort"] == "http" for p in service["spec"]["ports"]),
              f"Service {service['metadata']['name']} targets the http port")
    check(any(s["spec"].get("clusterIP") == "None" for s in services),
          "a headless Service lists the replicas for HAProxy")
    print("ok: deploy/kubernetes manifests")


main()
