import errno
def main(where, most):
    # One MiB files: far under RLIMIT_FSIZE, which stops only one big file. Where nothing stopped
    # it, the script stops itself after `most` in each place, bounding the harm to the host.
    # `where`: a directory, or several filled one after another (each until it is full).
    print('filling', flush=True)
    chunk = b'x' * (1 << 20)
    wrote, refused = 0, None
    for place in where if isinstance(where, list) else [where]:
        for n in range(most):
            try:
                with open(f'{place}/fill{n}', 'wb') as f:
                    f.write(chunk)
            except OSError as exc:
                refused = errno.errorcode[exc.errno]
                break
            wrote += 1
    return {'wrote MiB': wrote, 'refused': refused}
