"""The bubblewrap command line for a Plan (bubblewrap 0.8, Debian bookworm). bwrap sets up the
namespaces and the filesystem; the per-process limits are set by the inner process itself, inside
the new user namespace, because bwrap has no options for them."""
from .sandbox import HARNESS_MOUNT, SANDBOX_UID, SHM_BYTES, Plan


def command(executable: str, plan: Plan) -> list:
    argv = [
        executable,
        # user, ipc, pid, net, uts, cgroup; the user namespace is required, not merely tried.
        "--unshare-all", "--unshare-user", "--disable-userns",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "scriptrun",
        "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv",
    ]
    for name, value in sorted(plan.environment.items()):
        argv += ["--setenv", name, value]
    for path in plan.read_only:
        argv += ["--ro-bind", path, path]
    for target, link in plan.symlinks:
        argv += ["--symlink", target, link]
    argv += ["--ro-bind", plan.harness_dir, HARNESS_MOUNT]
    # --dev makes a minimal /dev (null, zero, full, random, urandom, tty, pts); it is writable, so it
    # is made read-only after giving /dev/shm (POSIX semaphores, multiprocessing) its own small tmpfs.
    argv += ["--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    if plan.proc:
        argv += ["--proc", "/proc"]
    argv += ["--size", str(plan.limits.tmp_bytes), "--tmpfs", "/tmp", "--remount-ro", "/", "--chdir", "/tmp"]
    return argv + ["--"] + plan.inner_argv
