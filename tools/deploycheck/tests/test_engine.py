"""The media engine: one SRS version everywhere, and one generated srs.conf
that fits the containers, ports, volumes and hooks compose and k8s give it."""

import pytest
from conftest import SRS_VERSION, container, doc

from deploycheck import engine

SRS_CONFS = ("compose/srs.conf", "k8s/base/srs.conf")
IMAGE = f"ossrs/srs:v{SRS_VERSION}"


def test_the_repository_passes(tree):
    assert engine.check_image(tree.deploy()) == []
    assert engine.check_config(tree.deploy()) == []


def srs_conf(old, new):
    """The same change to both generated copies of srs.conf."""

    def change(tree):
        for path in SRS_CONFS:
            tree.sub(path, old, new)

    return change


def k8s_srs_image(image):
    def change(docs):
        container(docs, "srs")["image"] = image

    return change


def no_srs_deployment(docs):
    doc(docs, "Deployment", "srs")["metadata"]["name"] = "media"


def srs_env(docs):
    container(docs, "srs").setdefault("env", []).append({"name": "SRS_HLS_FRAGMENT", "value": "5"})


def srs_port_name(docs):
    for port in container(docs, "srs")["ports"]:
        if port["name"] == "api":
            port["containerPort"] = 1986


def srs_service_port(docs):
    for port in doc(docs, "Service", "srs")["spec"]["ports"]:
        if port.get("targetPort") == "http":
            port["port"] = 8081


def srs_policy(docs):
    policy = doc(docs, "NetworkPolicy", "srs-from-internal")
    policy["spec"]["ingress"][0].setdefault("ports", []).append({"port": 22, "protocol": "TCP"})


def srs_no_hls_volume(docs):
    c = container(docs, "srs")
    c["volumeMounts"] = [m for m in c["volumeMounts"] if m["mountPath"] != "/usr/local/srs/objs/nginx/html"]


def srs_other_config(docs):
    for config_map in docs:
        if config_map["kind"] == "ConfigMap" and config_map["metadata"]["name"].startswith("srs-config"):
            config_map["data"]["vibes.conf"] += "\n# hand-edited\n"


def srs_command(docs):
    container(docs, "srs")["command"] = ["./objs/srs"]


def engine_api_url(docs):
    c = container(docs, "session-registry")
    next(e for e in c["env"] if e["name"] == "VIBES_ENGINE__API_URL")["value"] = "http://srs:8080"


IMAGE_FAULTS = [
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", f"image: {IMAGE}", "image: ossrs/srs:v6.0.184"),
        f"compose srs: ossrs/srs:v6.0.184 runs SRS v6.0.184, scripts/srs-pin pins v{SRS_VERSION}",
        id="compose-other-version",
    ),
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", f"image: {IMAGE}", "image: ossrs/srs"),
        "compose srs: ossrs/srs runs SRS (no tag: latest)",
        id="compose-latest",
    ),
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", f"image: {IMAGE}", f"image: ossrs/oryx:v{SRS_VERSION}"),
        "compose srs: image ossrs/oryx",
        id="compose-renamed-image",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml", f"VIBES_DOCKER__IMAGE: {IMAGE}", "VIBES_DOCKER__IMAGE: ossrs/srs:v5.0.0"
        ),
        "compose srs-supervisor: VIBES_DOCKER__IMAGE ossrs/srs:v5.0.0 is not the srs service's image",
        id="supervisor-recreates-another-image",
    ),
    pytest.param(
        lambda t: t.replace("services/srs-supervisor/config/default.toml", f'"{IMAGE}"', '"ossrs/srs:v6"'),
        "services/srs-supervisor/config/default.toml docker.image: ossrs/srs:v6 runs SRS v6",
        id="supervisor-default-image",
    ),
    pytest.param(
        lambda t: t.overlay("prod", k8s_srs_image("registry.example/mirror/srs:v6.0.100")),
        "k8s prod Deployment/srs srs: registry.example/mirror/srs:v6.0.100 runs SRS v6.0.100",
        id="k8s-mirror-other-version",
    ),
    pytest.param(
        lambda t: t.overlay("dev", no_srs_deployment),
        "k8s dev: no Deployment srs with an SRS image",
        id="k8s-no-srs",
    ),
]

