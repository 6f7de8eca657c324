"""The command line as a child process that Ctrl-C (SIGINT) reaches.

A test suite started as a background job of a non-interactive shell (``cmd &``,
``nohup``) inherits SIGINT ignored, and its children inherit that too: Python then
installs no KeyboardInterrupt handler, and a test of what Ctrl-C does sees nothing
happen. The kill tests start the CLI with Python's own handler installed again.
"""

import sys

INTERRUPTIBLE_CLI = [
    sys.executable, "-c",
    "import signal, sys, runpy; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'fascidetect'; runpy.run_module('fascidetect.cli', run_name='__main__')",
]
