"""Drift: every VIBES_* name and service port used by compose and k8s must
exist in the services' config/default.toml (env names:
VIBES_<SECTION>__<KEY>); secrets without a default are set for the service
that needs them; the edge gets every variable scripts/render-edge-config
requires (and none it ignores) with values its checks accept; and values two
components share come from one source."""

from __future__ import annotations

import base64
import re

from .deployment import Deployment, compose_env

# Values two components must share: (edge variable, service, its setting).
SHARED = [("EDGE_RELAY_KEY", "session-registry", "VIBES_PLAYBACK__EDGE_RELAY_KEY")]


def env_names(table: dict, prefix: str = ""):
    """(VIBES_<SECTION>__<KEY>, key, default) for each setting of a config."""
    for key, value in table.items():
        name = f"{prefix}__{key.upper()}" if prefix else key.upper()
        if isinstance(value, dict):
            yield from env_names(value, name)
        else:
            yield "VIBES_" + name, key, value


def required(entries) -> set[str]:
    """Secrets without a default (e.g. auth.secret, playback.token_secret)
    must be set wherever the service is deployed; previous_* are optional."""
    return {
        name
        for name, key, value in entries
        if key.endswith("secret") and not key.startswith("previous") and value == ""
    }


class EdgeRules:
    """What scripts/render-edge-config asks of its environment. Required:
    "${NAME:?}", or checked as [[ ! "${NAME:-}" =~ PATTERN ]] (no default)
    with a PATTERN the empty value fails. Known: every upper-case word in it."""

    def __init__(self, script: str):
        self.required = set(re.findall(r'"\$\{([A-Z_]+):\?[^}]*\}"', script))
        self.patterns = {}
        for name, no_default, pattern in re.findall(r'\[\[ ! "\$\{?([A-Z_]+)(:-)?\}?" =~ (\S+) \]\]', script):
            self.patterns[name] = pattern
            if no_default and not re.search(pattern, ""):
                self.required.add(name)
        self.known = set(re.findall(r"\b([A-Z][A-Z_]*)\b", script))


