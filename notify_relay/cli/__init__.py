"""`notify-relay`: enqueue and inspect jobs, run the HTTP API, the emulator, the demo, the
scheduler.

Every command fails the same way, with one line on stderr and an exit code scripts can
trust (the table is in `notify_relay/cli/errors.py`, `--help` and the README).
"""

from __future__ import annotations

import click

from notify_relay.cli import (
    api,
    config,
    contract,
    dead,
    errors,
    jobs,
    ops,
    run,
    unknown,
    webhooks,
)


@click.group(cls=errors.Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=errors.EXIT_CODES_HELP)
@click.version_option(package_name="notify-relay")
@click.option("--debug", is_flag=True, envvar="NOTIFY_DEBUG",
              help="On an error, also print the traceback (also NOTIFY_DEBUG=1).")
def cli(debug: bool) -> None:
    """notify-relay: a queue-backed delivery worker for Pushwoosh Messaging API v2.

    Configuration comes from environment variables (REDIS_URL, PUSHWOOSH_API_TOKEN,
    PUSHWOOSH_BASE_URL, NOTIFY_*); see the README's configuration table. An error is
    one line on stderr, `notify-relay: <what>: <why>; <what to do>`.
    """


for command in (jobs.enqueue, jobs.outcome, contract.validate, contract.schema, dead.dead,
                run.emulator, run.demo, run.worker, run.scheduler, config.config, ops.stats,
                ops.health, ops.metrics, ops.flower, webhooks.webhooks, unknown.unknown_ids,
                api.api, api.api_key):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="notify-relay")
