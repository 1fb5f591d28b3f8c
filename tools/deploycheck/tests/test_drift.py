"""Drift: names, ports and edge variables in compose and k8s agree with the
services' settings and scripts/render-edge-config."""

import base64

import pytest
from conftest import container, doc, env_entry

from deploycheck import drift


def test_the_repository_passes(tree):
    assert drift.check(tree.deploy()) == []


def set_env(workload, name, value, overlay_container=None):
    """A k8s change: the env entry `name` of a workload gets a literal value."""

    def change(docs):
        entry = env_entry(container(docs, workload, overlay_container), name)
        entry.pop("valueFrom", None)
        entry["value"] = value

    return change


def drop_env(workload, name, overlay_container=None):
    def change(docs):
        c = container(docs, workload, overlay_container)
        c["env"] = [e for e in c["env"] if e["name"] != name]

    return change


def set_secret(key, value):
    def change(docs):
        secret = next(d for d in docs if d["kind"] == "Secret" and key in (d.get("data") or {}))
        secret["data"][key] = base64.b64encode(value.encode()).decode()

    return change


def no_render_config(docs):
    spec = doc(docs, "Deployment", "edge")["spec"]["template"]["spec"]
    spec["initContainers"][0]["name"] = "setup"


def shuffle_env(docs):
    c = container(docs, "session-registry")
    c["env"] = [e for e in c["env"] if e["name"] == "VIBES_REDIS__URL"] + c["env"]


def service_port(docs):
    doc(docs, "Service", "gateway")["spec"]["ports"][0]["port"] = 3999


def container_ports(docs):
    container(docs, "ingest")["ports"] = [{"containerPort": 3002, "name": "http"}]


def readiness(docs):
    container(docs, "gateway")["readinessProbe"]["httpGet"]["path"] = "/health/live"


def config_map_name(docs):
    config_map = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("vibes-settings")
    )
    config_map["data"]["VIBES_RATE_LIMIT__AUDIO"] = "5"


