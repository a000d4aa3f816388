import os, signal, time
def main():
    # Where kill(-1) could reach beyond the run, do not send it: the parent must be the sandbox's pid 1.
    if os.getpid() == 1 or os.getppid() != 1:
        return 'not in a pid namespace of its own'
    ready, told = os.pipe()
    victim = os.fork()
    if victim == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # so that it is the SIGKILL that ends it, not a race
        os.write(told, b'ready')
        time.sleep(30)
        os._exit(0)
    os.read(ready, 5)
    for signum in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
        os.kill(-1, signum)
    time.sleep(0.3)
    _, status = os.waitpid(victim, 0)
    return {'victim': signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else status}
