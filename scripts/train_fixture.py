#!/usr/bin/env python3
"""Train the kit's embedded model: a small Mamba-1 language model on public-domain English.

Runs on the GPU machine (torch, transformers, tokenizers; no network). Steps:
  1. read the Gutenberg books, strip the Project Gutenberg header and footer, unwrap paragraphs;
     hold one whole book out (The Time Machine) for evaluation;
  2. train a byte-level BPE tokenizer (GPT-NeoX style, <|endoftext|> = 0);
  3. train `MambaForCausalLM` with a parallel (Hillis-Steele) selective scan written here, because
     transformers' sequential fallback scan is ~10x slower without mamba_ssm; the scan is checked
     against transformers' own forward before training starts;
  4. save the checkpoint in Hugging Face format with F16 storage, plus a training log.

Usage (GPU machine):
  python3 scripts/train_fixture.py --corpus .train/corpus --out /tmp/work/embedded --minutes 5.5
"""

import argparse
import glob
import json
import math
import os
import re
import time

import torch
import torch.nn.functional as F

HELD_OUT = "pg35_The-Time-Machine.txt"
EOT = "<|endoftext|>"


def clean_book(raw: str) -> str:
    """Text between the Gutenberg START/END markers, paragraphs unwrapped, '\n\n' between them."""
    text = raw.replace("\r\n", "\n")
    start = re.search(r"\*\*\* ?START OF TH(IS|E) PROJECT GUTENBERG EBOOK[^\n]*\n", text)
    if start:
        text = text[start.end():]
    end = re.search(r"\*\*\* ?END OF TH(IS|E) PROJECT GUTENBERG EBOOK", text)
    if end:
        text = text[: end.start()]
    paras = []
    for block in re.split(r"\n\s*\n", text):
        line = " ".join(block.split())
        if line:
            paras.append(line)
    return "\n\n".join(paras)