FAULTS = [
    # compose
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", "session-registry:3001", "session-registry:3005", count=4),
        "compose.services.ingest.environment.VIBES_REGISTRY__URL: session-registry:3005 but session-registry listens on 3001",
        id="compose-wrong-port",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml",
            "      VIBES_ENGINE__MODE: docker",
            "      VIBES_ENGINE__MODE: docker\n      VIBES_ENGINE__MOOD: docker",
        ),
        "compose srs-supervisor: VIBES_ENGINE__MOOD is not a setting of that service",
        id="compose-unknown-setting",
    ),
    pytest.param(
        lambda t: t.sub("compose/compose.yaml", r"^      VIBES_PLAYBACK__TOKEN_SECRET: .*\n", ""),
        "compose session-registry: VIBES_PLAYBACK__TOKEN_SECRET has no default and is not set",
        id="compose-secret-missing",
    ),
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", 'expose: ["3002", "9102"]', 'expose: ["9102"]'),
        "compose ingest: expose does not list its port 3002",
        id="compose-port-not-exposed",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml",
            "exec 3<>/dev/tcp/127.0.0.1/3002 && printf 'GET /health/ready",
            "exec 3<>/dev/tcp/127.0.0.1/3002 && printf 'GET /health/live",
        ),
        "compose ingest: health check does not ask /health/ready on port 3002",
        id="compose-healthcheck",
    ),
    pytest.param(
        lambda t: t.replace("compose/.env.example", "VIBES_AUTH__KID=k1", "VIBES_AUTH__KID=k1\nVIBES_AUTH__KEY_ID=k1"),
        "compose/.env.example: VIBES_AUTH__KEY_ID is not a setting of any service",
        id="env-example-unknown-setting",
    ),
    pytest.param(
        lambda t: t.sub("compose/compose.yaml", r"^      GATEWAY_ADDR: .*\n", ""),
        "compose edge: GATEWAY_ADDR is required by scripts/render-edge-config but not set",
        id="compose-edge-variable-missing",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml",
            "      EDGE_FLV_REAUTH_SECONDS:",
            "      EDGE_FLV_REAUTH_SECS: 10\n      EDGE_FLV_REAUTH_SECONDS:",
        ),
        "compose edge: EDGE_FLV_REAUTH_SECS is not read by scripts/render-edge-config",
        id="compose-edge-variable-unknown",
    ),
    pytest.param(
        lambda t: t.sub("compose/.env.example", r"^EDGE_RELAY_KEY=.*$", "EDGE_RELAY_KEY=short"),
        "compose edge: the value of EDGE_RELAY_KEY does not match ^[A-Za-z0-9_-]{32,}$",
        id="compose-edge-value-rejected",
    ),
    pytest.param(
        lambda t: t.sub(
            "compose/compose.yaml",
            r"^      VIBES_PLAYBACK__EDGE_RELAY_KEY: .*$",
            "      VIBES_PLAYBACK__EDGE_RELAY_KEY: ${VIBES_AUTH__SECRET}",
        ),
        "compose session-registry: VIBES_PLAYBACK__EDGE_RELAY_KEY comes from ${VIBES_AUTH__SECRET}, the edge's EDGE_RELAY_KEY from ${EDGE_RELAY_KEY}",
        id="compose-shared-value-differs",
    ),
    pytest.param(
        lambda t: t.sub("compose/compose.yaml", r"^      VIBES_PLAYBACK__EDGE_RELAY_KEY: .*\n", ""),
        "compose session-registry: VIBES_PLAYBACK__EDGE_RELAY_KEY is not set (it must equal the edge's EDGE_RELAY_KEY)",
        id="compose-shared-value-missing",
    ),
    pytest.param(
        lambda t: t.sub("compose/srs.conf", r"session-registry:3001", "session-registry:3009"),
        "compose/srs.conf.srs.conf: session-registry:3009 but session-registry listens on 3001",
        id="srs-conf-hook-port",
    ),
    # k8s
    pytest.param(
        lambda t: t.overlay("prod", set_env("ingest", "VIBES_REGISTRY__URL", "http://session-registry:3011")),
        "session-registry:3011 but session-registry listens on 3001",
        id="k8s-wrong-port",
    ),
    pytest.param(
        lambda t: t.overlay("prod", config_map_name),
        "VIBES_RATE_LIMIT__AUDIO is not a setting of that service",
        id="k8s-configmap-unknown-setting",
    ),
    pytest.param(
        lambda t: t.overlay("dev", drop_env("gateway", "VIBES_AUTH__SECRET")),
        "k8s dev Deployment/gateway: VIBES_AUTH__SECRET has no default and is not set",
        id="k8s-secret-missing",
    ),
    pytest.param(
        lambda t: t.overlay("prod", service_port),
        "k8s prod Service/gateway: port 3000 missing ([3999",
        id="k8s-service-port",
    ),
    pytest.param(
        lambda t: t.overlay("prod", container_ports),
        "k8s prod Deployment/ingest: containerPort [3002], config says [3002, 9102] (server, metrics)",
        id="k8s-container-ports",
    ),
    pytest.param(
        lambda t: t.overlay("prod", readiness),
        "k8s prod Deployment/gateway: readinessProbe is not GET /health/ready",
        id="k8s-probe",
    ),
    pytest.param(
        lambda t: t.overlay("prod", shuffle_env),
        "k8s prod Deployment/session-registry session-registry: VIBES_REDIS__URL uses $(REDIS_PASSWORD) before it is defined",
        id="k8s-env-reference-order",
    ),
    pytest.param(
        lambda t: t.overlay("prod", no_render_config),
        "k8s prod Deployment/edge: no render-config init container running scripts/render-edge-config",
        id="k8s-edge-not-rendered",
    ),
    pytest.param(
        lambda t: t.overlay("prod", drop_env("edge", "GATEWAY_ADDR", "render-config")),
        "k8s prod Deployment/edge: GATEWAY_ADDR is required by scripts/render-edge-config but not set",
        id="k8s-edge-variable-missing",
    ),
    pytest.param(
        lambda t: t.overlay("dev", set_secret("EDGE_RELAY_KEY", "too-short")),
        "k8s dev Deployment/edge: the value of EDGE_RELAY_KEY does not match",
        id="k8s-edge-secret-value-rejected",
    ),
    pytest.param(
        lambda t: t.overlay("prod", set_env("session-registry", "VIBES_PLAYBACK__EDGE_RELAY_KEY", "literal")),
        "k8s prod session-registry: VIBES_PLAYBACK__EDGE_RELAY_KEY comes from 'literal', the edge's EDGE_RELAY_KEY from secretKeyRef vibes-secrets/EDGE_RELAY_KEY",
        id="k8s-shared-value-differs",
    ),
    pytest.param(
        lambda t: t.rendered["dev"].write_text(""),
        "k8s overlay dev: not rendered (see the kustomize check)",
        id="overlay-not-rendered",
    ),
]


@pytest.mark.parametrize(("fault", "expected"), FAULTS)
def test_catches(tree, fault, expected):
    fault(tree)
    problems = drift.check(tree.deploy())
    assert any(expected in problem for problem in problems), problems
