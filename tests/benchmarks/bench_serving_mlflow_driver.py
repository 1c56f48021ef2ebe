"""MLflow's side of the serving benchmark, run by the MLflow venv's interpreter as a script.

    .venv-mlflow/bin/python tests/benchmarks/bench_serving_mlflow_driver.py MODEL.joblib OUT_DIR

Loads the estimator the harness fitted (a joblib file; the venvs have the same scikit-learn,
which the harness checks) and saves it as an MLflow Model directory with
``mlflow.sklearn.save_model``, the directory ``mlflow models serve -m OUT_DIR`` then serves.
Prints one JSON line: the MLflow and scikit-learn versions. This file must not import ModelDesk.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import warnings
from pathlib import Path

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
logging.getLogger("mlflow").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")


def main(model_file: Path, out_dir: Path) -> None:
    import joblib
    import mlflow
    import mlflow.sklearn
    import sklearn

    estimator = joblib.load(model_file)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    # MLflow's default serialization format (skops in MLflow 3) refuses types it does not trust
    # unless told: trust exactly those of this estimator (the trees of the random forest), as a
    # user saving their own model would. No signature: MLflow then skips schema enforcement, its
    # fastest path for a numeric model.
    trusted = []
    try:
        import skops.io

        trusted = list(skops.io.get_untrusted_types(data=skops.io.dumps(estimator)))
    except ImportError:
        pass
    options = {"skops_trusted_types": trusted} if trusted else {}
    mlflow.sklearn.save_model(estimator, str(out_dir), **options)
    flavor = (out_dir / "MLmodel").read_text()
    figures = {
        "mlflow_version": mlflow.__version__,
        "sklearn_version": sklearn.__version__,
        "trusted": trusted,
        "serialization": "skops" if "skops" in flavor else "pickle",
    }
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
