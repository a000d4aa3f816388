import os
def main():
    for fd in (0, 1, 2):
        os.close(fd)
    return 'real'
