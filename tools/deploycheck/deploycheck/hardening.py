"""Hardening: every k8s pod has no service-account token, RuntimeDefault
seccomp, and containers that run as a fixed non-root user, with a read-only
root filesystem, no privilege escalation and no capabilities (the edge's
nginx master is the one listed exception); the media engine (SRS) runs that
way with exactly the folders its generated srs.conf writes to as its writable
volumes (emptyDirs), in k8s and compose. Compose's services run read-only, as
non-root users, without capabilities (same exceptions plus third-party
observability images)."""

from __future__ import annotations

import posixpath
import re

from .deployment import SRS_HOME, Checker, Deployment, app_of, containers, image_name, pod_of, workloads

# The one k8s container that may run as root, with a writable root
# filesystem and these capabilities: nginx's master binds 443/80, reads the
# TLS key, creates its workers' temp folders and switches them to nobody
# (k8s/base/edge.yaml says why). Compose runs these images as they are.
K8S_ROOT_EXCEPTIONS = {("edge", "nginx"): {"CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE"}}
COMPOSE_EXCEPTIONS = {"edge", "otel-collector", "jaeger"}


def effective(pod, container, key):
    return container.get("securityContext", {}).get(key, pod.get("securityContext", {}).get(key))


def non_root(user):
    """A compose/Dockerfile user spec that is a fixed non-root uid."""
    uid = str(user or "").split(":", 1)[0]
    return uid.isdigit() and int(uid) != 0


