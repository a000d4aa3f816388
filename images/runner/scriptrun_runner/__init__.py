"""ScriptRun's runner harness: runs one untrusted Python script in a sandbox (nsjail or bubblewrap)
and reports the outcome as an envelope. `runner.py` beside this package is the command line;
docs/architecture.md records the request, envelope and termination-message formats."""
