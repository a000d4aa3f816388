import ctypes, errno, os
def main():
    target = bytearray(b'original')
    address = ctypes.addressof((ctypes.c_char * len(target)).from_buffer(target))
    try:
        with open('/proc/self/mem', 'r+b', buffering=0) as mem:
            mem.seek(address)
            mem.write(b'patched!')
        own = target.decode()
    except OSError as exc:
        own = errno.errorcode[exc.errno]
    try:
        open('/proc/1/mem', 'r+b', buffering=0).close()
        reporter = 'opened'
    except OSError as exc:
        reporter = errno.errorcode[exc.errno]
    return {'own memory': own, "the reporter's memory": reporter}