CONFIG_FAULTS = [
    pytest.param(
        lambda t: (t.root / "compose/srs.conf").unlink(),
        "compose/srs.conf: missing; generate it",
        id="conf-missing",
    ),
    pytest.param(
        lambda t: t.replace("k8s/base/srs.conf", "hls_window          6;", "hls_window          9;"),
        "compose/srs.conf and k8s/base/srs.conf differ",
        id="conf-copies-differ",
    ),
    pytest.param(srs_conf(r"daemon\s+off;", "daemon on;"), "srs.conf: daemon is 'on', must be 'off' here", id="daemon"),
    pytest.param(
        srs_conf(r"srs_log_tank\s+console;", "srs_log_tank file;"),
        "srs.conf: srs_log_tank is 'file', must be 'console' here",
        id="log-to-file",
    ),
    pytest.param(
        srs_conf(r"hls_ctx\s+off;", "hls_ctx on;"),
        "srs.conf: hls > hls_ctx is 'on', must be 'off' here",
        id="hls-session-redirect",
    ),
    pytest.param(
        srs_conf(r"on_play\s+http://session-registry:3001/", "on_play http://session-registry:3002/"),
        "srs.conf: http_hooks on_play is http://session-registry:3002/internal/engine-hooks/srs, must be",
        id="hook-elsewhere",
    ),
    pytest.param(
        srs_conf(r"on_stop\s+\S+;\n", ""),
        "srs.conf: http_hooks on_stop is unset",
        id="hook-missing",
    ),
    pytest.param(
        srs_conf(r"hls_path\s+\./objs/nginx/html;", "hls_path ./objs/hls;"),
        "srs.conf: hls_path ./objs/hls is not http_server's dir ./objs/nginx/html",
        id="hls-not-served",
    ),
    pytest.param(
        srs_conf(r"listen\s+0\.0\.0\.0:1985;", "listen 0.0.0.0:1986;"),
        "compose srs: expose lacks SRS's api port 1986",
        id="api-port-moved",
    ),
    pytest.param(
        srs_conf(r"listen\s+0\.0\.0\.0:1985;", "listen 0.0.0.0:1986;"),
        "compose session-registry: VIBES_ENGINE__API_URL=http://srs:1985, but SRS's api port is 1986 (srs.conf)",
        id="api-port-moved-for-clients",
    ),
    pytest.param(
        srs_conf(r"\s*;\s*\n\s*max_connections", ";\n;\nmax_connections"),
        "srs.conf: ';' without a directive",
        id="conf-syntax",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml",
            "./srs.conf:/usr/local/srs/conf/vibes.conf:ro",
            "./other.conf:/usr/local/srs/conf/vibes.conf:ro",
        ),
        "compose srs: /usr/local/srs/conf/vibes.conf (the command's -c) is ./other.conf, not ./srs.conf",
        id="compose-mounts-another-config",
    ),
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", "target: /usr/local/srs/objs/nginx/html", "target: /srv/hls"),
        "compose srs: no volume at /usr/local/srs/objs/nginx/html (srs.conf's hls_path)",
        id="compose-no-hls-volume",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml",
            "container_name: vibesflow-srs",
            "container_name: vibesflow-srs\n    environment:\n      SRS_LISTEN: '1936'",
        ),
        "compose srs: SRS_* env overrides the generated srs.conf",
        id="compose-srs-env",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml", "exec 3<>/dev/tcp/127.0.0.1/1985", "exec 3<>/dev/tcp/127.0.0.1/8080"
        ),
        "compose srs: the health check does not ask SRS's API port 1985",
        id="compose-healthcheck",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml",
            "VIBES_ENCODER__RTMP_BASE_URL: rtmp://srs:1935/live",
            "VIBES_ENCODER__RTMP_BASE_URL: rtmp://srs/live",
        ),
        "compose ingest: VIBES_ENCODER__RTMP_BASE_URL=rtmp://srs/live does not name SRS's rtmp port",
        id="compose-address-without-port",
    ),
    pytest.param(
        lambda t: t.overlay("prod", srs_env),
        "k8s prod srs: SRS_* env overrides the generated srs.conf",
        id="k8s-srs-env",
    ),
    pytest.param(
        lambda t: t.overlay("prod", srs_port_name),
        "k8s prod srs: containerPort api is 1986, srs.conf says 1985",
        id="k8s-container-port",
    ),
    pytest.param(
        lambda t: t.overlay("prod", srs_service_port),
        "k8s prod Service srs: port for http is 8081, srs.conf says 8080",
        id="k8s-service-port",
    ),
    pytest.param(
        lambda t: t.overlay("prod", srs_policy),
        "k8s prod: NetworkPolicies let SRS be reached on [1935, 1985, 22, 8080], it listens on [1935, 1985, 8080]",
        id="k8s-policy-opens-another-port",
    ),
    pytest.param(
        lambda t: t.overlay("dev", srs_no_hls_volume),
        "k8s dev srs: no volume at /usr/local/srs/objs/nginx/html",
        id="k8s-no-hls-volume",
    ),
    pytest.param(
        lambda t: t.overlay("dev", srs_other_config),
        "k8s dev: the srs Deployment's ConfigMap (srs-config-",
        id="k8s-configmap-is-not-the-generated-file",
    ),
    pytest.param(
        lambda t: t.overlay("dev", srs_command),
        "k8s dev srs: the command names no config (-c)",
        id="k8s-command-without-config",
    ),
    pytest.param(
        lambda t: t.overlay("prod", engine_api_url),
        "k8s prod Deployment/session-registry session-registry: VIBES_ENGINE__API_URL=http://srs:8080, but SRS's api port is 1985",
        id="k8s-client-wrong-port",
    ),
]


@pytest.mark.parametrize(("fault", "expected"), IMAGE_FAULTS)
def test_image_catches(tree, fault, expected):
    fault(tree)
    problems = engine.check_image(tree.deploy())
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(("fault", "expected"), CONFIG_FAULTS)
def test_config_catches(tree, fault, expected):
    fault(tree)
    problems = engine.check_config(tree.deploy())
    assert any(expected in problem for problem in problems), problems


def test_parse_conf_reads_blocks():
    problems = []
    conf = engine.parse_conf("a 1; # note\nb { c 2 3; d { e 4; } }\n", problems)
    assert engine.value(conf, "a") == "1"
    assert engine.value(conf, "b", "c") == "2 3"
    assert engine.value(conf, "b", "d", "e") == "4"
    assert engine.value(conf, "b", "x") is None
    assert problems == []
