"""Bad inputs of the SpikeGPT area (text corpora, tokenizers, generation) give one-line errors."""

from __future__ import annotations

import pytest

from snnlab.data import create_dataset
from snnlab.data import text as T
from snnlab.errors import ConfigError, DataError


def _wiki(tmp_path, train: bytes):
    (tmp_path / "wiki.train.tokens").write_bytes(train)
    for split in ("valid", "test"):
        (tmp_path / f"wiki.{split}.tokens").write_text("enough text for one window " * 10)
    return str(tmp_path)


@pytest.mark.parametrize(
    "content,match",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x00\x01\x02binary\x00" * 50, "binary"),
        (b"\xff\xfe not utf8 " * 20, "not UTF-8"),
    ],
)
def test_bad_corpus_files(tmp_path, content, match):
    with pytest.raises(DataError, match=match) as err:
        create_dataset("wikitext103", _wiki(tmp_path, content), "train", ctx_len=8)
    assert "\n" not in str(err.value) and "wiki.train.tokens" in str(err.value)


@pytest.mark.parametrize("name", ["enwik8", "wikitext103"])
def test_missing_files_and_root(tmp_path, name):
    with pytest.raises(DataError, match="not found"):
        create_dataset(name, str(tmp_path), "train")
    with pytest.raises(ConfigError, match="data.root"):
        create_dataset(name, None, "train")


def test_corpus_shorter_than_a_window_and_bad_split_and_options(tmp_path):
    root = _wiki(tmp_path, b"short")
    with pytest.raises(DataError, match="fewer than one window"):
        create_dataset("wikitext103", root, "train", ctx_len=64)
    with pytest.raises(DataError, match="valid splits"):
        create_dataset("wikitext103", root, "dev", ctx_len=4)
    with pytest.raises(ConfigError, match="ctx_len"):
        create_dataset("wikitext103", root, "valid", ctx_len=0)


def test_character_outside_the_vocabulary():
    with pytest.raises(DataError, match="not in the vocabulary"):
        T.CharVocab.from_text("abc").encode("abz")


def test_tokenizer_file_missing_or_broken(tmp_path):
    pytest.importorskip("tokenizers")
    with pytest.raises(DataError, match="tokenizer file not found"):
        T.BPEVocab(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not a readable tokenizer.json"):
        T.BPEVocab(tmp_path / "bad.json")


def test_not_a_tar(tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a readable"):
        T.read_plays(tmp_path / "x.tar.gz")


@pytest.mark.parametrize(
    "prompt,tokens,temperature,top_p,match",
    [
        ([], 5, 1.0, None, "empty"),
        (list(range(40)), 5, 1.0, None, "longer than the model's context of 32"),
        ([1, 2], 0, 1.0, None, "--tokens"),
        ([1, 2], 5, -1.0, None, "--temperature"),
        ([1, 2], 5, float("nan"), None, "--temperature"),
        ([1, 2], 5, 1.0, 0.0, "--top-p"),
        ([1, 2], 5, 1.0, 1.5, "--top-p"),
    ],
)
def test_bad_generation_arguments(prompt, tokens, temperature, top_p, match):
    from snnlab.inference.generate import check_generation_args

    with pytest.raises(ConfigError, match=match):
        check_generation_args(prompt, tokens, temperature, top_p, 32, "recurrent")


def test_bad_model_sizes_and_tokens():
    import torch

    from snnlab.errors import ShapeError
    from snnlab.models import create_model

    with pytest.raises(ConfigError, match="dim"):
        create_model("spikegpt", dim=0)
    with pytest.raises(ConfigError, match="rescale_every"):
        create_model("spikegpt", rescale_every=-1)
    with pytest.raises(ShapeError, match="longer than ctx_len"):
        create_model("spikegpt", ctx_len=4)(torch.zeros(5, 1, dtype=torch.long))