class Hardening(Checker):
    def engine_write_dirs(self):
        """The folders SRS writes to, from the generated srs.conf: its pid file's
        (and the server id next to it), ff_log_dir, each hls/dvr/dash/hds path
        (up to the first [variable]) and a log file's."""
        path = self.root / "k8s/base/srs.conf"
        if not path.exists():
            self.problems.append("k8s/base/srs.conf: missing (see the engine config check)")
            return set()
        text = re.sub(r"#[^\n]*", "", path.read_text())
        dirs = set()

        def folder(value, is_file):
            """The fixed folder of a path (up to its first [variable])."""
            prefix = value.split("[", 1)[0]
            resolved = posixpath.normpath(posixpath.join(SRS_HOME, prefix))
            if prefix.endswith("/") or not (is_file or "[" in value):
                return resolved
            return posixpath.dirname(resolved)

        for name, value in re.findall(r"(?m)^\s*(\w+)\s+([^;{}\s]+)\s*;", text):
            if name == "srs_log_file" and not re.search(r"(?m)^\s*srs_log_tank\s+file\s*;", text):
                continue
            if name in ("pid", "srs_log_file"):
                dirs.add(folder(value, True))
            elif name in ("ff_log_dir", "hls_path", "dash_path", "hds_path"):
                dirs.add(folder(value, False))
            elif name == "dvr_path":  # a file template
                dirs.add(folder(value, True))
        if not re.search(r"(?m)^\s*pid\s", text):
            dirs.add(posixpath.normpath(posixpath.join(SRS_HOME, "objs")))  # SRS's default ./objs/srs.pid
        return dirs

    def hardening_k8s(self, overlay, docs, engine_dirs):
        for doc in workloads(docs):
            app, pod = app_of(doc), pod_of(doc)
            where = f"k8s {overlay} {doc['kind']}/{doc['metadata']['name']}"
            if pod.get("automountServiceAccountToken") is not False:
                self.problems.append(
                    f"{where}: automountServiceAccountToken is not false (a service-account token is mounted)"
                )
            for kind, container in containers(pod):
                name = container["name"]
                at = f"{where} {kind + ' ' if kind else ''}container {name}"
                context = container.get("securityContext", {})
                seccomp = effective(pod, container, "seccompProfile") or {}
                if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
                    self.problems.append(f"{at}: no RuntimeDefault seccomp profile")
                if context.get("allowPrivilegeEscalation") is not False:
                    self.problems.append(f"{at}: allowPrivilegeEscalation is not false")
                if "ALL" not in context.get("capabilities", {}).get("drop", []):
                    self.problems.append(f"{at}: capabilities do not drop ALL")
                if context.get("privileged"):
                    self.problems.append(f"{at}: privileged")
                exception = K8S_ROOT_EXCEPTIONS.get((app, name)) if not kind else None
                added = set(context.get("capabilities", {}).get("add", []))
                if added - (exception or set()):
                    self.problems.append(f"{at}: adds capabilities {sorted(added - (exception or set()))}")
                if exception is not None:
                    continue
                user = effective(pod, container, "runAsUser")
                if effective(pod, container, "runAsNonRoot") is not True:
                    self.problems.append(f"{at}: runAsNonRoot is not true")
                if not isinstance(user, int) or user == 0:
                    self.problems.append(f"{at}: runAsUser is {user!r}, must be a fixed non-root uid")
                if context.get("readOnlyRootFilesystem") is not True:
                    self.problems.append(f"{at}: readOnlyRootFilesystem is not true")
            # The engine: besides the above, a fixed group, and writable volumes
            # exactly where srs.conf writes.
            srs = [c for _, c in containers(pod) if image_name(c.get("image", "")) == "srs"]
            for container in srs:
                at = f"{where} container {container['name']} (SRS)"
                group = effective(pod, container, "runAsGroup")
                if not isinstance(group, int) or group == 0:
                    self.problems.append(f"{at}: runAsGroup is {group!r}, must be a fixed non-root gid")
                volumes = {v["name"]: v for v in pod.get("volumes", [])}
                writable = {}
                for mount in container.get("volumeMounts", []):
                    if not mount.get("readOnly"):
                        writable[posixpath.normpath(mount["mountPath"])] = volumes.get(mount["name"], {})
                if set(writable) != engine_dirs:
                    self.problems.append(
                        f"{at}: writable mounts {sorted(writable)}, srs.conf writes to exactly {sorted(engine_dirs)}"
                    )
                for path_, volume in writable.items():
                    if "emptyDir" not in volume:
                        self.problems.append(f"{at}: the writable mount {path_} is not an emptyDir")

    def dockerfile_users(self):
        """Dockerfile target -> its last USER (None: root)."""
        users, stage = {}, None
        for line in (self.root / "Dockerfile").read_text().splitlines():
            words = line.split()
            if words and words[0].upper() == "FROM":
                stage = words[3] if len(words) >= 4 and words[2].upper() == "AS" else None
                parent = words[1]
                users[stage] = users.get(parent)
            elif words and words[0].upper() == "USER" and stage:
                users[stage] = words[1]
        return users

    def hardening_compose(self, engine_dirs):
        users = self.dockerfile_users()
        for name, service in self.compose["services"].items():
            where = f"compose {name}"
            if name in COMPOSE_EXCEPTIONS:
                continue
            user = service.get("user")
            if user is None and "build" in service:
                user = users.get(service["build"].get("target"))
            if not non_root(user):
                self.problems.append(f"{where}: runs as {user or 'root (the image default)'}, not a fixed non-root uid")
            if service.get("read_only") is not True:
                self.problems.append(f"{where}: read_only is not true")
            if "ALL" not in service.get("cap_drop", []):
                self.problems.append(f"{where}: cap_drop does not list ALL")
            if service.get("cap_add"):
                self.problems.append(f"{where}: cap_add {service['cap_add']}")
            if not any(re.fullmatch(r"no-new-privileges(:true)?", o) for o in service.get("security_opt", [])):
                self.problems.append(f"{where}: security_opt lacks no-new-privileges:true")
            if service.get("privileged"):
                self.problems.append(f"{where}: privileged")
        srs = self.compose["services"].get("srs")
        if srs is None:
            self.problems.append("compose: no srs service")
            return
        uid = str(srs.get("user", "")).split(":", 1)[0]
        if ":" not in str(srs.get("user", "")) or not non_root(srs.get("user")):
            self.problems.append(f"compose srs: user {srs.get('user')!r} is not a fixed non-root uid:gid")
        writable = {}
        for volume in srs.get("volumes", []):
            if isinstance(volume, str):
                parts = volume.split(":")
                source, target = parts[0], parts[1]
                read_only = len(parts) > 2 and "ro" in parts[2].split(",")
            else:
                source, target, read_only = volume.get("source"), volume.get("target"), volume.get("read_only", False)
            if not read_only:
                writable[posixpath.normpath(target)] = ("volume", source, volume)
        for entry in srs.get("tmpfs", []) or []:
            target, _, options = entry.partition(":")
            writable[posixpath.normpath(target)] = ("tmpfs", options, entry)
        if set(writable) != engine_dirs:
            self.problems.append(
                f"compose srs: writable mounts {sorted(writable)}, srs.conf writes to exactly {sorted(engine_dirs)}"
            )
        named = self.compose.get("volumes") or {}
        for target, (kind, source, entry) in writable.items():
            # A non-root SRS can write only where its uid may: a tmpfs owned by
            # it, or world-writable.
            if kind == "tmpfs":
                options = source
            elif source in named:
                driver_opts = (named[source] or {}).get("driver_opts", {})
                if driver_opts.get("type") != "tmpfs":
                    self.problems.append(
                        f"compose srs: {target} is volume {source}, not a tmpfs owned by uid {uid} "
                        "(a new volume belongs to root)"
                    )
                    continue
                options = driver_opts.get("o", "")
                if not (isinstance(entry, dict) and entry.get("volume", {}).get("nocopy")):
                    self.problems.append(
                        f"compose srs: {target} mounts {source} without nocopy (the image's copy hands it to root)"
                    )
            else:
                self.problems.append(f"compose srs: {target} is a bind mount of {source}")
                continue
            opts = dict(o.split("=", 1) if "=" in o else (o, "") for o in options.split(",") if o)
            if opts.get("uid") != uid and not opts.get("mode", "").endswith("777"):
                self.problems.append(
                    f"compose srs: {target} ({kind}) is not owned by uid {uid} (uid=) nor world-writable"
                )

    def hardening_mode(self):
        engine_dirs = self.engine_write_dirs()
        if not engine_dirs:
            self.problems.append("srs.conf: no folder SRS writes to was found")
        for overlay, docs in self.overlays.items():
            self.hardening_k8s(overlay, docs, engine_dirs)
        self.hardening_compose(engine_dirs)


def check(deploy: Deployment) -> list[str]:
    hardening = Hardening(deploy)
    hardening.hardening_mode()
    return hardening.problems
