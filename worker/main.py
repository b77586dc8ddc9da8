"""`python -m worker.main [celery worker options]`: one worker process, without the celery CLI.

What `celery -A worker worker` runs, started leaner: the `celery` command loads every
Celery CLI plugin (Flower's among them, with Tornado) and an interactive shell's
libraries into each worker process, about 13 MiB of RSS it never uses. This parses the
same options with Celery's own `worker` command and starts the same worker.
`notify-relay worker` runs one of these per core.
"""

from __future__ import annotations

import os
import sys

# celery.bin.base imports Pygments, when installed, to colour `celery shell` and `inspect`
# output, which a worker never prints: 1.7 MiB per process. A None entry makes its import
# fail, and Celery has a plain fallback for exactly that case.
sys.modules.setdefault("pygments", None)  # type: ignore[arg-type]

from celery.bin.base import CLIContext  # noqa: E402
from celery.bin.worker import worker as worker_command  # noqa: E402

from worker.celery import app  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    context = CLIContext(app=app, no_color=not sys.stderr.isatty(), workdir=os.getcwd(),
                         quiet=False)
    worker_command.main(args=sys.argv[1:] if argv is None else argv, obj=context,
                        prog_name="notify-relay worker")


if __name__ == "__main__":
    main()
