"""Where the bundled models are: $MI_MODELS_DIR (scripts/test.sh sets it), else build/models."""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def models_dir() -> pathlib.Path:
    d = pathlib.Path(os.environ.get("MI_MODELS_DIR", ROOT / "build" / "models"))
    if not (d / "lenet5" / "model.onnx").exists():
        pytest.skip(f"the bundled models are not in {d} (scripts/make_models.py writes them)")
    return d