class Drift:
    def __init__(self, deploy: Deployment):
        self.deploy = deploy
        self.problems: list[str] = []
        self.services = {}
        for name, config in deploy.services.items():
            entries = list(env_names(config))
            self.services[name] = {
                "names": {env for env, _, _ in entries},
                "required": required(entries),
                "port": config["server"]["port"],
                # GET /metrics alone, on its own port (checked by the metrics check).
                "metrics_port": config.get("metrics", {}).get("port"),
            }
        self.all_names = set().union(*(s["names"] for s in self.services.values()))
        self.host_port = re.compile(
            r"(?<![\w.-])(" + "|".join(map(re.escape, self.services)) + r")(?:\.[\w.$()-]+)?:(\d+)(?![\d.])"
        )
        self.edge = EdgeRules(deploy.text("scripts/render-edge-config"))

    def scan_strings(self, node, where, skip_keys=("image",)):
        """Ports in <service>[.domain]:<port> strings must be that service's port."""
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in skip_keys:
                    self.scan_strings(value, f"{where}.{key}", skip_keys)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self.scan_strings(value, f"{where}[{index}]", skip_keys)
        elif isinstance(node, str):
            for match in self.host_port.finditer(node):
                service, port = match.group(1), int(match.group(2))
                if port != self.services[service]["port"]:
                    self.problems.append(
                        f"{where}: {match.group(0)} but {service} listens on {self.services[service]['port']}"
                    )

    def check_names(self, names, allowed, where, needed=()):
        for name in names:
            if name.startswith("VIBES_") and name not in allowed:
                self.problems.append(f"{where}: {name} is not a setting of that service")
        for name in sorted(set(needed) - set(names)):
            self.problems.append(f"{where}: {name} has no default and is not set")

    def check_edge_env(self, env, where):
        """env: name -> value, or None where the value is not visible here.
        The values themselves are never printed."""
        for missing in sorted(self.edge.required - set(env)):
            self.problems.append(f"{where}: {missing} is required by scripts/render-edge-config but not set")
        for name, value in sorted(env.items()):
            if (name.startswith("EDGE_") or name.endswith("_ADDR")) and name not in self.edge.known:
                self.problems.append(f"{where}: {name} is not read by scripts/render-edge-config")
            pattern = self.edge.patterns.get(name)
            if pattern and value is not None and not re.search(pattern, value):
                self.problems.append(
                    f"{where}: the value of {name} does not match {pattern} (scripts/render-edge-config)"
                )

    def check_shared(self, edge_sources, service_sources, where):
        """*_sources: service -> {name: where the value comes from}."""
        for edge_name, service, setting in SHARED:
            edge_source = edge_sources.get(edge_name)
            source = service_sources.get(service, {}).get(setting)
            if edge_source is None:
                continue  # reported above if the render script requires it
            if source is None:
                self.problems.append(f"{where} {service}: {setting} is not set (it must equal the edge's {edge_name})")
            elif source != edge_source:
                self.problems.append(
                    f"{where} {service}: {setting} comes from {source}, the edge's {edge_name} from {edge_source}"
                )

    # ----------------------------------------------------------- compose ---
    def compose_value(self, raw):
        """${VAR} values resolved from compose/.env.example, as the
        docker-compose check runs it."""

        def substitute(match):
            value = self.deploy.env_example.get(match.group(1), "")
            if (match.group(2) or "").endswith("-") and not value:
                return match.group(3)
            return value

        return re.sub(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}", substitute, str(raw))

    @staticmethod
    def compose_source(raw):
        """The variables a value is interpolated from, else the literal."""
        names = re.findall(r"\$\{(\w+)", str(raw))
        return f"${{{', '.join(names)}}}" if names else repr(str(raw))

    def check_compose(self):
        compose = self.deploy.compose
        edge_env = compose_env(compose["services"]["edge"])
        self.check_edge_env({k: self.compose_value(v) for k, v in edge_env.items()}, "compose edge")
        self.check_shared(
            {k: self.compose_source(v) for k, v in edge_env.items()},
            {
                name: {k: self.compose_source(v) for k, v in compose_env(service).items()}
                for name, service in compose["services"].items()
            },
            "compose",
        )
        self.scan_strings(compose, "compose")
        for name, service in compose["services"].items():
            env = compose_env(service)
            where = f"compose {name}"
            if name in self.services:
                port = self.services[name]["port"]
                self.check_names(env, self.services[name]["names"], where, self.services[name]["required"])
                if str(port) not in [str(p) for p in service.get("expose", [])]:
                    self.problems.append(f"{where}: expose does not list its port {port}")
                # (its metrics port: the metrics check)
                test = " ".join(service.get("healthcheck", {}).get("test", []))
                if f"/dev/tcp/127.0.0.1/{port}" not in test or "/health/ready" not in test:
                    self.problems.append(f"{where}: health check does not ask /health/ready on port {port}")
            else:
                self.check_names(env, set(), where)
        for line in self.deploy.text("compose/.env.example").splitlines():
            name = line.split("=", 1)[0].strip()
            if name.startswith("VIBES_") and name not in self.all_names:
                self.problems.append(f"compose/.env.example: {name} is not a setting of any service")
        # The generated SRS config (compose and k8s mount the same file; a
        # missing one is reported by the engine config check).
        for srs_conf in ("compose/srs.conf", "k8s/base/srs.conf"):
            if self.deploy.exists(srs_conf):
                self.scan_strings({"srs.conf": self.deploy.text(srs_conf)}, srs_conf)

    # --------------------------------------------------------------- k8s ---
    @staticmethod
    def k8s_source(entry):
        """Where a container env entry's value comes from."""
        ref = entry.get("valueFrom", {})
        for kind in ("secretKeyRef", "configMapKeyRef"):
            if kind in ref:
                return f"{kind} {ref[kind]['name']}/{ref[kind]['key']}"
        return repr(entry.get("value", ""))

    @staticmethod
    def k8s_value(entry, docs):
        """The value, where the rendered overlay holds it (else None)."""
        ref = entry.get("valueFrom", {})
        for kind, ref_kind in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            if ref_kind in ref:
                for doc in docs:
                    if doc["kind"] == kind and doc["metadata"]["name"] == ref[ref_kind]["name"]:
                        if ref[ref_kind]["key"] in doc.get("stringData", {}):
                            return doc["stringData"][ref[ref_kind]["key"]]
                        value = doc.get("data", {}).get(ref[ref_kind]["key"])
                        if value is not None and kind == "Secret":
                            return base64.b64decode(value).decode()
                        return value
                return None
        return str(entry.get("value", ""))

    def check_overlay(self, overlay, docs):
        edge_sources, service_sources = {}, {}
        services = self.services
        for doc in docs:
            kind, name = doc["kind"], doc["metadata"]["name"]
            where = f"k8s {overlay} {kind}/{name}"
            self.scan_strings(doc, where)
            if kind == "ConfigMap":
                self.check_names(doc.get("data", {}), self.all_names, where)
            if kind == "Service" and name in services:
                ports = [p["port"] for p in doc["spec"]["ports"]]
                if services[name]["port"] not in ports:
                    self.problems.append(f"{where}: port {services[name]['port']} missing ({ports})")
            if kind in ("Deployment", "StatefulSet"):
                # $(VAR) in an env value expands only VAR defined earlier in the
                # same list (overlay patches can reorder it); else it stays literal.
                pod = doc["spec"]["template"]["spec"]
                for container in pod.get("initContainers", []) + pod["containers"]:
                    defined = set()
                    for entry in container.get("env", []):
                        for ref in re.findall(r"(?<!\$)\$\((\w+)\)", str(entry.get("value", ""))):
                            if ref not in defined:
                                self.problems.append(
                                    f"{where} {container['name']}: {entry['name']} uses $({ref}) before it is defined"
                                )
                        defined.add(entry["name"])
            if kind == "Deployment" and name == "edge":
                for container in doc["spec"]["template"]["spec"].get("initContainers", []):
                    if container["name"] == "render-config":
                        entries = container.get("env", [])
                        self.check_edge_env({e["name"]: self.k8s_value(e, docs) for e in entries}, where)
                        edge_sources = {e["name"]: self.k8s_source(e) for e in entries}
                        break
                else:
                    self.problems.append(f"{where}: no render-config init container running scripts/render-edge-config")
            if kind in ("Deployment", "StatefulSet"):
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    env = [e["name"] for e in container.get("env", [])]
                    if name in services:
                        service_sources[name] = {e["name"]: self.k8s_source(e) for e in container.get("env", [])}
                        self.check_names(env, services[name]["names"], where, services[name]["required"])
                        port = services[name]["port"]
                        ports = [p["containerPort"] for p in container.get("ports", [])]
                        wanted = [port] + [p for p in [services[name]["metrics_port"]] if p is not None]
                        if sorted(ports) != sorted(wanted):
                            self.problems.append(
                                f"{where}: containerPort {ports}, config says {wanted} (server, metrics)"
                            )
                        for probe, path_ in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
                            if container.get(probe, {}).get("httpGet", {}).get("path") != path_:
                                self.problems.append(f"{where}: {probe} is not GET {path_}")
                    else:
                        self.check_names(env, set(), where)
        self.check_shared(edge_sources, service_sources, f"k8s {overlay}")


def check(deploy: Deployment) -> list[str]:
    drift = Drift(deploy)
    drift.problems += deploy.unrendered()
    drift.check_compose()
    for overlay, docs in deploy.overlays.items():
        drift.check_overlay(overlay, docs)
    return drift.problems
