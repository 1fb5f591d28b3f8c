"""Metrics: each service's /metrics port is declared and scraped, never
published, and the NetworkPolicies let only the monitoring namespaces reach
it (and them nothing else)."""

import pytest
from conftest import container, doc

from deploycheck import metrics

COMPOSE = "compose/compose.yaml"


def test_the_repository_passes(tree):
    assert metrics.check(tree.deploy()) == []


def annotations(name):
    def change(docs):
        doc(docs, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] = "3000"

    return change


def unnamed_metrics_port(docs):
    for port in container(docs, "ingest")["ports"]:
        if port.get("name") == "metrics":
            port["name"] = "prom"


def service_without_metrics(docs):
    service = doc(docs, "Service", "session-registry")
    service["spec"]["ports"] = [p for p in service["spec"]["ports"] if p.get("name") != "metrics"]


def metrics_host(docs):
    env = container(docs, "gateway")["env"]
    next(e for e in env if e["name"] == "VIBES_METRICS__HOST")["value"] = "127.0.0.1"


def monitoring_reaches_api(docs):
    policy = doc(docs, "NetworkPolicy", "metrics-from-monitoring")
    policy["spec"]["ingress"][0]["ports"].append({"port": 3002})


def anyone_reaches_metrics(docs):
    policy = doc(docs, "NetworkPolicy", "metrics-from-monitoring")
    policy["spec"]["ingress"][0]["from"].append({"podSelector": {}})


def any_namespace_by_label(docs):
    policy = doc(docs, "NetworkPolicy", "metrics-from-monitoring")
    policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {"matchLabels": {"team": "observability"}}


def ingest_from_everywhere(docs):
    policy = doc(docs, "NetworkPolicy", "ingest-from-gateway")
    policy["spec"]["ingress"][0]["from"] = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]


def no_policies(docs):
    docs[:] = [d for d in docs if d["kind"] != "NetworkPolicy"]


def edge_without_metrics(docs):
    c = container(docs, "edge", "render-config")
    c["env"] = [e for e in c["env"] if e["name"] != "EDGE_METRICS_LISTEN"]


FAULTS = [
    # compose
    pytest.param(
        lambda t: t.replace(COMPOSE, 'VIBES_METRICS__PORT: "9102"', 'VIBES_METRICS__PORT: "9109"'),
        "compose ingest: VIBES_METRICS__PORT 9109, config says 9102",
        id="compose-other-port",
    ),
    pytest.param(
        lambda t: t.replace(
            COMPOSE, 'VIBES_METRICS__HOST: 0.0.0.0\n      VIBES_METRICS__PORT: "9101"', 'VIBES_METRICS__PORT: "9101"'
        ),
        "compose session-registry: VIBES_METRICS__HOST is not 0.0.0.0 (the collector could not scrape it)",
        id="compose-loopback-only",
    ),
    pytest.param(
        lambda t: t.replace(COMPOSE, 'expose: ["3002", "9102"]', 'expose: ["3002"]'),
        "compose ingest: expose does not list its metrics port 9102",
        id="compose-not-exposed",
    ),
    pytest.param(
        lambda t: t.replace(COMPOSE, 'expose: ["3002", "9102"]', 'expose: ["3002", "9102"]\n    ports: ["9102:9102"]'),
        "compose ingest: its metrics port 9102 is published (9102:9102)",
        id="compose-published",
    ),
    pytest.param(
        lambda t: t.replace(COMPOSE, 'EDGE_METRICS_LISTEN: "9145"', 'EDGE_METRICS_LISTEN: ""'),
        "compose edge: no EDGE_METRICS_LISTEN",
        id="compose-edge-no-metrics",
    ),
    pytest.param(
        lambda t: t.sub("services/gateway/config/default.toml", r"^\[metrics\]\n(#.*\n)*(\w+ = .*\n)*", ""),
        "services/gateway/config/default.toml: no [metrics] port",
        id="service-without-metrics-port",
    ),
    # k8s
    pytest.param(
        lambda t: t.overlay("prod", annotations("gateway")),
        "k8s prod Deployment/gateway: the prometheus.io annotations do not scrape /metrics on 9100",
        id="k8s-scrapes-another-port",
    ),
    pytest.param(
        lambda t: t.overlay("prod", unnamed_metrics_port),
        "k8s prod Deployment/ingest: no containerPort named metrics on 9102",
        id="k8s-port-not-named",
    ),
    pytest.param(
        lambda t: t.overlay("prod", service_without_metrics),
        "k8s prod Deployment/session-registry: Service session-registry has no port metrics -> 9101",
        id="k8s-service-without-metrics",
    ),
    pytest.param(
        lambda t: t.overlay("dev", metrics_host),
        "k8s dev Deployment/gateway: VIBES_METRICS__HOST is not 0.0.0.0 (Prometheus could not scrape it)",
        id="k8s-loopback-only",
    ),
    pytest.param(
        lambda t: t.overlay("prod", monitoring_reaches_api),
        "k8s prod Deployment/ingest: port 3002 (not metrics) is reachable from ['ns:monitoring', 'ns:observability']",
        id="k8s-monitoring-reaches-api",
    ),
    pytest.param(
        lambda t: t.overlay("prod", anyone_reaches_metrics),
        "k8s prod Deployment/gateway: metrics port 9100 is reachable from ['ns:monitoring', 'ns:observability', "
        "'pod:edge', 'pod:gateway'",
        id="k8s-pods-reach-metrics",
    ),
    pytest.param(
        lambda t: t.overlay("prod", any_namespace_by_label),
        "k8s prod Deployment/ingest: metrics port 9102 is reachable from ['ns:*other*']",
        id="k8s-namespace-by-label",
    ),
    pytest.param(
        lambda t: t.overlay("prod", ingest_from_everywhere),
        "k8s prod Deployment/ingest: port 3002 is reachable from outside the namespace",
        id="k8s-api-public",
    ),
    pytest.param(
        lambda t: t.overlay("dev", no_policies),
        "k8s dev Deployment/srs-supervisor: metrics port 9103 is reachable from",
        id="k8s-no-policies",
    ),
    pytest.param(
        lambda t: t.overlays(edge_without_metrics),
        "k8s: the edge declares no metrics port (EDGE_METRICS_LISTEN)",
        id="k8s-edge-no-metrics",
    ),
]


@pytest.mark.parametrize(("fault", "expected"), FAULTS)
def test_catches(tree, fault, expected):
    fault(tree)
    problems = metrics.check(tree.deploy())
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ({}, {"app": "x"}, True),
        ({"matchLabels": {"app": "x"}}, {"app": "x"}, True),
        ({"matchLabels": {"app": "x"}}, {"app": "y"}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["x", "y"]}]}, {"app": "y"}, True),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]}, {"app": "x"}, False),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {}, True),
    ],
)
def test_policy_selects(selector, labels, selected):
    assert metrics.policy_selects(selector, labels) is selected
