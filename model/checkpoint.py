"""Checkpoints: our release format, official PSALM checkpoints, and resumable training state.

Release format (a directory): ``model.safetensors`` (fp16, canonical = official key names),
``config.json`` (``PSALMConfig``), ``tokenizer.json``, ``provenance.json``. Canonical names
are the official ``PSALM.state_dict()`` names, so the same loader reads both formats:
``llm.*`` <-> ``model.*``, ``mm_projector.*`` <-> ``model.mm_projector.*``, the HF Swin
under ``vision_tower.backbone`` <-> ``model.vision_tower.*`` (official MS-Swin names).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from psalm_bench.errors import InputError

from .config import ARCH, PSALMConfig
from .psalm import PSALM
from .tokenizer import TOKENIZER_FILE, PSALMTokenizer, load_tokenizer
from .vision import swin_hf_key_to_official, swin_hf_to_official, swin_official_to_hf

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
PROVENANCE_FILE = "provenance.json"
STATE_FILE = "train_state.pt"

_VISION = "vision_tower.backbone."
_PREFIXES = (("llm.", "model."), ("mm_projector.", "model.mm_projector."))
# Official keys with no counterpart here (unused on PSALM's inference path, or recomputed).
IGNORED_OFFICIAL = (
    re.compile(r"^predictor\.(query_feat|SEG_query_embed|new_query_feat)\."),
    re.compile(r"relative_position_index$"),
    re.compile(r"\.attn_mask$"),
    re.compile(r"^model\.vision_tower\.(layers\.\d+\.blocks\.\d+\.)?attn_mask$"),
    re.compile(r"rotary_emb\.inv_freq$"),
)
OPTIONAL = (re.compile(r"num_batches_tracked$"),)


def canonical_state_dict(model: PSALM) -> dict[str, torch.Tensor]:
    """The model's tensors under official PSALM names."""
    sd = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    swin: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if k.startswith(_VISION):
            swin[k[len(_VISION):]] = v
            continue
        for ours, official in _PREFIXES:
            if k.startswith(ours):
                k = official + k[len(ours):]
                break
        out[k] = v
    for k, v in swin_hf_to_official(swin).items():
        out["model.vision_tower." + k] = v
    return out


