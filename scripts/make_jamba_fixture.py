#!/usr/bin/env python3
"""Train the kit's tiny Jamba fixture and compute transformers' reference outputs for it.

A hybrid attention–Mamba–MoE model with shapes as odd as a trained model can have: 5 layers,
attention at layers 1 and 4 (not 0) with grouped-query attention (4 heads of 9, 2 kv heads), a
mixture of 3 experts (top-2, weights not renormalised) at layers 1 and 3 and dense MLPs
elsewhere, Mamba-1 mixers with RMSNorms on dt, B and C at layers 0, 2, 3 with d_inner 72 (not a
power of two), an untied head, and a 300-row embedding for a 296-token byte-level BPE. It is
small on purpose (~110k parameters, F16): the tracked files stay under 10 MiB.

Runs on the GPU machine (torch, transformers, tokenizers; no network):
  1. the Gutenberg books of ../shared/data (as scripts/train_fixture.py reads them), The Time
     Machine held out; a 296-token byte-level BPE;
  2. JambaForCausalLM (use_mamba_kernels=False) trained with its Mamba mixers' sequential scan
     replaced by a parallel one (checked equal to transformers' own forward first);
  3. saved as the hub stores Jamba (experts one by one: feed_forward.experts.{j}.*_proj.weight),
     F16; then, from that file, in float64 with eager attention and experts: logits of two
     held-out sequences, greedy continuations, the held-out NLL.

  python3 scripts/make_jamba_fixture.py --corpus .train/corpus --out DIR --minutes 3
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_seeded_references import eager, greedy, legacy_specs  # noqa: E402
from train_fixture import EOT, encode_books, parallel_scan, read_corpus, train_tokenizer  # noqa: E402

CONFIG = dict(
    vocab_size=300, hidden_size=36, intermediate_size=48, num_hidden_layers=5,
    num_attention_heads=4, num_key_value_heads=2, attn_layer_period=3, attn_layer_offset=1,
    expert_layer_period=2, expert_layer_offset=1, num_experts=3, num_experts_per_tok=2,
    mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank="auto", mamba_conv_bias=True,
    mamba_proj_bias=False, tie_word_embeddings=False, rms_norm_eps=1e-6, use_mamba_kernels=False,
    pad_token_id=0, bos_token_id=0, eos_token_id=0, max_position_embeddings=4096,
)
PROMPTS = ["The Time Traveller", "It was a dark and stormy night, and", "\"I shall go to London tomorrow,\" said"]


def fast_mixer(m, x):
    """JambaMambaMixer.slow_forward without a cache, with a parallel scan: x [B, L, d]."""
    L = x.shape[1]
    xs, gate = m.in_proj(x).transpose(1, 2).chunk(2, dim=1)  # [B, D, L]
    u = m.act(m.conv1d(xs)[..., :L])
    dt_low, Bm, Cm = torch.split(m.x_proj(u.transpose(1, 2)),
                                 [m.time_step_rank, m.ssm_state_size, m.ssm_state_size], -1)
    dt_low, Bm, Cm = m.dt_layernorm(dt_low), m.b_layernorm(Bm), m.c_layernorm(Cm)
    dt = F.softplus(m.dt_proj(dt_low)).transpose(1, 2).float()  # [B, D, L]
    A = -torch.exp(m.A_log.float())
    dA = torch.exp(A[None, :, None, :] * dt[..., None])
    dBu = dt[..., None] * Bm[:, None, :, :].float() * u[..., None].float()
    h = parallel_scan(dA, dBu)
    y = (h * Cm[:, None, :, :].float()).sum(-1) + u.float() * m.D[None, :, None].float()
    y = y * m.act(gate.float())
    return m.out_proj(y.transpose(1, 2).to(x.dtype))


def use_fast_scan(model, on: bool):
    from transformers.models.jamba import modeling_jamba as mj

    if not hasattr(mj.JambaMambaMixer, "_orig_forward"):
        mj.JambaMambaMixer._orig_forward = mj.JambaMambaMixer.forward
    if on:
        mj.JambaMambaMixer.forward = lambda self, hidden_states, cache_params=None, attention_mask=None: \
            fast_mixer(self, hidden_states)
    else:
        mj.JambaMambaMixer.forward = mj.JambaMambaMixer._orig_forward


def save_hub_format(model, out):
    """The state dict with experts one by one (as the hub's Jamba checkpoints), F16."""
    sd = model.state_dict()
    tensors = {}
    for name, shape in legacy_specs(model, model.config.tie_word_embeddings):
        parts = name.split(".")
        if ".experts." in name and parts[-3].isdigit():
            j, proj = int(parts[-3]), parts[-2]
            prefix = ".".join(parts[:-3])
            if proj == "down_proj":
                t = sd[f"{prefix}.down_proj"][j]
            else:
                gu = sd[f"{prefix}.gate_up_proj"][j]
                half = gu.shape[0] // 2
                t = gu[:half] if proj == "gate_proj" else gu[half:]
            assert list(t.shape) == shape, (name, t.shape, shape)
        else:
            t = sd[name]
        tensors[name] = t.detach().to("cpu", torch.float16).contiguous()
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    return tensors


def load_hub_format(config, path):
    """A float64 JambaForCausalLM from the hub-format file (experts packed as this version wants)."""
    from transformers import JambaForCausalLM

    from make_seeded_references import assign

    model = JambaForCausalLM(config)
    values = {k: v.double().flatten().tolist() for k, v in load_file(path).items()}
    assign(model, values)
    return eager(model.double().eval())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=4e-3)
    args = ap.parse_args()
    t_start = time.time()
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(args.out, exist_ok=True)
    train_texts, held_text = read_corpus(args.corpus)
    tok = train_tokenizer(train_texts, 296)
    data = encode_books(tok, train_texts)
    held_ids = encode_books(tok, [held_text])
    print(f"tokenizer: {tok.get_vocab_size()} tokens; train {len(data)} tokens ({time.time() - t_start:.0f}s)",
          flush=True)
    assert tok.get_vocab_size() <= CONFIG["vocab_size"]

    from transformers import JambaConfig, JambaForCausalLM

    config = JambaConfig(**CONFIG)
    model = JambaForCausalLM(config).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters; layers {config.layers_block_type}, experts {config.layers_num_experts}",
          flush=True)
    with torch.no_grad():
        probe = data[: 2 * 64].view(2, 64).to(dev)
        use_fast_scan(model, False)
        ref = model(probe, use_cache=False).logits.float()
        use_fast_scan(model, True)
        ours = model(probe, use_cache=False).logits.float()
        err = ((ref - ours).abs().max() / ref.abs().max()).item()
        print(f"parallel scan vs transformers: max rel err {err:.2e}", flush=True)
        assert err < 1e-4

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.05)
    data_dev, n = data.to(dev), len(data) - args.seq - 1
    step, t0, log = 0, time.time(), []
    model.train()
    while (frac := (time.time() - t0) / (args.minutes * 60)) < 1:
        lr = args.lr * min(1.0, (step + 1) / 50) * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, n, (args.batch,), device=dev)
        batch = data_dev[starts[:, None] + torch.arange(args.seq + 1, device=dev)[None, :]]
        logits = model(batch[:, :-1], use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0 or step == 1:
            log.append({"step": step, "seconds": round(time.time() - t0, 1), "lr": lr, "loss": round(loss.item(), 4)})
            print(json.dumps(log[-1]), flush=True)
    model.eval()
    use_fast_scan(model, False)
    model = model.to("cpu")
    save_hub_format(model, args.out)
    config.save_pretrained(args.out)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": EOT, "eos_token": EOT, "unk_token": EOT, "add_bos_token": False,
                   "add_eos_token": False, "model_max_length": 4096,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)

    # references, from the saved F16 file, in float64
    ref_model = load_hub_format(config, os.path.join(args.out, "model.safetensors"))
    held = tok.encode(held_text[20000:24000]).ids
    seqs = [held[:1], held[40:69]]
    tensors = {}
    with torch.no_grad():
        for k, ids in enumerate(seqs):
            tensors[f"logits.{k}"] = ref_model(torch.tensor([ids])).logits[0].float().contiguous()
        nll_ids = tok.encode(held_text[:4000]).ids[:512]
        lp = torch.log_softmax(ref_model(torch.tensor([nll_ids])).logits[0, :-1], -1)
        nll = -lp.gather(1, torch.tensor(nll_ids[1:])[:, None]).mean().item()
    gens = []
    for p in PROMPTS:
        ids = tok.encode(p).ids
        cont = greedy(ref_model, ids, 32)
        gens.append({"prompt": p, "prompt_ids": ids, "continuation_ids": cont, "continuation": tok.decode(cont)})
        print(f"greedy: {p!r} -> {gens[-1]['continuation']!r}", flush=True)
    print(f"held-out NLL {nll:.4f} over {len(nll_ids)} tokens", flush=True)
    save_file(tensors, os.path.join(args.out, "reference.safetensors"))
    import transformers

    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({"about": "transformers JambaForCausalLM in float64 (eager attention and experts), from "
                            "model.safetensors; logits.K are [len, vocab] float32",
                   "transformers": transformers.__version__, "torch": torch.__version__,
                   "sequences": [{"ids": s} for s in seqs], "greedy": gens,
                   "heldout": {"ids": nll_ids, "mean_nll": nll}}, f, separators=(",", ":"))  # compact: tracked files stay under 10 MiB
    with open(os.path.join(args.out, "training_log.json"), "w") as f:
        json.dump({"args": vars(args), "parameters": n_params, "steps": step,
                   "tokens_seen": step * args.batch * args.seq, "train_tokens": len(data),
                   "heldout_tokens": len(held_ids), "torch": torch.__version__, "log": log}, f, separators=(",", ":"))  # compact: tracked files stay under 10 MiB
    print(f"saved {sorted(os.listdir(args.out))} ({time.time() - t_start:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
