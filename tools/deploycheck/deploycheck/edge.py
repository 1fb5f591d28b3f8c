"""Edge image: compose and k8s run the render script, the template and the
Lua code baked into the edge image (Dockerfile target "edge"): every
/opt/vibesflow path their edge containers name must be one the image's COPYs
create, no volume may be mounted over those files (it would hide them), and
the template must sit where the script looks for it
(../nginx/edge.conf.template from itself)."""

from __future__ import annotations

import posixpath
import re
import shlex

from .deployment import Deployment, containers

OPT_PATH = re.compile(r"/opt/vibesflow(?:/[\w.-]+)*")


def baked_files(dockerfile: str) -> dict[str, str]:
    """What the Dockerfile's stage "edge" COPYs in: destination -> source."""
    text = re.sub(r"\\\n", " ", dockerfile)
    stage, baked = None, {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0].upper() == "FROM":
            stage = words[-1] if len(words) >= 4 and words[-2].upper() == "AS" else None
        elif words and words[0].upper() == "COPY" and stage == "edge":
            args = [w for w in words[1:] if not w.startswith("--")]
            for source in args[:-1]:
                dest = args[-1]
                if dest.endswith("/"):
                    dest += posixpath.basename(source.rstrip("/"))
                baked[posixpath.normpath(dest)] = source
    return baked


def check(deploy: Deployment) -> list[str]:
    problems = []
    baked = baked_files(deploy.text("Dockerfile"))
    if not baked:
        problems.append("Dockerfile: no COPY in a stage named edge")

    def provided(path):
        """A baked file or folder, a file inside one, or a folder holding some."""
        return any(path == dest or path.startswith(dest + "/") or dest.startswith(path + "/") for dest in baked)

    script = next((dest for dest, source in baked.items() if source == "scripts/render-edge-config"), None)
    template = next((dest for dest, source in baked.items() if source == "nginx/edge.conf.template"), None)
    if script is None or template is None:
        problems.append(
            "Dockerfile edge: scripts/render-edge-config and nginx/edge.conf.template must both be copied in"
        )
    elif posixpath.normpath(posixpath.join(posixpath.dirname(script), "../nginx/edge.conf.template")) != template:
        problems.append(
            f"Dockerfile edge: the render script at {script} looks for the template at "
            f"../nginx/edge.conf.template, but it is at {template}"
        )

    def check_container(strings, mounts, where):
        for string in strings:
            for path in OPT_PATH.findall(str(string)):
                if not provided(path) and not any(path == m or path.startswith(m + "/") for m in mounts):
                    problems.append(f"{where}: {path} is not in the edge image (Dockerfile target edge)")
        for mount in mounts:
            hidden = [dest for dest in baked if dest == mount or dest.startswith(mount + "/")]
            if hidden:
                problems.append(f"{where}: a volume at {mount} hides the image's {', '.join(sorted(hidden))}")

    edge = deploy.compose["services"]["edge"]
    command = edge.get("command") or []
    env = edge.get("environment") or {}
    mounts = [posixpath.normpath(v.split(":")[1]) for v in edge.get("volumes", []) if isinstance(v, str)]
    check_container((command if isinstance(command, list) else [command]) + list(env.values()), mounts, "compose edge")

    problems += deploy.unrendered()
    for overlay, docs in deploy.overlays.items():
        for doc in docs:
            if doc["kind"] != "Deployment" or doc["metadata"]["name"] != "edge":
                continue
            pod = doc["spec"]["template"]["spec"]
            for _, container in containers(pod):
                strings = list(container.get("command") or []) + list(container.get("args") or [])
                strings += [e.get("value", "") for e in container.get("env", [])]
                mounts = [posixpath.normpath(m["mountPath"]) for m in container.get("volumeMounts", [])]
                check_container(strings, mounts, f"k8s {overlay} edge {container['name']}")
    return problems
