import errno, os
def main(paths):
    tried = {}
    for path in paths:
        for how in ('r', 'a'):
            try:
                open(path, how).close()
                tried[f'{how} {path}'] = 'opened'
            except OSError as exc:
                tried[f'{how} {path}'] = errno.errorcode[exc.errno]
    return {'tried': tried, 'tmp': os.listdir('/tmp')}