def module_state_dict(canonical: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Official names -> our module names. Returns (state dict, keys that map nowhere)."""
    out: dict[str, torch.Tensor] = {}
    swin: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for k, v in canonical.items():
        if any(p.search(k) for p in IGNORED_OFFICIAL):
            continue
        if k.startswith("model.vision_tower."):
            swin[k[len("model.vision_tower."):]] = v
            continue
        if k.startswith("model.mm_projector."):
            out["mm_projector." + k[len("model.mm_projector."):]] = v
        elif k.startswith("model."):
            out["llm." + k[len("model."):]] = v
        else:
            out[k] = v
    mapped, bad = swin_official_to_hf(swin)
    unknown += ["model.vision_tower." + k for k in bad]
    out.update({_VISION + k: v for k, v in mapped.items()})
    return out, unknown


def _listing(keys: list[str], n: int = 5) -> str:
    head = ", ".join(keys[:n])
    return f"{head} (+{len(keys) - n} more)" if len(keys) > n else head


def load_state(model: PSALM, canonical: dict[str, torch.Tensor], source: str | Path) -> None:
    """Copy official-named tensors into ``model`` (cast to its dtype); InputError on any gap."""
    sd, unknown = module_state_dict(canonical)
    own = model.state_dict()
    missing = [k for k in own if k not in sd and not any(p.search(k) for p in OPTIONAL)]
    unexpected = unknown + [k for k in sd if k not in own]
    mismatched = [f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in sd if k in own and sd[k].shape != own[k].shape]
    if missing:
        names = list(dict.fromkeys(_canonical_name(k) for k in missing))  # q/k/v collapse into one qkv
        raise InputError(f"{len(names)} missing keys: {_listing(names)}", file=source)
    if unexpected:
        raise InputError(f"{len(unexpected)} unexpected keys: {_listing(unexpected)}", file=source)
    if mismatched:
        raise InputError(f"{len(mismatched)} keys with mismatched shapes (file vs model): {_listing(mismatched, 3)}", file=source)
    with torch.no_grad():
        for k, v in sd.items():
            own[k].copy_(v.to(own[k].dtype))


def _canonical_name(k: str) -> str:
    """Module key -> its official name, for error messages."""
    if k.startswith(_VISION):
        return "model.vision_tower." + (swin_hf_key_to_official(k[len(_VISION):]) or k)
    for ours, official in _PREFIXES:
        if k.startswith(ours):
            return official + k[len(ours):]
    return k


def _sort_header_metadata(path: Path) -> None:
    """Rewrite the header's ``__metadata__`` in sorted key order, in place.

    safetensors writes that map from a Rust HashMap, so its key order (and the file's
    bytes) changed from run to run; sorted, the same weights give the same bytes. The
    header keeps its length (same keys, same values), so no tensor offset moves.
    """
    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) > n:  # cannot happen for a reordering; refuse rather than corrupt the file
            raise InputError("safetensors header grew when its metadata was sorted", file=path)
        f.seek(8)
        f.write(text.ljust(n))


# ---------------------------------------------------------------------------------------
def save_model(model: PSALM, directory: str | Path, provenance: dict[str, Any], *,
               tokenizer: PSALMTokenizer | None = None, dtype: torch.dtype = torch.float16) -> Path:
    """Write the release files; weights in ``dtype`` (fp16 by default) under official names."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizer or model.tokenizer
    if tok is None:
        raise InputError("save_model: the model has no tokenizer; pass tokenizer=")
    tensors = {}
    for k, v in canonical_state_dict(model).items():
        v = v.detach().cpu()
        tensors[k] = (v.to(dtype) if v.is_floating_point() else v).contiguous()
    save_file(tensors, str(out / WEIGHTS_FILE), metadata={"format": "pt", "arch": ARCH})
    _sort_header_metadata(out / WEIGHTS_FILE)
    model.config.to_json(out / CONFIG_FILE)
    tok.save(out)
    (out / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, default=str) + "\n")
    return out


