"""``python -m reef.evaluator [--bootstrap bootstrap.json | --from-skein]``: an evaluator process.

Started by a runtime in the evaluator's own directory, next to its bootstrap document and its
credentials; or, where a runtime can pass only environment variables (YARN containers), with
``--from-skein`` (YARN containers): the evaluator's files (bootstrap document and credentials)
are fetched first from the application's key-value store, under the key that
``REEF_EVALUATOR_FILES_KEY`` names, written into the working directory readable by the owner
only, and deleted from the store. Exit codes: 0 clean, 2 bad bootstrap, 3 no driver to register
with, 4 lost driver.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from reef.common._bootstrap import (
    BOOTSTRAP_FILE,
    Bootstrap,
    BootstrapError,
    write_encoded_files,
)
from reef.evaluator._runtime import EXIT_BOOTSTRAP, Evaluator
from reef.tang import use_main_script


def _local_script(bootstrap: Bootstrap) -> str:
    """Where the driver's main script is here: as the runtime says, else at its recorded path,
    else next to this evaluator (runtimes that ship it into the container's directory)."""
    assert bootstrap.main_script is not None
    if bootstrap.main_script_here:
        return bootstrap.main_script_here
    if os.path.isfile(bootstrap.main_script):
        return bootstrap.main_script
    shipped = os.path.abspath(os.path.basename(bootstrap.main_script))
    return shipped if os.path.isfile(shipped) else bootstrap.main_script


def main(argv: list[str] | None = None) -> int:
    """Run one evaluator; the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m reef.evaluator")
    parser.add_argument("--bootstrap", default=BOOTSTRAP_FILE, help="the bootstrap document")
    parser.add_argument(
        "--from-skein",
        action="store_true",
        help="fetch the files from the YARN application's key-value store first",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )
    try:
        if args.from_skein:
            from reef.runtime.yarn import evaluator_files  # noqa: PLC0415 - YARN only

            write_encoded_files(evaluator_files(), "the YARN application's key-value store")
        with open(args.bootstrap, "rb") as f:
            bootstrap = Bootstrap.from_json(f.read())
    except (OSError, BootstrapError) as e:
        logging.getLogger("reef.evaluator").error("cannot start: %s", e)
        return EXIT_BOOTSTRAP
    logging.getLogger().setLevel(bootstrap.log_level)
    sys.path[:0] = [p for p in bootstrap.python_path if p not in sys.path]
    if bootstrap.main_script:
        use_main_script(_local_script(bootstrap), recorded=bootstrap.main_script)
    return Evaluator(bootstrap, os.getcwd()).run()


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Activity threads of user code may still run; they must not keep the process alive.
    os._exit(code)
