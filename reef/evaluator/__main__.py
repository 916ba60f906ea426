"""``python -m reef.evaluator [--bootstrap bootstrap.json]``: an evaluator process.

Started by a runtime in the evaluator's own directory, next to its bootstrap document and its
credentials. Exit codes: 0 clean, 2 bad bootstrap, 3 no driver to register with, 4 lost driver.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from reef.common._bootstrap import BOOTSTRAP_FILE, Bootstrap, BootstrapError
from reef.evaluator._runtime import EXIT_BOOTSTRAP, Evaluator
from reef.tang import use_main_script


def main(argv: list[str] | None = None) -> int:
    """Run one evaluator; the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m reef.evaluator")
    parser.add_argument("--bootstrap", default=BOOTSTRAP_FILE, help="the bootstrap document")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )
    try:
        with open(args.bootstrap, "rb") as f:
            bootstrap = Bootstrap.from_json(f.read())
    except (OSError, BootstrapError) as e:
        logging.getLogger("reef.evaluator").error("cannot start: %s", e)
        return EXIT_BOOTSTRAP
    logging.getLogger().setLevel(bootstrap.log_level)
    sys.path[:0] = [p for p in bootstrap.python_path if p not in sys.path]
    if bootstrap.main_script:
        use_main_script(
            bootstrap.main_script_here or bootstrap.main_script, recorded=bootstrap.main_script
        )
    return Evaluator(bootstrap, os.getcwd()).run()


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Activity threads of user code may still run; they must not keep the process alive.
    os._exit(code)
