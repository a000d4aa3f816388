"""Memory and pids cgroups for one run, where the harness may make them: a child of its own cgroup
in the v1 memory and pids hierarchies, or in the v2 unified one. The sandbox is moved in before it
starts, so everything the script forks is counted; after the run the OOM counter tells a memory
kill from a crash, and anything left is killed and the cgroup removed.

In a pod the cgroup filesystem is normally read-only: then there is no run cgroup, memory is an
address-space rlimit (reported as such), and the pod's own cgroup's OOM counter, still readable,
tells whether the kernel killed the script for the pod's memory limit."""
import os
import secrets
import signal
import time
from typing import Optional

_V1, _V2 = 1, 2


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _mounts(mountinfo: str) -> list:
    """(root, mount point, fs type, super options) of each cgroup mount."""
    found = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[3], fields[4], tail[0], tail[2].split(",")))
    return found


def locate(controller: str, mountinfo: str, proc_cgroup: str) -> Optional[tuple]:
    """(version, directory) of this process's cgroup that has `controller`, v1 preferred."""
    own = {}
    for line in proc_cgroup.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        own["" if hierarchy == "0" and not controllers else controllers] = path
    for root, point, fstype, options in _mounts(mountinfo):
        if fstype == "cgroup" and controller in options:
            path = next((p for names, p in own.items() if controller in names.split(",")), None)
            version = _V1
        elif fstype == "cgroup2":
            path, version = own.get(""), _V2
        else:
            continue
        if path is None or not (root == "/" or path == root or path.startswith(root.rstrip("/") + "/")):
            continue
        directory = os.path.join(point, path[len(root):].lstrip("/") if root != "/" else path.lstrip("/"))
        if version == _V1 or controller in (_read(os.path.join(directory, "cgroup.controllers")) or "").split():
            return version, directory.rstrip("/")
    return None


def _oom_kills(version: int, directory: str) -> Optional[int]:
    text = _read(os.path.join(directory, "memory.oom_control" if version == _V1 else "memory.events"))
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return None


def _self_info() -> tuple:
    return _read("/proc/self/mountinfo") or "", _read("/proc/self/cgroup") or ""


def own_oom_kills() -> Optional[int]:
    """The OOM kill counter of the harness's own memory cgroup (the pod's), if it can be read."""
    found = locate("memory", *_self_info())
    return _oom_kills(*found) if found else None


class RunCgroup:
    def __init__(self, version: int, memory_dir: str, pids_dir: Optional[str]):
        self.version, self.memory_dir, self.pids_dir = version, memory_dir, pids_dir

    @property
    def directories(self) -> list:
        """The run's cgroup directories: one in v2, one per hierarchy in v1."""
        return list(dict.fromkeys(d for d in (self.memory_dir, self.pids_dir) if d))

    def join(self) -> None:
        """Moves the calling process in: run in the sandbox's child before it execs (`0` is "myself")."""
        for directory in self.directories:
            fd = os.open(os.path.join(directory, "cgroup.procs"), os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

    def oom_kills(self) -> int:
        return _oom_kills(self.version, self.memory_dir) or 0

    def kill(self) -> None:
        for directory in self.directories:
            for _ in range(50):
                pids = [int(p) for p in (_read(os.path.join(directory, "cgroup.procs")) or "").split()]
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.01)

    def remove(self) -> bool:
        """Removes the cgroup once its processes are gone; False if it could not (it is then left behind)."""
        removed = True
        for directory in self.directories:
            for _ in range(100):
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while killed processes finish exiting
                    time.sleep(0.01)
            else:
                removed = False
        return removed


def _make(parent: str, name: str, limits: dict) -> str:
    directory = os.path.join(parent, name)
    os.mkdir(directory)
    try:
        for file, value in limits.items():
            if file.startswith("?"):  # optional: absent without swap accounting
                file = file[1:]
                if not os.path.exists(os.path.join(directory, file)):
                    continue
            _write(os.path.join(directory, file), value)
    except OSError:
        os.rmdir(directory)
        raise
    return directory


def create(memory_bytes: int, pids: int, mountinfo: Optional[str] = None,
           proc_cgroup: Optional[str] = None) -> Optional[RunCgroup]:
    """A run cgroup limiting memory (and pids where that controller is writable too), or None."""
    if mountinfo is None or proc_cgroup is None:
        mountinfo, proc_cgroup = _self_info()
    memory = locate("memory", mountinfo, proc_cgroup)
    if memory is None:
        return None
    version, parent = memory
    name = f"scriptrun-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        if version == _V1:
            memory_dir = _make(parent, name, {"memory.limit_in_bytes": str(memory_bytes),
                                              "?memory.memsw.limit_in_bytes": str(memory_bytes)})
            pids_at = locate("pids", mountinfo, proc_cgroup)
            try:
                pids_dir = _make(pids_at[1], name, {"pids.max": str(pids)}) if pids_at and pids_at[0] == _V1 else None
            except OSError:
                pids_dir = None
            return RunCgroup(_V1, memory_dir, pids_dir)
        enabled = (_read(os.path.join(parent, "cgroup.subtree_control")) or "").split()
        available = (_read(os.path.join(parent, "cgroup.controllers")) or "").split()
        wanted = [c for c in ("memory", "pids") if c in available and c not in enabled]
        if wanted:
            _write(os.path.join(parent, "cgroup.subtree_control"), " ".join("+" + c for c in wanted))
        limits = {"memory.max": str(memory_bytes), "?memory.swap.max": "0"}
        if "pids" in available:
            limits["pids.max"] = str(pids)
        directory = _make(parent, name, limits)
        return RunCgroup(_V2, directory, directory if "pids" in available else None)
    except OSError:
        return None
