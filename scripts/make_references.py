#!/usr/bin/env python3
"""Reference outputs from transformers, committed as the kit's test fixtures.

Runs on the GPU machine (torch, transformers, tokenizers), on its CPU in float64 so that the
references are more exact than anything the kit computes in fp32.

For the embedded model (a checkpoint folder):
  - logits of every position for a few token sequences, and the conv/SSM states after them;
  - greedy continuations (32 tokens) of a few prompts;
  - the mean next-token NLL of a held-out text;
  - tokenizer ids for a few texts (checks the TypeScript tokenizer against the Rust one).
(Small random checkpoints that exercise the config fields that change the math are made from
seeds by scripts/make_seeded_references.py, which commits their outputs, not their weights.)

Usage:
  python3 scripts/make_references.py --model DIR --heldout FILE --neox TOKENIZER_JSON --out DIR
"""

import argparse
import json
import os

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import MambaForCausalLM

PROMPTS = [
    "The Time Traveller",
    "It was a dark and stormy night, and",
    "\"I shall go to London tomorrow,\" said",
]
TOKENIZER_CASES = [
    "Hello, world!",
    "  two leading spaces and trailing  ",
    "Numbers 1234567 and 3.14159; punctuation -- \"quotes\" (parens).",
    "Line one\nLine two\n\nNew paragraph\ttab",
    "Unicode: caf\u00e9, na\u00efve, \u00fcber, \u2014 dash, \u201ccurly\u201d, \u4e2d\u6587, emoji \U0001F600",
    "",
]


def forward(model, ids):
    """logits [L, V] (float64) and the per-layer (conv, ssm) states after the sequence."""
    x = torch.tensor([ids])
    with torch.no_grad():
        try:
            out = model(x, use_cache=True)
        except Exception as e:  # cache API differs across transformers versions
            print(f"forward with cache failed ({e}); without")
            out = model(x, use_cache=False)
    cache = getattr(out, "cache_params", None)
    states = {}
    try:
        for i in range(model.config.num_hidden_layers):
            if hasattr(cache, "conv_states"):  # transformers 4.x MambaCache
                conv, ssm = cache.conv_states[i], cache.ssm_states[i]
            else:  # transformers 5.x DynamicCache of LinearAttentionLayer (state index 0)
                conv, ssm = cache.layers[i].conv_states[0], cache.layers[i].recurrent_states[0]
            states[f"conv.{i}"] = conv[0].float().contiguous()  # [D, K]
            states[f"ssm.{i}"] = ssm[0].float().contiguous()  # [D, N]
    except Exception as e:  # cache layout differs across transformers versions
        print(f"no states from the cache: {e}")
    return out.logits[0], states


def greedy(model, ids, n):
    ids = list(ids)
    new = []
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([ids])).logits[0, -1]
            nxt = int(torch.argmax(logits))
            ids.append(nxt)
            new.append(nxt)
    return new


def load64(path):
    model = MambaForCausalLM.from_pretrained(path)
    return model.double().eval()


def embedded(args):
    model = load64(args.model)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    held = open(args.heldout, encoding="utf-8").read()
    seq_text = held[20000:21000]
    all_ids = tok.encode(seq_text).ids
    seqs = [all_ids[:1], all_ids[10:19], all_ids[100:148]]
    tensors, seq_meta = {}, []
    for k, ids in enumerate(seqs):
        logits, states = forward(model, ids)
        tensors[f"logits.{k}"] = logits.float().contiguous()
        for name, t in states.items():
            tensors[f"{name}.seq{k}"] = t
        seq_meta.append({"ids": ids})
    gens = []
    for p in PROMPTS:
        ids = tok.encode(p).ids
        gens.append({"prompt": p, "prompt_ids": ids, "continuation_ids": greedy(model, ids, 32),
                     "continuation": None})
        gens[-1]["continuation"] = tok.decode(gens[-1]["continuation_ids"])
        print(f"greedy: {p!r} -> {gens[-1]['continuation']!r}")
    nll_text = held[:6000]
    nll_ids = tok.encode(nll_text).ids[:1024]
    with torch.no_grad():
        logits = model(torch.tensor([nll_ids])).logits[0]
        logp = torch.log_softmax(logits[:-1], -1)
        nll = -logp.gather(1, torch.tensor(nll_ids[1:])[:, None]).mean().item()
    print(f"held-out NLL over {len(nll_ids)} tokens: {nll:.6f} (ppl {torch.tensor(nll).exp():.2f})")
    cases = [{"text": t, "ids": tok.encode(t).ids} for t in TOKENIZER_CASES]
    neox = Tokenizer.from_file(args.neox)
    neox_cases = [{"text": t, "ids": neox.encode(t).ids} for t in TOKENIZER_CASES + [held[:2000]]]
    save_file(tensors, os.path.join(args.out, "embedded_reference.safetensors"))
    meta = {
        "about": "transformers MambaForCausalLM in float64 on CPU; logits.K are [len, vocab] float32",
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "sequences": seq_meta,
        "greedy": gens,
        "heldout": {"text": nll_text, "ids": nll_ids, "mean_nll": nll},
        "tokenizer_cases": cases,
        "neox_tokenizer_cases": neox_cases,
    }
    with open(os.path.join(args.out, "embedded_reference.json"), "w") as f:
        json.dump(meta, f, separators=(",", ":"))  # compact: tracked files stay under 10 MiB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--neox", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    embedded(args)


if __name__ == "__main__":
    main()
