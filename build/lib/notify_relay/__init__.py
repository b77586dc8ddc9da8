"""The `notify-relay` command line (see `notify-relay --help`)."""
