#!/usr/bin/env python3
"""Reference log-likelihoods for `loglikelihood` (lib/eval/), computed with transformers.

Runs on the GPU machine's CPU in float64. The lm-evaluation-harness rules are re-implemented here
from lm-eval's `HFLM` (`loglikelihood`, `_encode_pair`, `_loglikelihood_tokens`), independently of
the TypeScript code:

  - an empty context becomes the prefix token (`<|endoftext|>`), and the continuation is encoded
    alone;
  - otherwise trailing whitespace of the context (Python's `str.rstrip()`) moves to the front of
    the continuation; `whole = encode(context + continuation)`, `ctx = encode(context)`, and the
    continuation tokens are `whole[len(ctx):]`;
  - the model input is `(ctx + cont)[-(max_length + 1):][:-1]`; the log-probabilities of the
    continuation are read at the last `len(cont)` positions;
  - lm-eval asserts a non-empty context encoding, a non-empty continuation and
    `len(cont) <= max_length`; such requests are recorded with an `error` instead.

Also records, for the GPT-NeoX tokenizer (the real Mamba checkpoints'), the token split of each
request, to check the TypeScript tokenizer path against the Rust one.

Usage:
  python3 make_eval_references.py --model DIR [--neox TOKENIZER_JSON] --out FILE
"""

import argparse
import json
import os

import torch
from tokenizers import Tokenizer
from transformers import MambaForCausalLM

LONG = (
    "The Time Traveller (for so it will be convenient to speak of him) was expounding a "
    "recondite matter to us. His grey eyes shone and twinkled, and his usually pale face was "
    "flushed and animated."
)

# (context, continuation, max_length)
REQUESTS = [
    ("The Time Traveller", " was", 2048),
    ("The Time Traveller ", "was", 2048),
    ("It was a dark and stormy night,   ", "and the rain fell in torrents", 2048),
    ("", "The Time Traveller", 2048),
    ("", " Hello there", 2048),
    ("Question: What is the capital of France?\nAnswer:", " Paris", 2048),
    ("He said", ' "I shall go to London tomorrow," and left the room.', 2048),
    ("First line\n", "Second line", 2048),
    ("Tabs and newlines \t\n ", "stay with the continuation", 2048),
    ("Unicode: caf\u00e9,", " na\u00efve \u00fcber \u2014 dash", 2048),
    ("The quick brown fox jumps over the", " lazy dog", 2048),
    ("Mr. Sherlock Holmes, who was usually very late in the mornings,", " sat", 2048),
    (LONG, " It was", 16),
    (LONG, " It was", 8),
    (LONG, " The fire burned brightly", 6),
    (LONG + " ", "Then he", 4),
    ("", "Short text", 4),
    ("", LONG, 8),
    (LONG, " and", 1),
    ("   ", "only spaces in the context", 2048),
    ("A context", "", 2048),
    # greedy continuations of the embedded model (isGreedy should be true)
    ("The Time Traveller", "'s, and", 2048),
    ("It was a dark and stormy night, and", " the night was full", 2048),
    ("Mr. Sherlock Holmes said ", "he,", 2048),
    ("She opened the door and", " saw nothing but the empty street and the rain.", 2048),
]

def encode_pair(tok, prefix_id, context, continuation):
    if context == "":
        return [prefix_id], tok.encode(continuation, add_special_tokens=False).ids
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tok.encode(context + continuation, add_special_tokens=False).ids
    ctx = tok.encode(context, add_special_tokens=False).ids
    return ctx, whole[len(ctx):]


def score(model, ctx, cont, max_length):
    if len(ctx) == 0:
        raise ValueError("empty context encoding")
    if len(cont) == 0:
        raise ValueError("empty continuation encoding")
    if len(cont) > max_length:
        raise ValueError("continuation longer than max_length")
    inp = (ctx + cont)[-(max_length + 1):][:-1]
    with torch.no_grad():
        try:
            logits = model(torch.tensor([inp]), use_cache=False).logits[0].double()
        except TypeError:
            logits = model(torch.tensor([inp])).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)[len(inp) - len(cont):len(inp)]
    target = torch.tensor(cont)
    greedy = bool((logp.argmax(dim=-1) == target).all())
    lp = float(logp.gather(1, target[:, None]).sum())
    return inp, lp, greedy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--neox")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    prefix_id = tok.token_to_id("<|endoftext|>")
    model = MambaForCausalLM.from_pretrained(args.model).double().eval()
    neox = Tokenizer.from_file(args.neox) if args.neox else None
    neox_prefix = neox.token_to_id("<|endoftext|>") if neox else None
    out = []
    for context, continuation, max_length in REQUESTS:
        ctx, cont = encode_pair(tok, prefix_id, context, continuation)
        row = {
            "context": context,
            "continuation": continuation,
            "maxLength": max_length,
            "contextTokens": ctx,
            "continuationTokens": cont,
        }
        try:
            inp, lp, greedy = score(model, ctx, cont, max_length)
            row.update({"inputTokens": inp, "logprob": lp, "isGreedy": greedy})
        except ValueError as e:
            row["error"] = str(e)
        if neox:
            nctx, ncont = encode_pair(neox, neox_prefix, context, continuation)
            row["neox"] = {"contextTokens": nctx, "continuationTokens": ncont}
        print(json.dumps({k: row.get(k) for k in ("maxLength", "logprob", "isGreedy", "error")}))
        out.append(row)
    meta = {
        "made_by": "scripts/make_eval_references.py",
        "model": os.path.basename(os.path.abspath(args.model)),
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "tokenizers": __import__("tokenizers").__version__,
        "dtype": "float64 (CPU)",
        "prefix_token_id": prefix_id,
        # the characters Python's str.rstrip() removes (str.isspace), for the TypeScript rule
        "python_whitespace": [c for c in range(0x110000) if chr(c).isspace()],
        "requests": out,
    }
    with open(args.out, "w") as f:
        json.dump(meta, f, separators=(",", ":"), ensure_ascii=False)  # compact: tracked files stay under 10 MiB


if __name__ == "__main__":
    main()
