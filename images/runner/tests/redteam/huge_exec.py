import errno, resource, subprocess
def tried(**how):
    try:
        subprocess.run(**how, check=True)
        return 'ran'
    except OSError as exc:
        return errno.errorcode[exc.errno]
def main():
    _, hard = resource.getrlimit(resource.RLIMIT_STACK)
    resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))  # the most argument space the kernel then allows
    return {
        'one 200 KB argument': tried(args=['/bin/true', 'x' * 200_000]),
        'one 200 KB variable': tried(args=['/bin/true'], env={'X': 'x' * 200_000}),
        '8 MB of arguments': tried(args=['/bin/true'] + ['x' * 100_000] * 80),
        '8 MB of environment': tried(args=['/bin/true'], env={f'X{i}': 'x' * 100_000 for i in range(80)}),
        'a normal command line': tried(args=['/bin/true', 'x' * 1000]),
    }
