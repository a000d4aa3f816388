import ctypes, errno, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
def ptrace(request, pid):
    r = libc.ptrace(ctypes.c_long(request), ctypes.c_long(pid), None, None)
    return 'allowed' if r >= 0 else errno.errorcode[ctypes.get_errno()]
def main():
    sibling = os.fork()
    if sibling == 0:
        time.sleep(30)
        os._exit(0)
    tried = {'attach a process of its own': ptrace(16, sibling), 'seize a process of its own': ptrace(0x4206, sibling)}
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(w, ptrace(0, 0).encode())
        os._exit(0)
    os.waitpid(child, 0)
    tried['traceme'] = os.read(r, 64).decode()
    os.kill(sibling, 9)
    os.waitpid(sibling, 0)
    return tried
