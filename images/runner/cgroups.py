"""A cgroup per run where the harness may make one (a root harness on a host), for
either backend: memory and process limits the kernel enforces, and a reliable way
to kill every process of the run. In a pod /sys/fs/cgroup is read-only, and the
harness falls back to rlimits (reported in the envelope).

Either way the kernel counts its OOM kills per memory cgroup: the run's own, or
the process's own (in a pod, the container's). oom_kills() reads that counter,
which tells an OOM kill from any other SIGKILL."""
import os
import signal
import time

ROOT = "/sys/fs/cgroup"


class RunCgroup:
    def __init__(self, name, memory, pids):
        self.dirs = []
        v2 = os.path.exists(os.path.join(ROOT, "cgroup.controllers"))
        plans = ([(ROOT, {"memory.max": memory, "pids.max": pids, "memory.swap.max": 0})] if v2 else
                 [(os.path.join(ROOT, "memory"), {"memory.limit_in_bytes": memory}),
                  (os.path.join(ROOT, "pids"), {"pids.max": pids})])
        for parent, settings in plans:
            path = os.path.join(parent, "scriptrun", name)
            try:
                os.makedirs(path)
                for key, value in settings.items():
                    _set(path, key, value)
                self.dirs.append(path)
            except OSError:
                continue
        self.memory = any("memory" in d or v2 for d in self.dirs)
        self.oom_files = [os.path.join(d, "memory.events" if v2 else "memory.oom_control")
                          for d in self.dirs if v2 or "memory" in d]

    def limit_pids(self, pids):
        """Sets the cgroup's process limit anew (a warm sandbox's run asks for its own, at most the bounds')."""
        for path in self.dirs:
            _set(path, "pids.max", pids)

    def join(self):
        """Moves the calling process in (called in the child, before exec)."""
        for path in self.dirs:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def _pids(self):
        found = set()
        for path in self.dirs:
            try:
                with open(os.path.join(path, "cgroup.procs")) as f:
                    found.update(int(p) for p in f.read().split())
            except OSError:
                pass
        return found

    def destroy(self):
        """Kills whatever is left in the cgroup, then removes it."""
        for _ in range(100):
            pids = self._pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        for path in self.dirs:
            try:
                os.rmdir(path)
            except OSError:
                pass


def _set(path, key, value):
    """Writes a cgroup setting where this cgroup version and its controllers have it."""
    if os.path.exists(os.path.join(path, key)):
        with open(os.path.join(path, key), "w") as f:
            f.write(str(value))


def _own_oom_files():
    """This process's memory cgroup, found from /proc/self/cgroup; else the mount's root, which
    in a container is the container's own cgroup (its path in /proc/self/cgroup is the host's)."""
    found = []
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if controllers == "":
                    found.append(os.path.join(ROOT, path.lstrip("/"), "memory.events"))
                elif "memory" in controllers.split(","):
                    found.append(os.path.join(ROOT, "memory", path.lstrip("/"), "memory.oom_control"))
    except (OSError, ValueError):
        pass
    return found + [os.path.join(ROOT, "memory", "memory.oom_control"), os.path.join(ROOT, "memory.events")]


def oom_kills(cgroup=None):
    """The kernel's count of OOM kills in the run's memory cgroup (or this process's); None if unreadable."""
    for path in (cgroup.oom_files if cgroup and cgroup.oom_files else _own_oom_files()):
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None
