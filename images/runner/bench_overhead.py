#!/usr/bin/env python3
"""Prints the harness + sandbox overhead over a bare interpreter: p50 of N runs of
the hello-world request through runner.py against p50 of `python3 -c pass`."""
import json
import os
import statistics
import subprocess
import sys
import time

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
HELLO = json.dumps({"script": "def main():\n    return 'Hello, World!'\n"})


def p50_ms(cmd, stdin=None, runs=50):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    bare = p50_ms(["/usr/bin/python3", "-c", "pass"], runs=runs)
    harness = p50_ms([sys.executable, RUNNER], stdin=HELLO, runs=runs)
    print(f"runs={runs} bare_python_p50_ms={bare:.1f} runner_hello_p50_ms={harness:.1f} overhead_p50_ms={harness - bare:.1f}")


if __name__ == "__main__":
    main()
