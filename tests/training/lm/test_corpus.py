"""The corpus: Debian's documentation sources and the standard library, split, tokenised, cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.lm import corpus


def test_missing_documentation_names_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECTRAL_EDGE_DOCS", str(tmp_path / "nowhere"))
    with pytest.raises(corpus.CorpusError, match=r"apt-get install python3\.11-doc"):
        corpus.docs_files()


def test_every_tenth_file_is_held_out() -> None:
    files = [Path(f"f{i:02d}") for i in range(25)]
    train, val = corpus.split(files)
    assert val == [files[0], files[10], files[20]]
    assert not set(train) & set(val) and len(train) + len(val) == 25
    assert corpus.split(files, limit=2) == (train[:2], val[:2])


def test_a_small_corpus_is_real_text_tokenised_once_and_cached(tmp_path: Path) -> None:
    first = corpus.load(tmp_path, vocab=300, limit=6)
    cached = sorted(p.name for p in tmp_path.iterdir())
    assert len([n for n in cached if n.endswith(".tokenizer.json")]) == 1
    again = corpus.load(tmp_path, vocab=300, limit=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == cached
    for name in ("docs_train", "docs_val", "code_train", "code_val"):
        stream = getattr(first, name)
        assert stream.dtype == np.uint16 and stream.size > 500
        assert stream.max() < 300
        assert np.array_equal(stream, getattr(again, name))
    assert not np.array_equal(first.docs_val[:200], first.code_val[:200])


def test_the_documentation_is_english_prose() -> None:
    text = corpus.docs_files()[0].read_text(encoding="utf-8")
    assert " the " in text
