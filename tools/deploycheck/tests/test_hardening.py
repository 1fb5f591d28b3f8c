"""Hardening: no service-account tokens, non-root users, read-only root
filesystems, no capabilities; the engine writes only where srs.conf does."""

import pytest
from conftest import container, pod

from deploycheck import hardening


def test_the_repository_passes(tree):
    assert hardening.check(tree.deploy()) == []


def k8s(workload, change, name=None, kind="Deployment"):
    """A change to one container's securityContext in every overlay."""

    def fault(tree):
        tree.overlays(lambda docs: change(container(docs, workload, name, kind)))

    return fault


def automount(docs):
    pod(docs, "gateway")["automountServiceAccountToken"] = True


def no_seccomp(docs):
    pod(docs, "ingest").pop("securityContext", None)
    for c in pod(docs, "ingest")["containers"]:
        c.get("securityContext", {}).pop("seccompProfile", None)


def srs_extra_writable(docs):
    spec = pod(docs, "srs")
    spec["volumes"].append({"name": "scratch", "emptyDir": {}})
    spec["containers"][0]["volumeMounts"].append({"name": "scratch", "mountPath": "/usr/local/srs/objs/logs"})


def srs_hls_on_host(docs):
    spec = pod(docs, "srs")
    for volume in spec["volumes"]:
        if volume["name"] == "hls":
            volume.pop("emptyDir")
            volume["hostPath"] = {"path": "/srv/hls"}


