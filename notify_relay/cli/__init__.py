"""`notify-relay`: enqueue and inspect jobs, run the emulator, the demo, the scheduler.

Exit codes scripts can trust: 0 success, 1 the thing asked about is bad or missing
(invalid request, unknown job), 2 usage or configuration error.
"""

from __future__ import annotations

import click

from notify_relay.cli import config, contract, dead, jobs, ops, run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="notify-relay")
def cli() -> None:
    """notify-relay: a queue-backed delivery worker for Pushwoosh Messaging API v2.

    Configuration comes from environment variables (REDIS_URL, PUSHWOOSH_API_TOKEN,
    PUSHWOOSH_BASE_URL, NOTIFY_*); see the README's configuration table.
    """


for command in (jobs.enqueue, jobs.outcome, contract.validate, contract.schema, dead.dead,
                run.emulator, run.demo, run.scheduler, config.config, ops.stats, ops.health,
                ops.metrics, ops.flower):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="notify-relay")
