import atexit, os, sys, threading, time
def main(forged, marker):
    def late():
        time.sleep(0.2)
        print('thread after main:', forged)
    atexit.register(lambda: print('atexit:', forged))
    threading.Thread(target=late).start()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            # `marker` in its command line (as sh, then as sleep) lets the test look for it afterwards.
            os.execv('/bin/sh', ['sh', '-c', f'sleep 3; echo grandchild: $0; exec sleep {marker}', forged])
        os._exit(0)
    os.wait()
    sys.stdout.write(forged + chr(10))
    return 'real'
