"""Tokenizers for PSALM: a word-level vocabulary for small models, or a user's HF tokenizer.

The bundled model reads a procedural grammar, so a few hundred whole words are enough and
keep the embedding table tiny. At paper scale the user's local Phi-1.5 ``tokenizer.json``
is used with ``[SEG]`` and ``[PAD]`` added, as the official code does.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel

from psalm_bench.errors import InputError

from .templates import TEMPLATE_TEXTS

PAD, UNK, SEG, EOS = "[PAD]", "[UNK]", "[SEG]", "<|endoftext|>"
SPECIALS = [PAD, UNK, SEG, EOS]
TOKENIZER_FILE = "tokenizer.json"


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")])


def _words(text: str) -> list[str]:
    text = text.lower()
    return [w for w, _ in _pre_tokenizer().pre_tokenize_str(text)]


class PSALMTokenizer:
    """A ``tokenizers.Tokenizer`` plus the ids PSALM's sequence builder needs."""

    def __init__(self, tokenizer: Tokenizer, source: str | None = None):
        for special in (PAD, SEG):  # the official order: [PAD] (when missing), then [SEG]
            if tokenizer.token_to_id(special) is None:
                tokenizer.add_special_tokens([special])
        self.tokenizer = tokenizer
        self.source = source
        self.seg_id = tokenizer.token_to_id(SEG)
        self.pad_id = tokenizer.token_to_id(PAD)
        eos = tokenizer.token_to_id(EOS)
        if eos is None:
            raise InputError(f"tokenizer has no {EOS} token", file=source)
        self.eos_id = eos
        self._encode = lru_cache(maxsize=4096)(self._encode_uncached)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    def _encode_uncached(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def encode(self, text: str) -> list[int]:
        """Token ids of one text piece, without BOS/EOS (pieces are concatenated by the caller)."""
        return list(self._encode(text))

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / TOKENIZER_FILE
        self.tokenizer.save(str(path))
        return path

    def to_str(self) -> str:
        return self.tokenizer.to_str()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PSALMTokenizer) and self.to_str() == other.to_str()


def template_words() -> list[str]:
    """Every word of PSALM's prompt templates, so that no template piece maps to [UNK]."""
    out: list[str] = []
    for text in TEMPLATE_TEXTS:
        out.extend(_words(text.replace(SEG, " ").replace(EOS, " ")))
    return out


def build_tokenizer(words: Iterable[str]) -> PSALMTokenizer:
    """A lower-cased word-level tokenizer over the specials, the template words and ``words``.

    ``words`` may be whole phrases (class names, sentences); they are split the same way
    text is split at encoding time. Order is deterministic: specials, template, then words
    in first-seen order.
    """
    vocab: dict[str, int] = {}
    for w in SPECIALS:
        vocab.setdefault(w, len(vocab))
    for w in template_words():
        vocab.setdefault(w, len(vocab))
    for phrase in words:
        for w in _words(phrase):
            vocab.setdefault(w, len(vocab))
    tok = Tokenizer(WordLevel(vocab, unk_token=UNK))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = _pre_tokenizer()
    tok.add_special_tokens(SPECIALS)
    return PSALMTokenizer(tok)


def load_tokenizer(path: str | Path) -> PSALMTokenizer:
    """Load ``tokenizer.json`` (a file, or a directory holding one: ours or a HF tokenizer dir)."""
    p = Path(path)
    if p.is_dir():
        p = p / TOKENIZER_FILE
    if not p.is_file():
        raise InputError("no tokenizer.json here", file=p)
    try:
        tok = Tokenizer.from_file(str(p))
    except Exception as e:  # tokenizers raises a bare Exception on malformed files
        raise InputError(f"not a tokenizers file ({e})", file=p) from None
    return PSALMTokenizer(tok, source=str(p))


def tokenizer_from_str(text: str) -> PSALMTokenizer:
    return PSALMTokenizer(Tokenizer.from_str(text))
