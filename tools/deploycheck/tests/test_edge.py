"""Edge image: compose and k8s run only what the edge image carries, and no
volume hides it."""

import pytest
from conftest import container

from deploycheck import edge

DOCKERFILE = "Dockerfile"


def test_the_repository_passes(tree):
    assert edge.check(tree.deploy()) == []


def render_config_mount(docs):
    c = container(docs, "edge", "render-config")
    c["volumeMounts"].append({"name": "rendered", "mountPath": "/opt/vibesflow/nginx"})


def lua_dir(docs):
    c = container(docs, "edge", "render-config")
    next(e for e in c["env"] if e["name"] == "EDGE_LUA_DIR")["value"] = "/opt/vibesflow/lua"


FAULTS = [
    pytest.param(
        lambda t: t.sub(DOCKERFILE, r"^COPY nginx/lua .*\n", ""),
        "compose edge: /opt/vibesflow/nginx/lua is not in the edge image (Dockerfile target edge)",
        id="lua-not-copied",
    ),
    pytest.param(
        lambda t: t.sub(DOCKERFILE, r"^COPY nginx/edge.conf.template .*\n", ""),
        "Dockerfile edge: scripts/render-edge-config and nginx/edge.conf.template must both be copied in",
        id="template-not-copied",
    ),
    pytest.param(
        lambda t: t.replace(DOCKERFILE, "/opt/vibesflow/nginx/edge.conf.template", "/opt/vibesflow/edge.conf.template"),
        "Dockerfile edge: the render script at /opt/vibesflow/scripts/render-edge-config looks for the template at "
        "../nginx/edge.conf.template, but it is at /opt/vibesflow/edge.conf.template",
        id="template-elsewhere",
    ),
    pytest.param(
        lambda t: t.sub(DOCKERFILE, r"^FROM (\S+) AS edge$", r"FROM \1 AS nginx-edge"),
        "Dockerfile: no COPY in a stage named edge",
        id="no-edge-stage",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml",
            "      - edge-acme:/var/www/acme",
            "      - edge-acme:/var/www/acme\n      - ./lua:/opt/vibesflow/nginx/lua:ro",
        ),
        "compose edge: a volume at /opt/vibesflow/nginx/lua hides the image's /opt/vibesflow/nginx/lua",
        id="compose-volume-hides-lua",
    ),
    pytest.param(
        lambda t: t.overlay("prod", render_config_mount),
        "k8s prod edge render-config: a volume at /opt/vibesflow/nginx hides the image's /opt/vibesflow/nginx/edge.conf.template",
        id="k8s-volume-hides-template",
    ),
    pytest.param(
        lambda t: t.overlay("dev", lua_dir),
        "k8s dev edge render-config: /opt/vibesflow/lua is not in the edge image",
        id="k8s-path-not-in-image",
    ),
]


@pytest.mark.parametrize(("fault", "expected"), FAULTS)
def test_catches(tree, fault, expected):
    fault(tree)
    problems = edge.check(tree.deploy())
    assert any(expected in problem for problem in problems), problems
