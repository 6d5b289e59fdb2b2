# The README's quick start: `make run` and `make test` each do every set-up step.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= pool-data
STAMP  := $(VENV)/.installed

LOCALE := pool_server/http/locale

.PHONY: i18n run test test-tools test-long lint bench-alerts bench-ftp bench-http bench-catalog bench-latency bench-provenance bench-previews bench-sftp bench-client bench-soak bench-tus clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) tools/setup_test_tools.py --stage venv --quiet
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	test -f $(DATA)/pool.toml || $(BIN)/pool-server --data $(DATA) init --demo
	$(BIN)/pool-server --data $(DATA) serve

# Every tool the tests use (ffmpeg with MXF, curl, lftp, OpenSSH, rclone, chromium...):
# installed with apt-get as root on Debian, else named with the command that installs
# them (exit 2, before pytest). The list is the table in tools/setup_test_tools.py.
test-tools: $(STAMP)
	$(BIN)/python tools/setup_test_tools.py

test: test-tools lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-long: test-tools
	$(BIN)/python -m pytest -q -m slow -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench-ftp: $(STAMP)
	$(BIN)/python benchmarks/ftp_bench.py

bench-http: $(STAMP)
	$(BIN)/python benchmarks/http_bench.py

bench-catalog: $(STAMP)
	$(BIN)/python benchmarks/catalog_bench.py

bench-sftp: $(STAMP)
	$(BIN)/python benchmarks/sftp_bench.py --storage /dev/shm --write-section

bench-client: $(STAMP)
	$(BIN)/python benchmarks/client_bench.py

bench-soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py

bench-tus: $(STAMP)
	$(BIN)/python benchmarks/tus_bench.py --workdir /dev/shm

bench-alerts: $(STAMP)
	$(BIN)/python benchmarks/alerts_bench.py

bench-latency: $(STAMP)
	$(BIN)/python benchmarks/upload_to_search_bench.py

bench-provenance: $(STAMP)
	$(BIN)/python benchmarks/provenance_bench.py --crypto
	$(BIN)/python benchmarks/provenance_bench.py --new 10000 --reps 3
	$(BIN)/python benchmarks/upload_to_search_bench.py --compare-signing --runs 10

bench-previews: $(STAMP)
	$(BIN)/python benchmarks/previews_bench.py

# Re-extract the web door's messages and merge them into every catalogue.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project=Ortak -o $(LOCALE)/messages.pot pool_server/http
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) --no-fuzzy-matching

clean:
	rm -rf $(VENV) build *.egg-info
