"""Metrics: each service serves /metrics on its own port (default.toml
[metrics].port), declared as containerPort/Service port "metrics" and scraped
there (prometheus.io annotations), never published in compose; the
NetworkPolicies let the monitoring namespaces reach the metrics ports and
nothing else that is not public, and nobody else reach a metrics port."""

from __future__ import annotations

import re

from .deployment import NAME_LABEL, Checker, Deployment, app_of, containers, find, pod_of, workloads

# The one workload whose (non-metrics) ports are public: the edge.
PUBLIC_APPS = {"edge"}
MONITORING = {"monitoring", "observability"}


def policy_selects(selector, labels):
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        value, op, values = labels.get(expression["key"]), expression["operator"], expression.get("values", [])
        if (
            (op == "In" and value not in values)
            or (op == "NotIn" and value in values)
            or (op == "Exists" and value is None)
            or (op == "DoesNotExist" and value is not None)
        ):
            return False
    return True


def allowed_sources(docs, namespace, labels, port, port_names, apps):
    """Who may open `port` on a pod with `labels`: 'pod:<app>' (same
    namespace), 'ns:<name>' (any pod there) or 'ns:*other*' / 'external'."""
    everyone = {f"pod:{a}" for a in apps} | {f"ns:{n}" for n in MONITORING} | {"ns:*other*", "external"}
    selecting = [
        d
        for d in docs
        if d["kind"] == "NetworkPolicy"
        and policy_selects(d["spec"].get("podSelector") or {}, labels)
        and ("Ingress" in d["spec"].get("policyTypes", ["Ingress"]))
    ]
    if not selecting:
        return everyone
    allowed = set()
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports:
                matches = False
                for entry in ports:
                    value = entry.get("port")
                    if value is None:
                        matches = True
                    elif isinstance(value, int):
                        matches |= value <= port <= entry.get("endPort", value)
                    else:
                        matches |= port_names.get(value) == port
                if not matches:
                    continue
            peers = rule.get("from")
            if not peers:
                allowed |= everyone
                continue
            for peer in peers:
                if "ipBlock" in peer:
                    allowed |= {"external", "ns:*other*"}
                    continue
                namespaces = {namespace}
                if "namespaceSelector" in peer:
                    # By name (kubernetes.io/metadata.name); "*other*" stands for
                    # every namespace not named here, and for any selector on
                    # other labels (namespaces this check cannot see).
                    selector = peer["namespaceSelector"] or {}
                    namespaces = {
                        n
                        for n in (namespace, *MONITORING, "*other*")
                        if policy_selects(selector, {"kubernetes.io/metadata.name": n})
                    }
                    keys_ = set(selector.get("matchLabels") or {}) | {
                        e["key"] for e in selector.get("matchExpressions") or []
                    }
                    if keys_ - {"kubernetes.io/metadata.name"}:
                        namespaces |= {"*other*"}
                pod_selector = peer.get("podSelector")
                for n in namespaces:
                    if n == namespace:
                        allowed |= {f"pod:{a}" for a in apps if policy_selects(pod_selector or {}, {NAME_LABEL: a})}
                    else:
                        allowed.add(f"ns:{n}")
    return allowed


