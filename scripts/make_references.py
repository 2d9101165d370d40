#!/usr/bin/env python3
"""Reference outputs from transformers, committed as the kit's test fixtures.

Runs on the GPU machine (torch, transformers, tokenizers), on its CPU in float64 so that the
references are more exact than anything the kit computes in fp32.

For the embedded model (a checkpoint folder):
  - logits of every position for a few token sequences, and the conv/SSM states after them;
  - greedy continuations (32 tokens) of a few prompts;
  - the mean next-token NLL of a held-out text;
  - tokenizer ids for a few texts (checks the TypeScript tokenizer against the Rust one).
For small random checkpoints that exercise the config fields that change the math (bias flags,
untied/tied embeddings, time_step_rank, conv_kernel, padded vocabulary, BF16 and F32 storage,
sharded files): the checkpoint itself and its logits and states.

Usage:
  python3 scripts/make_references.py --model DIR --heldout FILE --neox TOKENIZER_JSON --out DIR
"""

import argparse
import json
import os
import zlib

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import MambaConfig, MambaForCausalLM

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
        json.dump(meta, f, indent=1)


VARIANTS = {
    # untied lm_head, biases everywhere, numeric time_step_rank, F32 storage
    "tiny_f32_untied": dict(vocab_size=100, hidden_size=32, state_size=8, num_hidden_layers=2, expand=2,
                            conv_kernel=4, time_step_rank=3, use_bias=True, use_conv_bias=True,
                            residual_in_fp32=True, layer_norm_epsilon=1e-5, tie_word_embeddings=False,
                            dtype=torch.float32, shard=None),
    # tied, no biases, conv_kernel 3, expand 3, 'auto' rank, eps 1e-3, BF16 storage, sharded files
    "tiny_bf16_sharded": dict(vocab_size=104, hidden_size=48, state_size=4, num_hidden_layers=3, expand=3,
                              conv_kernel=3, time_step_rank="auto", use_bias=False, use_conv_bias=False,
                              residual_in_fp32=False, layer_norm_epsilon=1e-3, tie_word_embeddings=True,
                              dtype=torch.bfloat16, shard="40KB"),
}


def variant(name, spec, out_root):
    torch.manual_seed(zlib.crc32(name.encode()) % 1000)  # str hash() is salted per process
    spec = dict(spec)
    dtype, shard = spec.pop("dtype"), spec.pop("shard")
    config = MambaConfig(**spec, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    model = MambaForCausalLM(config)
    with torch.no_grad():  # make every tensor matter: random weights far from the init
        for pname, p in model.named_parameters():
            if pname.endswith("A_log"):
                p.add_(0.3 * torch.randn_like(p))
            elif pname.endswith("dt_proj.bias"):
                p.add_(0.5 * torch.randn_like(p))
            else:
                p.add_(0.15 * torch.randn_like(p))
    folder = os.path.join(out_root, name)
    model = model.to(dtype)
    kw = {"safe_serialization": True}
    if shard:
        kw["max_shard_size"] = shard
    model.save_pretrained(folder, **kw)
    model = load64(folder)
    ids = torch.randint(0, spec["vocab_size"], (23,)).tolist()
    logits, states = forward(model, ids)
    tensors = {"logits": logits.float().contiguous(), **{f"{k}.seq0": v for k, v in states.items()}}
    save_file(tensors, os.path.join(folder, "reference.safetensors"))
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump({"ids": ids, "greedy_prompt": ids[:5], "greedy": greedy(model, ids[:5], 8)}, f)
    print(f"variant {name}: {sorted(os.listdir(folder))}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--neox", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, spec in VARIANTS.items():
        variant(name, spec, os.path.join(args.out, "variants"))
    embedded(args)


if __name__ == "__main__":
    main()
