import os
def main():
    os.closerange(3, 1024)
    return 'real'
