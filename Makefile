# Two commands do everything on a fresh machine with only Python: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench demo migrate schema-regen clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/leadnurture migrate
	$(BIN)/leadnurture serve

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app

demo: $(STAMP)
	$(BIN)/leadnurture migrate
	$(BIN)/leadnurture demo

bench: $(STAMP)
	$(BIN)/python -m bench

migrate: $(STAMP)
	$(BIN)/leadnurture migrate

# Until the first release the initial migration is regenerated from the models.
schema-regen: $(STAMP)
	rm -f migrations/versions/*_initial_schema.py var/schema-regen.db
	LEADNURTURE_DATABASE_URL=sqlite:///var/schema-regen.db $(BIN)/alembic revision --autogenerate -m "initial schema"
	rm -f var/schema-regen.db*
	$(BIN)/ruff format migrations

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