def load_model(directory: str | Path, device: str | torch.device = "cpu", *,
               config: PSALMConfig | None = None) -> tuple[PSALM, PSALMTokenizer, dict[str, Any]]:
    """Read a release directory; weights cast to fp32. A ``config`` for another architecture
    than the checkpoint's is refused (InputError naming the differing fields)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError("no such model directory", file=d)
    for f in (WEIGHTS_FILE, CONFIG_FILE, TOKENIZER_FILE):
        if not (d / f).is_file():
            raise InputError(f"missing {f}", file=d)
    saved = _read_config(d / CONFIG_FILE)
    if config is not None:
        diffs = config.same_architecture(saved)
        if diffs:
            raise InputError(f"config is for a different architecture than the checkpoint: {_listing(diffs, 4)}", file=d / CONFIG_FILE)
    else:
        config = saved
    tok = load_tokenizer(d / TOKENIZER_FILE)
    try:
        tensors = load_file(str(d / WEIGHTS_FILE))
    except Exception as e:  # safetensors raises its own error types
        raise InputError(f"unreadable safetensors file ({e})", file=d / WEIGHTS_FILE) from None
    model = PSALM(config, tok)
    load_state(model, tensors, d / WEIGHTS_FILE)
    prov = json.loads((d / PROVENANCE_FILE).read_text()) if (d / PROVENANCE_FILE).is_file() else {}
    return model.to(device).eval(), tok, prov


def _read_config(path: Path) -> PSALMConfig:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", file=path) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", file=path)
    if data.get("arch") != ARCH:
        raise InputError(f"arch {data.get('arch')!r} is not {ARCH!r} (a different architecture)", file=path)
    return PSALMConfig.from_dict(data, source=str(path))


def _official_tensors(d: Path) -> dict[str, torch.Tensor]:
    files = sorted(d.glob("*.safetensors"))
    bins = sorted(d.glob("pytorch_model*.bin"))
    if not files and not bins:
        raise InputError("no *.safetensors or pytorch_model*.bin weights", file=d)
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        tensors.update(load_file(str(f)))
    for f in bins if not files else []:
        try:
            sd = torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:
            raise InputError(f"unreadable checkpoint ({e})", file=f) from None
        tensors.update(sd)
    return tensors


def load_official(directory: str | Path, config: PSALMConfig, tokenizer: PSALMTokenizer | None = None,
                  device: str | torch.device = "cpu") -> PSALM:
    """Load an official PSALM checkpoint directory (``config.json`` + weights) into ``config``'s model.

    The file's ``model.embed_tokens`` rows set the vocabulary size (the official tokenizer
    grows by [PAD] and [SEG]); everything else must match ``config`` exactly.
    """
    d = Path(directory)
    cfg_path = d / CONFIG_FILE
    if not cfg_path.is_file():
        raise InputError("missing config.json", file=d)
    try:
        official = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", file=cfg_path) from None
    if official.get("model_type") != "llava_phi":
        raise InputError(f"model_type {official.get('model_type')!r} is not 'llava_phi' (not a PSALM checkpoint)", file=cfg_path)
    if official.get("mm_projector_type", "swin_conv") != "swin_conv":
        raise InputError(f"mm_projector_type {official.get('mm_projector_type')!r} is not 'swin_conv'", file=cfg_path)
    if config.decoder.pixel_decoder != "msdeform":
        raise InputError("official checkpoints use the msdeform pixel decoder; the config says "
                         f"{config.decoder.pixel_decoder!r} (a different architecture)", file=cfg_path)
    checks = {"hidden_size": config.llm.hidden_size, "num_hidden_layers": config.llm.num_layers,
              "num_attention_heads": config.llm.num_heads, "intermediate_size": config.llm.intermediate_size}
    diffs = [f"{k} {official[k]} vs {v}" for k, v in checks.items() if k in official and official[k] != v]
    if diffs:
        raise InputError(f"config is for a different architecture than the checkpoint: {', '.join(diffs)}", file=cfg_path)
    tensors = _official_tensors(d)
    emb = tensors.get("model.embed_tokens.weight")
    if emb is not None and emb.shape[0] != config.llm.vocab_size:
        from dataclasses import replace

        config = replace(config, llm=replace(config.llm, vocab_size=int(emb.shape[0])))
    model = PSALM(config, tokenizer)
    load_state(model, tensors, d)
    return model.to(device).eval()


# ---------------------------------------------------------------------------------------
def save_training_state(path: str | Path, state: dict[str, Any]) -> None:
    """Atomically write a resumable training state (model, optimizer, scheduler, step, RNG)."""
    p = Path(path)
    tmp = p.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(p)


TRAINING_STATE_KEYS = ("model", "optimizer", "scheduler", "step", "wall_seconds", "chunks", "config", "hyper", "tokenizer", "rng")


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Read a resumable state with ``weights_only=True``: tensors and plain containers only.

    A run folder may come from elsewhere; an unrestricted unpickle would run
    whatever code the file names. Everything ``save_training_state`` writes
    (state dicts, the RNG's ByteTensor, numbers, strings) loads this way.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        reason = " ".join(str(e).split())[:300]
        raise InputError(f"unreadable training state, or one holding more than tensors and plain values ({reason})", file=path) from None
    if not isinstance(state, dict):
        raise InputError(f"training state is a {type(state).__name__}, expected a dict", file=path)
    missing = [k for k in TRAINING_STATE_KEYS if k not in state]
    if missing:
        raise InputError(f"training state lacks {', '.join(missing)}", file=path)
    return state