FAULTS = [
    pytest.param(
        lambda t: t.overlay("prod", automount),
        "k8s prod Deployment/gateway: automountServiceAccountToken is not false",
        id="service-account-token",
    ),
    pytest.param(
        lambda t: t.overlay("prod", no_seccomp),
        "k8s prod Deployment/ingest container ingest: no RuntimeDefault seccomp profile",
        id="no-seccomp",
    ),
    pytest.param(
        k8s("gateway", lambda c: c["securityContext"].update(allowPrivilegeEscalation=True)),
        "k8s dev Deployment/gateway container gateway: allowPrivilegeEscalation is not false",
        id="privilege-escalation",
    ),
    pytest.param(
        k8s("gateway", lambda c: c["securityContext"]["capabilities"].update(drop=["NET_RAW"])),
        "container gateway: capabilities do not drop ALL",
        id="capabilities-kept",
    ),
    pytest.param(
        k8s("ingest", lambda c: c["securityContext"]["capabilities"].update(add=["SYS_PTRACE"])),
        "container ingest: adds capabilities ['SYS_PTRACE']",
        id="capability-added",
    ),
    pytest.param(
        k8s("edge", lambda c: c["securityContext"]["capabilities"]["add"].append("SYS_ADMIN"), name="nginx"),
        "k8s prod Deployment/edge container nginx: adds capabilities ['SYS_ADMIN']",
        id="edge-exception-is-exact",
    ),
    pytest.param(
        k8s("session-registry", lambda c: c["securityContext"].update(privileged=True)),
        "container session-registry: privileged",
        id="privileged",
    ),
    pytest.param(
        k8s("srs-supervisor", lambda c: c["securityContext"].update(runAsUser=0)),
        "container srs-supervisor: runAsUser is 0, must be a fixed non-root uid",
        id="root-user",
    ),
    pytest.param(
        k8s("srs-supervisor", lambda c: c["securityContext"].update(runAsNonRoot=False)),
        "container srs-supervisor: runAsNonRoot is not true",
        id="run-as-non-root-off",
    ),
    pytest.param(
        k8s("edge", lambda c: c["securityContext"].update(readOnlyRootFilesystem=False), name="render-config"),
        "k8s dev Deployment/edge init container render-config: readOnlyRootFilesystem is not true",
        id="writable-root-fs",
    ),
    pytest.param(
        k8s("redis", lambda c: c["securityContext"].update(readOnlyRootFilesystem=False), kind="StatefulSet"),
        "k8s prod StatefulSet/redis container redis: readOnlyRootFilesystem is not true",
        id="statefulset-too",
    ),
    pytest.param(
        k8s("srs", lambda c: c["securityContext"].update(runAsGroup=0)),
        "container srs (SRS): runAsGroup is 0, must be a fixed non-root gid",
        id="srs-root-group",
    ),
    pytest.param(
        lambda t: t.overlay("prod", srs_extra_writable),
        "k8s prod Deployment/srs container srs (SRS): writable mounts ['/usr/local/srs/objs/logs', "
        "'/usr/local/srs/objs/nginx/html', '/usr/local/srs/objs/run'], srs.conf writes to exactly",
        id="srs-writes-elsewhere",
    ),
    pytest.param(
        lambda t: t.overlay("prod", srs_hls_on_host),
        "container srs (SRS): the writable mount /usr/local/srs/objs/nginx/html is not an emptyDir",
        id="srs-hls-on-host",
    ),
    # compose
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", 'user: "999:999"', 'user: "0:0"'),
        "compose redis: runs as 0:0, not a fixed non-root uid",
        id="compose-root",
    ),
    pytest.param(
        lambda t: t.sub("Dockerfile", r"^USER .*\n", ""),
        "compose gateway: runs as root (the image default), not a fixed non-root uid",
        id="compose-image-runs-as-root",
    ),
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", "  read_only: true", "  read_only: false"),
        "compose ingest: read_only is not true",
        id="compose-writable-root-fs",
    ),
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", "  cap_drop: [ALL]", "  cap_drop: [NET_RAW]"),
        "compose srs: cap_drop does not list ALL",
        id="compose-capabilities-kept",
    ),
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", '  security_opt: ["no-new-privileges:true"]', "  security_opt: []"),
        "compose session-registry: security_opt lacks no-new-privileges:true",
        id="compose-new-privileges",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml",
            "container_name: vibesflow-srs",
            "container_name: vibesflow-srs\n    cap_add: [NET_ADMIN]",
        ),
        "compose srs: cap_add ['NET_ADMIN']",
        id="compose-capability-added",
    ),
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", 'user: "10001:10001"', 'user: "10001"'),
        "compose srs: user '10001' is not a fixed non-root uid:gid",
        id="compose-srs-without-group",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml", "/usr/local/srs/objs/run:uid=10001", "/usr/local/srs/objs/logs:uid=10001"
        ),
        "compose srs: writable mounts ['/usr/local/srs/objs/logs', '/usr/local/srs/objs/nginx/html'], srs.conf writes to exactly",
        id="compose-srs-writes-elsewhere",
    ),
    pytest.param(
        lambda t: t.replace("compose/compose.yaml", "        volume:\n          nocopy: true\n", ""),
        "compose srs: /usr/local/srs/objs/nginx/html mounts srs-hls without nocopy",
        id="compose-hls-volume-copied",
    ),
    pytest.param(
        lambda t: t.replace(
            "compose/compose.yaml",
            "/usr/local/srs/objs/run:uid=10001,gid=10001,mode=0700",
            "/usr/local/srs/objs/run:mode=0700",
        ),
        "compose srs: /usr/local/srs/objs/run (tmpfs) is not owned by uid 10001 (uid=) nor world-writable",
        id="compose-tmpfs-owned-by-root",
    ),
    pytest.param(
        lambda t: (t.root / "k8s/base/srs.conf").unlink(),
        "k8s/base/srs.conf: missing (see the engine config check)",
        id="srs-conf-missing",
    ),
]


@pytest.mark.parametrize(("fault", "expected"), FAULTS)
def test_catches(tree, fault, expected):
    fault(tree)
    problems = hardening.check(tree.deploy())
    assert any(expected in problem for problem in problems), problems


def test_engine_write_dirs_follow_srs_conf(tree):
    tree.replace("k8s/base/srs.conf", "hls_path            ./objs/nginx/html;", "hls_path            ./objs/hls/[app];")
    tree.sub("k8s/base/srs.conf", r"^srs_log_tank\s+console;", "srs_log_tank file;\nsrs_log_file ./objs/logs/srs.log;")
    dirs = hardening.Hardening(tree.deploy()).engine_write_dirs()
    assert dirs == {"/usr/local/srs/objs/run", "/usr/local/srs/objs/hls", "/usr/local/srs/objs/logs"}