def read_corpus(corpus_dir: str):
    train, held = [], None
    for path in sorted(glob.glob(os.path.join(corpus_dir, "*.txt"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = clean_book(f.read())
        if os.path.basename(path) == HELD_OUT:
            held = text
        else:
            train.append(text)
    assert held is not None, f"held-out book {HELD_OUT} not found in {corpus_dir}"
    return train, held


def train_tokenizer(texts, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )

    def paragraphs():
        for t in texts:
            yield from t.split("\n\n")

    tok.train_from_iterator(paragraphs(), trainer)
    return tok


def encode_books(tok, texts):
    """One long stream: each book's paragraphs joined by '\n\n', books separated by <|endoftext|>."""
    eot = tok.token_to_id(EOT)
    out = []
    for t in texts:
        paras = t.split("\n\n")
        # encode paragraph by paragraph (fast, parallel); '\n\n' re-attached to the paragraph end
        encs = tok.encode_batch([p + "\n\n" for p in paras])
        for e in encs:
            out.extend(e.ids)
        out.append(eot)
    return torch.tensor(out, dtype=torch.int64)


# ---------------------------------------------------------------------------------------------
# fast forward of transformers' MambaForCausalLM parameters (same math as MambaMixer.slow_forward)


def parallel_scan(dA, dBu):
    """h_t = dA_t * h_{t-1} + dBu_t along dim 2 (time), h_{-1} = 0; Hillis-Steele, log2(L) steps."""
    a, b = dA, dBu
    L = a.shape[2]
    k = 1
    while k < L:
        b = torch.cat([b[:, :, :k], a[:, :, k:] * b[:, :, :-k] + b[:, :, k:]], dim=2)
        a = torch.cat([a[:, :, :k], a[:, :, k:] * a[:, :, :-k]], dim=2)
        k *= 2
    return b


def mixer_forward(m, x):
    """x: [B, L, d_model] -> [B, L, d_model], m: a transformers MambaMixer."""
    Bsz, L, _ = x.shape
    xz = m.in_proj(x).transpose(1, 2)  # [B, 2*D, L]
    xs, gate = xz.chunk(2, dim=1)  # [B, D, L] each
    u = F.silu(m.conv1d(xs)[..., :L])  # [B, D, L]
    ssm_p = m.x_proj(u.transpose(1, 2))  # [B, L, R+2N]
    dt_low, Bm, Cm = torch.split(ssm_p, [m.time_step_rank, m.ssm_state_size, m.ssm_state_size], -1)
    dt = F.softplus(m.dt_proj(dt_low)).transpose(1, 2).float()  # [B, D, L]
    A = -torch.exp(m.A_log.float())  # [D, N]
    dA = torch.exp(A[None, :, None, :] * dt[..., None])  # [B, D, L, N]
    dBu = dt[..., None] * Bm[:, None, :, :].float() * u[..., None].float()  # [B, D, L, N]
    h = parallel_scan(dA, dBu)  # [B, D, L, N]
    y = (h * Cm[:, None, :, :].float()).sum(-1)  # [B, D, L]
    y = y + u.float() * m.D[None, :, None].float()
    y = y * F.silu(gate.float())
    return m.out_proj(y.transpose(1, 2).to(x.dtype))


def rmsnorm(norm, x):
    var = x.float().pow(2).mean(-1, keepdim=True)
    return norm.weight * (x.float() * torch.rsqrt(var + norm.variance_epsilon)).to(norm.weight.dtype)


def fast_logits(model, ids):
    bb = model.backbone
    h = bb.embeddings(ids)
    residual_fp32 = model.config.residual_in_fp32
    for layer in bb.layers:
        residual = h.float() if residual_fp32 else h
        h = residual + mixer_forward(layer.mixer, rmsnorm(layer.norm, h))
    h = rmsnorm(bb.norm_f, h)
    return model.lm_head(h)


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="/tmp/work/cache")
    ap.add_argument("--minutes", type=float, default=5.5)
    ap.add_argument("--vocab", type=int, default=4090, help="tokenizer vocabulary (embedding is padded to a multiple of 8)")
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t_start = time.time()
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)

    train_texts, held_text = read_corpus(args.corpus)
    tok_path = os.path.join(args.work, "tokenizer.json")
    ids_path = os.path.join(args.work, "ids.pt")
    from tokenizers import Tokenizer

    if os.path.exists(tok_path) and os.path.exists(ids_path):
        tok = Tokenizer.from_file(tok_path)
        data = torch.load(ids_path)
    else:
        tok = train_tokenizer(train_texts, args.vocab)
        tok.save(tok_path)
        data = encode_books(tok, train_texts)
        torch.save(data, ids_path)
    held_ids = encode_books(tok, [held_text])
    print(f"tokenizer: {tok.get_vocab_size()} tokens; train {len(data)} tokens, held out {len(held_ids)}"
          f" ({time.time() - t_start:.0f}s)", flush=True)

    from transformers import MambaConfig, MambaForCausalLM

    vocab_padded = (tok.get_vocab_size() + 7) // 8 * 8
    config = MambaConfig(
        vocab_size=vocab_padded,
        hidden_size=args.d_model,
        state_size=16,
        num_hidden_layers=args.layers,
        expand=2,
        conv_kernel=4,
        time_step_rank="auto",
        use_bias=False,
        use_conv_bias=True,
        residual_in_fp32=True,
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    model = MambaForCausalLM(config).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters, config {config.to_dict()}", flush=True)

    # the fast scan must equal transformers' forward before we train with it
    with torch.no_grad():
        probe = data[:2 * 64].view(2, 64).to(dev)
        ref = model(probe).logits.float()
        ours = fast_logits(model, probe).float()
        err = (ref - ours).abs().max().item() / ref.abs().max().item()
        print(f"fast scan vs transformers forward: max rel err {err:.2e}", flush=True)
        assert err < 1e-4, "fast scan disagrees with transformers"

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 and "conv1d" not in name else no_decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), fused=dev == "cuda")
    budget = args.minutes * 60
    data_dev = data.to(dev)
    held_dev = held_ids.to(dev)
    n = len(data) - args.seq - 1
    log = []
    step, t0 = 0, time.time()
    warmup = 100

    def held_loss():
        model.eval()
        with torch.no_grad(), torch.autocast(dev, dtype=torch.bfloat16):
            chunk = held_dev[: (min(len(held_dev) - 1, 32 * 512) // 512) * 512 + 1]
            x = chunk[:-1].view(-1, 512)
            y = chunk[1:].view(-1, 512)
            lg = fast_logits(model, x).float()
            loss = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), y.reshape(-1)).item()
        model.train()
        return loss

    model.train()
    while True:
        frac = (time.time() - t0) / budget
        if frac >= 1:
            break
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, n, (args.batch,), device=dev)
        idx = starts[:, None] + torch.arange(args.seq + 1, device=dev)[None, :]
        batch = data_dev[idx]
        with torch.autocast(dev, dtype=torch.bfloat16):
            logits = fast_logits(model, batch[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 200 == 0 or step == 1:
            entry = {"step": step, "seconds": round(time.time() - t0, 1), "lr": lr, "train_loss": round(loss.item(), 4)}
            if step % 1000 == 0:
                entry["heldout_loss"] = round(held_loss(), 4)
            log.append(entry)
            print(json.dumps(entry), flush=True)
    final_held = held_loss()
    log.append({"step": step, "seconds": round(time.time() - t0, 1), "heldout_loss": round(final_held, 4)})
    print(f"trained {step} steps ({step * args.batch * args.seq / 1e6:.1f}M tokens) in {time.time() - t0:.0f}s;"
          f" held-out loss {final_held:.4f}", flush=True)

    # save in Hugging Face format, F16 storage (the kit loads F16/BF16/F32)
    model = model.to("cpu").half()
    model.save_pretrained(args.out, safe_serialization=True)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": EOT, "eos_token": EOT, "unk_token": EOT, "add_bos_token": False,
                   "add_eos_token": False, "model_max_length": 2048,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)
    with open(os.path.join(args.out, "training_log.json"), "w") as f:
        json.dump({"args": vars(args), "parameters": n_params, "steps": step,
                   "tokens_seen": step * args.batch * args.seq, "train_tokens": len(data),
                   "heldout_book": HELD_OUT, "heldout_tokens": len(held_ids),
                   "torch": torch.__version__, "log": log}, f, indent=1)
    with open(os.path.join(args.work, "heldout.txt"), "w") as f:
        f.write(held_text)
    print(f"saved to {args.out}: {sorted(os.listdir(args.out))} ({time.time() - t_start:.0f}s total)", flush=True)


if __name__ == "__main__":
    main()
