"""The nsjail command line for a Plan (nsjail 3.4, built in the production image). It builds the
same sandbox as bwrap.py. nsjail also applies the per-process limits itself, which the inner process
then sets again (to the same values) so that both backends behave alike.

Memory and pids cgroups are made by the harness (cgroups.py), not by nsjail's --cgroup_* options:
the harness must read the cgroup's OOM counter after the run to tell memory_limit from a crash,
and must do the same for bubblewrap, which has no cgroup support."""
import math

from .sandbox import DEV_NODES, HARNESS_MOUNT, SANDBOX_UID, SHM_BYTES, Plan, SandboxUnavailable

MIB = 1024 * 1024
# nsjail's own wall clock is a backstop behind the harness's, which reports timeout.
TIME_LIMIT_GRACE_SECONDS = 5


def _mib(value: int) -> str:
    return str(max(1, math.ceil(value / MIB)))


def command(executable: str, plan: Plan) -> list:
    limits = plan.limits
    paths = plan.read_only + (plan.harness_dir,) + tuple(target for target, _ in plan.symlinks)
    if any(":" in path for path in paths):
        raise SandboxUnavailable("A path to mount contains ':', which nsjail's mount options cannot express")
    argv = [
        executable, "--mode", "o", "--quiet",
        "--hostname", "scriptrun", "--cwd", "/tmp",
        "--user", str(SANDBOX_UID), "--group", str(SANDBOX_UID),
        "--time_limit", str(math.ceil(limits.timeout_seconds) + TIME_LIMIT_GRACE_SECONDS),
        "--rlimit_as", _mib(limits.address_space_bytes) if limits.address_space_bytes else "inf",
        # The hard CPU limit; the inner process sets the soft one a second lower (SIGXCPU, then SIGKILL).
        "--rlimit_cpu", str(limits.cpu_seconds + 1),
        "--rlimit_fsize", _mib(limits.file_size_bytes),
        "--rlimit_nofile", str(limits.open_files),
        "--rlimit_nproc", str(limits.processes),
        "--rlimit_core", "0",
    ]
    for fd in plan.pass_fds:
        argv += ["--pass_fd", str(fd)]
    for name, value in sorted(plan.environment.items()):
        argv += ["--env", f"{name}={value}"]
    for path in plan.read_only:
        argv += ["-R", path]
    for target, link in plan.symlinks:
        argv += ["-s", f"{target}:{link}"]
    argv += ["-R", f"{plan.harness_dir}:{HARNESS_MOUNT}"]
    for node in DEV_NODES:
        argv += ["-R", node]
    argv += ["-m", f"none:/dev/shm:tmpfs:size={SHM_BYTES}", "-m", f"none:/tmp:tmpfs:size={limits.tmp_bytes}"]
    if not plan.proc:
        argv.append("--disable_proc")
    return argv + ["--"] + plan.inner_argv
