import errno
def main(where, most):
    # One MiB files: far under RLIMIT_FSIZE, which stops only one big file. Where nothing stopped
    # it, the script stops itself after `most`, bounding the harm to the host.
    chunk = b'x' * (1 << 20)
    for n in range(most):
        try:
            with open(f'{where}/fill{n}', 'wb') as f:
                f.write(chunk)
        except OSError as exc:
            return {'wrote MiB': n, 'refused': errno.errorcode[exc.errno]}
    return {'wrote MiB': most, 'refused': None}