class Metrics(Checker):
    def check_metrics_env(self, env, expected, where, scraper):
        """A service's metrics settings: its config's port, on every interface."""
        if env.get("VIBES_METRICS__PORT", str(expected)) != str(expected):
            self.problems.append(f"{where}: VIBES_METRICS__PORT {env['VIBES_METRICS__PORT']}, config says {expected}")
        if env.get("VIBES_METRICS__HOST") != "0.0.0.0":
            self.problems.append(f"{where}: VIBES_METRICS__HOST is not 0.0.0.0 ({scraper} could not scrape it)")

    def metrics_mode(self):
        monitoring_sources = {f"ns:{n}" for n in MONITORING}
        edge_metrics = None
        # compose
        for name, service in self.compose["services"].items():
            expected = (self.services.get(name, {}).get("metrics") or {}).get("port")
            env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
            if name in self.services:
                if expected is None:
                    self.problems.append(f"services/{name}/config/default.toml: no [metrics] port")
                    continue
                self.check_metrics_env(env, expected, f"compose {name}", "the collector")
            elif name == "edge":
                expected = int(env.get("EDGE_METRICS_LISTEN", "0").rsplit(":", 1)[-1] or 0) or None
                if expected is None:
                    self.problems.append("compose edge: no EDGE_METRICS_LISTEN")
                    continue
            else:
                continue
            if str(expected) not in [str(p) for p in service.get("expose", [])]:
                self.problems.append(f"compose {name}: expose does not list its metrics port {expected}")
            for published in service.get("ports", []) or []:
                spec = published if isinstance(published, str) else str(published.get("target"))
                if re.search(rf"(^|:){expected}(/tcp)?$", spec):
                    self.problems.append(f"compose {name}: its metrics port {expected} is published ({spec})")
        # k8s
        for overlay, docs in self.overlays.items():
            namespace = next(
                (d["metadata"].get("namespace") for d in docs if d["metadata"].get("namespace")), "default"
            )
            apps = {app_of(d) for d in workloads(docs)}
            for doc in workloads(docs):
                app, pod = app_of(doc), pod_of(doc)
                where = f"k8s {overlay} {doc['kind']}/{doc['metadata']['name']}"
                labels = doc["spec"]["template"]["metadata"].get("labels", {})
                ports = {}
                for _, container in containers(pod):
                    for p in container.get("ports", []):
                        ports[p["containerPort"]] = p.get("name")
                port_names = {name: number for number, name in ports.items() if name}
                expected = None
                if app in self.services:
                    expected = (self.services[app].get("metrics") or {}).get("port")
                    if expected is None:
                        self.problems.append(f"services/{app}/config/default.toml: no [metrics] port")
                        continue
                    for _, container in containers(pod):
                        if container["name"] != app:
                            continue
                        env = {e["name"]: str(e.get("value", "")) for e in container.get("env", [])}
                        self.check_metrics_env(env, expected, where, "Prometheus")
                    if expected == self.services[app]["server"]["port"]:
                        self.problems.append(f"{where}: the metrics port is the API port {expected}")
                elif app == "edge":
                    for _, container in containers(pod):
                        for e in container.get("env", []):
                            if e["name"] == "EDGE_METRICS_LISTEN":
                                expected = int(str(e.get("value", "0")).rsplit(":", 1)[-1])
                if expected is not None:
                    if port_names.get("metrics") != expected:
                        self.problems.append(f"{where}: no containerPort named metrics on {expected}")
                    annotations = doc["spec"]["template"]["metadata"].get("annotations", {})
                    if (
                        annotations.get("prometheus.io/scrape") != "true"
                        or annotations.get("prometheus.io/port") != str(expected)
                        or annotations.get("prometheus.io/path", "/metrics") != "/metrics"
                    ):
                        self.problems.append(
                            f"{where}: the prometheus.io annotations do not scrape /metrics on {expected}"
                        )
                    service = find(docs, "Service", doc["metadata"]["name"])
                    if app in self.services and service is not None:
                        service_ports = {
                            p.get("name"): (p["port"], p.get("targetPort")) for p in service["spec"]["ports"]
                        }
                        if service_ports.get("metrics", (None,))[0] != expected or service_ports["metrics"][1] not in (
                            "metrics",
                            expected,
                        ):
                            self.problems.append(
                                f"{where}: Service {service['metadata']['name']} has no port metrics -> {expected}"
                            )
                    if app == "edge":
                        edge_metrics = expected
                # Who reaches which port of this pod.
                for port in sorted(ports):
                    sources = allowed_sources(docs, namespace, labels, port, port_names, apps)
                    public = "external" in sources
                    if port == expected:
                        if sources != monitoring_sources:
                            self.problems.append(
                                f"{where}: metrics port {port} is reachable from {sorted(sources)}; "
                                f"exactly {sorted(monitoring_sources)} must reach it"
                            )
                    elif public and app not in PUBLIC_APPS:
                        self.problems.append(
                            f"{where}: port {port} is reachable from outside the namespace ({sorted(sources)})"
                        )
                    elif not public and sources & monitoring_sources:
                        self.problems.append(
                            f"{where}: port {port} (not metrics) is reachable from "
                            f"{sorted(sources & monitoring_sources)}"
                        )
        if self.overlays and edge_metrics is None:
            self.problems.append("k8s: the edge declares no metrics port (EDGE_METRICS_LISTEN)")


def check(deploy: Deployment) -> list[str]:
    checker = Metrics(deploy)
    checker.metrics_mode()
    return checker.problems
