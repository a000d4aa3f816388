"""What every sandbox backend must build, whichever builds it: the same filesystem view, the same
clean environment and the same limits. bwrap.py and nsjail.py turn a Plan into a command line.

Inside: a read-only root holding /usr, the /lib links, a few files of /etc and the harness; a
private writable /tmp and /dev/shm; fresh user, pid, mount, network, ipc, uts (and cgroup)
namespaces; uid and gid 65534. Not inside: the request file, the termination log, /var/run/secrets,
/home, /root, /sys, the host's /proc, any network but a loopback device."""
import glob
import math
import os
import shutil
from dataclasses import dataclass, field

SANDBOX_UID = 65534
# The interpreter inside: the image's Python (Debian's, with python3-numpy and python3-pandas),
# reached through the read-only /usr. The outer harness may run on another Python.
SANDBOX_PYTHON = "/usr/bin/python3"
HARNESS_MOUNT = "/opt/scriptrun"
BACKENDS = ("nsjail", "bubblewrap")
BACKEND_ENV = "SCRIPTRUN_SANDBOX_BACKEND"
_EXECUTABLES = {"nsjail": "nsjail", "bubblewrap": "bwrap"}

ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
    # Numeric libraries start a thread per core and reserve address space for each; one is enough
    # for a script's share of a pod, and keeps an address-space limit meaningful.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
        "/etc/timezone", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/mime.types")
DEV_NODES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
SHM_BYTES = 16 * 1024 * 1024
OPEN_FILES = 1024
# Beyond the script's own processes: the backend's monitor and the sandbox's init process.
SANDBOX_TASKS = 2
# With no memory cgroup, memory is an address-space limit. Mapping the interpreter with numpy and
# pandas takes about 90 MiB of address space (mostly shared, file-backed pages), so a small memory
# limit would make them unimportable; the address space never goes below this floor.
ADDRESS_SPACE_FLOOR = 128 * 1024 * 1024


class SandboxUnavailable(Exception):
    """No backend can run the script with the promised guarantees; nothing runs unsandboxed."""


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float
    cpu_seconds: int
    memory_bytes: int
    address_space_bytes: int  # 0 when a memory cgroup enforces memory
    processes: int
    file_size_bytes: int
    open_files: int
    tmp_bytes: int

    def for_inner(self) -> dict:
        return {"cpuSeconds": self.cpu_seconds, "addressSpaceBytes": self.address_space_bytes,
                "processes": self.processes, "fileSizeBytes": self.file_size_bytes, "openFiles": self.open_files}


def limits_for(timeout_seconds: float, cpu: float, memory_bytes: int, pids: int, memory_cgroup: bool) -> Limits:
    return Limits(
        timeout_seconds=timeout_seconds,
        # CPU time is a backstop behind the wall clock: a script with `cpu` cores may use them all.
        cpu_seconds=math.ceil(timeout_seconds * max(1.0, cpu)) + 1,
        memory_bytes=memory_bytes,
        address_space_bytes=0 if memory_cgroup else max(memory_bytes, ADDRESS_SPACE_FLOOR),
        processes=pids + SANDBOX_TASKS,
        # No single file, and no /tmp, can be larger than the memory it lives in.
        file_size_bytes=memory_bytes,
        open_files=OPEN_FILES,
        tmp_bytes=memory_bytes,
    )


@dataclass(frozen=True)
class Plan:
    """Everything a backend needs for one attempt."""
    limits: Limits
    harness_dir: str
    proc: bool
    inner_argv: list
    pass_fds: tuple
    environment: dict = field(default_factory=lambda: dict(ENVIRONMENT))
    read_only: tuple = ()  # host paths bound read-only at the same place
    symlinks: tuple = ()   # (target, link)


def filesystem() -> tuple:
    """(read-only binds, symlinks) for this host: /usr, the /lib* and /bin links or directories
    (merged /usr or not), and the few files of /etc that the loader, numpy and Python read."""
    binds, links = ["/usr"], []
    for path in _ROOT_LINKS:
        if os.path.islink(path):
            links.append((os.readlink(path), path))
        elif os.path.isdir(path):
            binds.append(path)
    binds += [path for path in _ETC + tuple(sorted(glob.glob("/etc/python3*"))) if os.path.exists(path)]
    return tuple(binds), tuple(links)


def inner_argv(control_fd: int, result_fd: int) -> list:
    # -I: no user site, no PYTHON* variables, no script directory on sys.path (runner.py adds its own).
    return [SANDBOX_PYTHON, "-I", "-B", "-X", "utf8", f"{HARNESS_MOUNT}/runner.py", "--inner",
            "--control-fd", str(control_fd), "--result-fd", str(result_fd)]


def candidates() -> list:
    """(backend, executable) to try in order: the one SCRIPTRUN_SANDBOX_BACKEND requires, else nsjail
    then bubblewrap, whichever are installed."""
    wanted = os.environ.get(BACKEND_ENV, "auto") or "auto"
    if wanted not in BACKENDS + ("auto",):
        raise SandboxUnavailable(f"{BACKEND_ENV} is {wanted!r}; it must be auto, nsjail or bubblewrap")
    names = BACKENDS if wanted == "auto" else (wanted,)
    found = [(name, shutil.which(_EXECUTABLES[name])) for name in names]
    found = [(name, path) for name, path in found if path]
    if not found:
        missing = " or ".join(_EXECUTABLES[name] for name in names)
        raise SandboxUnavailable(f"No sandbox is installed (looked for {missing} on PATH); the script was not run")
    if not os.access(SANDBOX_PYTHON, os.X_OK):
        raise SandboxUnavailable(f"{SANDBOX_PYTHON}, the interpreter the sandbox runs, is missing")
    return found
