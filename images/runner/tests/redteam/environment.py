import os
def main():
    seen = dict(os.environ)
    # PWD, where the interpreter sets it, says only where the script starts.
    return {'environment': {k: v for k, v in seen.items() if k != 'PWD'}, 'PWD': seen.get('PWD', '/tmp')}
