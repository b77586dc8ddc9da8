from notify_relay.cli import main

main()
