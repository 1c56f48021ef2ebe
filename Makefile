# ModelDesk: `make run` opens the app, `make test` runs the whole suite headless.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_VENV := .venv-mlflow
MLSERVER_VENV := .venv-mlserver

.PHONY: run test bench lint format clean package install-user

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/modeldesk

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check desktop_app tests packaging
	$(BIN)/ruff format --check desktop_app tests packaging
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format desktop_app tests packaging
	$(BIN)/ruff check --fix desktop_app tests packaging

# MLflow lives in its own virtual environment so that it never changes the app's packages.
$(BENCH_VENV)/.installed-stamp:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet 'mlflow>=2.10'
	touch $@

# MLServer (the serving benchmark's other peer) gets a venv of its own too: it pins other versions
# of packages the app uses (fastapi < 0.116, protobuf, grpcio, gevent...). 1.7.1 is the release
# checked to install and serve here. scikit-learn is pinned to the app venv's version because the
# benchmark hands it the app's fitted estimator as a joblib (pickle) file. The venv ignores itself
# in Git ('*' in its own .gitignore).
$(MLSERVER_VENV)/.installed-stamp: | $(STAMP)
	$(PYTHON) -m venv $(MLSERVER_VENV)
	echo '*' > $(MLSERVER_VENV)/.gitignore
	$(MLSERVER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLSERVER_VENV)/bin/python -m pip install --quiet 'mlserver==1.7.1' 'mlserver-sklearn==1.7.1' \
		"scikit-learn==$$($(BIN)/python -c 'import sklearn; print(sklearn.__version__)')"
	touch $@

bench: $(STAMP) $(BENCH_VENV)/.installed-stamp $(MLSERVER_VENV)/.installed-stamp
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m tests.benchmarks --mlflow-python $(BENCH_VENV)/bin/python

# The PyInstaller bundle and the .deb in packaging/dist/ (reused while nothing it is made of changed).
package: $(STAMP)
	$(BIN)/python packaging/build.py package

# ModelDesk for this user only, no root: ~/.local/opt/modeldesk, ~/.local/bin/modeldesk, menu entry, icons.
install-user: $(STAMP)
	$(BIN)/python packaging/build.py install-user

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(MLSERVER_VENV) .pytest_cache .mypy_cache .ruff_cache packaging/build packaging/dist
