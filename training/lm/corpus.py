"""Two real-text token streams for language-model runs: English prose and Python source.

Prose: the reStructuredText sources of the Python documentation, as Debian's `python3.11-doc`
installs them (`DOCS_DIR`, ~12 MB). Code: the top-level modules of the running interpreter's
standard library (~5 MB), the distribution shift. Every tenth file (by sorted path) of each is held
out for validation. A byte-level BPE (`tokenizers`) is trained on the prose training files only,
and the token streams are cached under a key of the file list and the vocabulary size.
"""

from __future__ import annotations

import hashlib
import json
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import ByteLevelBPETokenizer

DOCS_DIR = Path("/usr/share/doc/python3.11/html/_sources")
DOCS_PACKAGE = "python3.11-doc"
VALIDATION_EVERY = 10
END_OF_TEXT = "<|endoftext|>"


class CorpusError(RuntimeError):
    """The text a run needs is missing (with the command that installs it)."""


@dataclass(frozen=True)
class Corpus:
    """Token streams (uint16) per distribution and split, and the vocabulary they index."""

    vocab: int
    docs_train: np.ndarray
    docs_val: np.ndarray
    code_train: np.ndarray
    code_val: np.ndarray


def docs_files(root: Path | None = None) -> list[Path]:
    """The documentation's source files, sorted; CorpusError when the package is not installed."""
    folder = Path(os.environ.get("SPECTRAL_EDGE_DOCS", root or DOCS_DIR))
    files = sorted(folder.rglob("*.rst.txt")) if folder.is_dir() else []
    if not files:
        raise CorpusError(
            f"no documentation sources under {folder}: install them with "
            f"`apt-get install {DOCS_PACKAGE}` (or set SPECTRAL_EDGE_DOCS)"
        )
    return files


def code_files() -> list[Path]:
    """The standard library's top-level modules, sorted."""
    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))


def split(files: list[Path], limit: int | None = None) -> tuple[list[Path], list[Path]]:
    """(train, validation): every VALIDATION_EVERY-th file is held out; `limit` caps both lists."""
    train = [f for i, f in enumerate(files) if i % VALIDATION_EVERY]
    val = files[::VALIDATION_EVERY]
    return (train[:limit], val[:limit]) if limit else (train, val)


def load(cache_dir: Path, vocab: int = 2048, limit: int | None = None) -> Corpus:
    """The corpus at `vocab` tokens, from the cache when it holds it (built and cached otherwise).

    `limit` keeps only the first `limit` files of each split (small corpora for tests). Where the
    sources are not installed (a machine with no package registry), a cache built elsewhere for
    the same vocabulary and limit is used as it is.
    """
    prefix = Path(cache_dir) / f"corpus-v{vocab}-l{limit or 0}"
    try:
        docs, code = split(docs_files(), limit), split(code_files(), limit)
    except CorpusError:
        built = sorted(prefix.parent.glob(f"{prefix.name}-*.npz"))
        if not built:
            raise
        return _read(built[0], vocab)
    parts = {"docs_train": docs[0], "docs_val": docs[1], "code_train": code[0], "code_val": code[1]}
    listing = json.dumps({k: [p.name for p in v] for k, v in parts.items()}, sort_keys=True)
    path = Path(f"{prefix}-{hashlib.sha256(listing.encode()).hexdigest()[:12]}.npz")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tokenizer = train_tokenizer(docs[0], vocab)
        streams: dict[str, Any] = {name: encode(tokenizer, files) for name, files in parts.items()}
        partial = path.with_suffix(f".{os.getpid()}.npz")
        np.savez(partial, **streams)
        partial.replace(path)
        tokenizer.save(str(path.with_suffix(".tokenizer.json")))
    return _read(path, vocab)


def _read(path: Path, vocab: int) -> Corpus:
    with np.load(path) as saved:
        return Corpus(vocab, saved["docs_train"], saved["docs_val"], saved["code_train"],
                      saved["code_val"])  # fmt: skip


def train_tokenizer(files: list[Path], vocab: int) -> ByteLevelBPETokenizer:
    """A byte-level BPE with `vocab` tokens trained on `files`."""
    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train([str(f) for f in files], vocab_size=vocab, min_frequency=2,
                    special_tokens=[END_OF_TEXT], show_progress=False)  # fmt: skip
    return tokenizer


def encode(tokenizer: ByteLevelBPETokenizer, files: list[Path]) -> np.ndarray:
    """The files' tokens, one stream, each file followed by the end-of-text token."""
    texts = [f.read_text(encoding="utf-8", errors="replace") for f in files]
    end = tokenizer.token_to_id(END_OF_TEXT)
    ids = [token for e in tokenizer.encode_batch(texts) for token in [*e.ids, end]]
    return np.asarray(ids, dtype=np.uint16)
