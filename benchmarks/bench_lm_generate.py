"""Generation speed of a trained language-model run: recurrent mode vs recomputing the prefix.

Recurrent mode carries the state and does the same work for every new token; parallel mode runs
the whole prefix (up to ``ctx_len`` tokens) through the parallel forward for every token, as a
model without a recurrent form must. Same run, same prompt, same sampling, one process.

Usage: ``python benchmarks/bench_lm_generate.py RUN [--tokens 200] [--prompt TEXT]``
"""

from __future__ import annotations

import argparse
import json

import torch

from snnlab.commands.lm import load_lm
from snnlab.inference.generate import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--prompt", default="ROMEO.\n")
    opt = parser.parse_args()
    loaded, ds, _ = load_lm(opt.run, "best")
    ids = [int(i) for i in ds.vocab.encode(opt.prompt)]
    rows = {}
    for mode in ("recurrent", "parallel"):
        result = generate(
            loaded.model, ids, opt.tokens, temperature=0.8, top_p=0.9, seed=0, mode=mode, decode=ds.vocab.decode
        )
        rows[mode] = {"tokens_per_s": result.tokens_per_s, "seconds": result.seconds, "text": result.text}
        print(f"{mode:9s}: {result.tokens_per_s:8.1f} tokens/s ({opt.tokens} tokens in {result.seconds:.2f} s)")
    same = rows["recurrent"]["text"] == rows["parallel"]["text"]
    print(
        f"recurrent / parallel speed: {rows['recurrent']['tokens_per_s'] / rows['parallel']['tokens_per_s']:.1f}x; "
        f"same text from both modes: {same}; torch threads {torch.get_num_threads()}"
    )
    print(json.dumps({m: {k: v for k, v in r.items() if k != "text"} for m, r in rows.items()}))
    print("sample (recurrent):\n" + opt.prompt + rows["recurrent"]["text"])


if __name__ == "__main__":
    main()
