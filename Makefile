# make demo  - set up, then run the whole service end to end (emulator when no token)
# make test  - set up, then run every test
# make constraints - regenerate docker/constraints.txt (the image's dependency lock) from .venv
.PHONY: install demo test lint typecheck bench constraints

install:
	./scripts/bootstrap.sh

demo: install
	.venv/bin/notify-relay demo

test: install
	.venv/bin/python -m pytest

lint: install
	.venv/bin/ruff check .

typecheck: install
	.venv/bin/mypy producers worker emulator notify_relay

bench: install
	.venv/bin/python -m pip install --quiet -e '.[dev,bench]'
	.venv/bin/python -m benchmarks

constraints: install
	./docker/update-constraints.sh
