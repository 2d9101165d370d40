#!/usr/bin/env python3
"""transformers' outputs for seeded random checkpoints (scripts/seeded_weights.py), in float64.

The checkpoints themselves are not committed: tests/helpers/seeded.ts makes the same weights from
the same seeds. What is committed is each checkpoint's config, seed and tensor list, token ids, and
transformers' logits (and Mamba-1's conv/SSM states and a greedy continuation).

  - mamba: Mamba-1 variants covering the config fields that change the math (bias flags,
    untied/tied embeddings, time_step_rank, conv_kernel, expand, eps), BF16 storage (the weights
    rounded to bfloat16 as the test writes them) and sharded files;
  - jamba: hybrid attention–Mamba–MoE configs with odd shapes (MQA/GQA/MHA, attention and
    experts at varied periods and offsets, top-1 and top-2 routing, d_inner not a power of two,
    biases, tied and untied heads), experts in eager mode (grouped matmul has no float64).

Runs anywhere with torch and transformers (the GPU machine; CPU float64).

  python3 scripts/make_seeded_references.py --out DIR
"""

import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeded_weights import seeded_ids, seeded_tensors  # noqa: E402

MAMBA = {
    "tiny_f32_untied": dict(seed=101, dtype="F32", shard=None, config=dict(
        model_type="mamba", vocab_size=100, hidden_size=32, state_size=8, num_hidden_layers=2, expand=2,
        conv_kernel=4, time_step_rank=3, use_bias=True, use_conv_bias=True, residual_in_fp32=True,
        layer_norm_epsilon=1e-5, tie_word_embeddings=False)),
    "tiny_bf16_sharded": dict(seed=102, dtype="BF16", shard=40000, config=dict(
        model_type="mamba", vocab_size=104, hidden_size=48, state_size=4, num_hidden_layers=3, expand=3,
        conv_kernel=3, time_step_rank="auto", use_bias=False, use_conv_bias=False, residual_in_fp32=False,
        layer_norm_epsilon=1e-3, tie_word_embeddings=True)),
}

JAMBA = {
    # MQA (3 heads, 1 kv head), attention at 1 and 3, experts at 0 and 2 (top-2 of 3), biases on
    # the Mamba projections, conv kernel 3, untied
    "jamba_mqa_bias": dict(seed=201, config=dict(
        vocab_size=61, hidden_size=24, num_attention_heads=3, num_key_value_heads=1, intermediate_size=40,
        num_hidden_layers=4, attn_layer_period=2, attn_layer_offset=1, expert_layer_period=2,
        expert_layer_offset=0, num_experts=3, num_experts_per_tok=2, mamba_d_state=6, mamba_d_conv=3,
        mamba_expand=2, mamba_dt_rank=5, mamba_conv_bias=True, mamba_proj_bias=True,
        tie_word_embeddings=False, rms_norm_eps=1e-5)),
    # MHA (5 heads of 4), one attention layer last-but-none, top-1 routing of 4 experts, expand 3,
    # 'auto' rank, no conv bias, tied embeddings
    "jamba_top1_tied": dict(seed=202, config=dict(
        vocab_size=50, hidden_size=20, num_attention_heads=5, num_key_value_heads=5, intermediate_size=28,
        num_hidden_layers=3, attn_layer_period=3, attn_layer_offset=2, expert_layer_period=3,
        expert_layer_offset=1, num_experts=4, num_experts_per_tok=1, mamba_d_state=4, mamba_d_conv=4,
        mamba_expand=3, mamba_dt_rank="auto", mamba_conv_bias=False, mamba_proj_bias=False,
        tie_word_embeddings=True, rms_norm_eps=1e-6)),
    # GQA (4 heads, 2 kv), experts in every layer (top-2 of 2), conv kernel 2, 5 layers
    "jamba_gqa_allmoe": dict(seed=203, config=dict(
        vocab_size=45, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, intermediate_size=24,
        num_hidden_layers=5, attn_layer_period=4, attn_layer_offset=3, expert_layer_period=1,
        expert_layer_offset=0, num_experts=2, num_experts_per_tok=2, mamba_d_state=8, mamba_d_conv=2,
        mamba_expand=2, mamba_dt_rank=3, mamba_conv_bias=True, mamba_proj_bias=False,
        tie_word_embeddings=False, rms_norm_eps=1e-6)),
}

SEQ = 19


def assign(model, values, rounding=None):
    """Copies seeded values into the model's parameters (Jamba's fused experts from per-expert ones)."""
    sd = model.state_dict()
    used = set()
    with torch.no_grad():
        for key, p in sd.items():
            if key.endswith("experts.gate_up_proj") or key.endswith("experts.down_proj"):
                prefix = key.rsplit(".", 1)[0]
                E = p.shape[0]
                mats = []
                for j in range(E):
                    if key.endswith("gate_up_proj"):
                        parts = [f"{prefix}.{j}.gate_proj.weight", f"{prefix}.{j}.up_proj.weight"]
                    else:
                        parts = [f"{prefix}.{j}.down_proj.weight"]
                    mats.append(torch.cat([tensor_of(values, n, sd_shape_of(p, key, j, n)) for n in parts], 0))
                    used.update(parts)
                src = torch.stack(mats, 0)
            elif key in values:
                src = torch.tensor(values[key], dtype=torch.float64).reshape(p.shape)
                used.add(key)
            else:
                continue
            src = src.to(torch.float32)
            if rounding is not None:
                src = src.to(rounding).to(torch.float32)
            p.copy_(src.to(p.dtype))
    missing = set(values) - used
    assert not missing, f"seeded tensors not used: {sorted(missing)[:5]}"


def sd_shape_of(p, key, j, name):
    F2, d = p.shape[1], p.shape[2]
    if key.endswith("gate_up_proj"):
        return (F2 // 2, d)
    return (p.shape[1], p.shape[2])


def tensor_of(values, name, shape):
    return torch.tensor(values[name], dtype=torch.float64).reshape(shape)


def legacy_specs(model, tied):
    """(name, shape) of every tensor of the checkpoint as the hub stores it (experts one by one)."""
    specs = []
    for key, p in model.state_dict().items():
        if tied and key == "lm_head.weight":
            continue
        if key.endswith("experts.gate_up_proj"):
            prefix = key.rsplit(".", 1)[0]
            for j in range(p.shape[0]):
                specs.append((f"{prefix}.{j}.gate_proj.weight", [p.shape[1] // 2, p.shape[2]]))
                specs.append((f"{prefix}.{j}.up_proj.weight", [p.shape[1] // 2, p.shape[2]]))
        elif key.endswith("experts.down_proj"):
            prefix = key.rsplit(".", 1)[0]
            for j in range(p.shape[0]):
                specs.append((f"{prefix}.{j}.down_proj.weight", [p.shape[1], p.shape[2]]))
        else:
            specs.append((key, list(p.shape)))
    return specs


def greedy(model, ids, n):
    ids = list(ids)
    new = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(torch.argmax(model(torch.tensor([ids])).logits[0, -1]))
            ids.append(nxt)
            new.append(nxt)
    return new


def eager(model):
    """Eager attention and experts (float64 has no grouped matmul or fused attention)."""
    for method in ("set_attn_implementation", "set_experts_implementation"):
        try:
            getattr(model, method)("eager")
        except Exception as e:  # not in this transformers version: the config attribute below
            print(f"{method}: {e}", flush=True)
    for attr in ("_attn_implementation", "_experts_implementation"):
        try:
            setattr(model.config, attr, "eager")
        except Exception:
            pass
    return model


def mamba_states(out, layers):
    """Per-layer conv [D, K] and SSM [D, N] states (the cache's layout differs across versions)."""
    cache = getattr(out, "cache_params", None) or getattr(out, "past_key_values", None)
    states = {}
    try:
        for i in range(layers):
            if hasattr(cache, "conv_states"):
                conv, ssm = cache.conv_states[i], cache.ssm_states[i]
            else:
                conv, ssm = cache.layers[i].conv_states[0], cache.layers[i].recurrent_states[0]
            states[f"conv.{i}"] = conv[0].float().contiguous()
            states[f"ssm.{i}"] = ssm[0].float().contiguous()
    except Exception as e:
        print(f"no states from the cache: {e}", flush=True)
    return states


def mamba(out_dir):
    from transformers import MambaConfig, MambaForCausalLM

    meta, tensors = {}, {}
    for name, spec in MAMBA.items():
        cfg = dict(spec["config"])
        config = MambaConfig(**{k: v for k, v in cfg.items() if k != "model_type"},
                             bos_token_id=0, eos_token_id=0, pad_token_id=0)
        model = MambaForCausalLM(config)
        specs = legacy_specs(model, cfg["tie_word_embeddings"])
        rounding = torch.bfloat16 if spec["dtype"] == "BF16" else None
        assign(model, seeded_tensors(specs, spec["seed"]), rounding)
        model = model.double().eval()
        ids = seeded_ids(spec["seed"] + 1000, 23, cfg["vocab_size"])
        with torch.no_grad():
            out = model(torch.tensor([ids]), use_cache=True)
        tensors[f"{name}.logits"] = out.logits[0].float().contiguous()
        for k, v in mamba_states(out, cfg["num_hidden_layers"]).items():
            tensors[f"{name}.{k}"] = v
        meta[name] = {**spec, "specs": specs, "ids": ids, "greedy_prompt": ids[:5],
                      "greedy": greedy(model, ids[:5], 8)}
        print(f"mamba {name}: {len(specs)} tensors, logits {tuple(out.logits.shape)}", flush=True)
    return meta, tensors


def jamba(out_dir):
    from transformers import JambaConfig, JambaForCausalLM

    meta, tensors = {}, {}
    for name, spec in JAMBA.items():
        cfg = dict(spec["config"])
        config = JambaConfig(**cfg, use_mamba_kernels=False, pad_token_id=0, bos_token_id=1, eos_token_id=2)
        torch.manual_seed(0)
        model = eager(JambaForCausalLM(config))
        specs = legacy_specs(model, cfg["tie_word_embeddings"])
        assign(model, seeded_tensors(specs, spec["seed"]))
        model = eager(model.double().eval())
        ids = seeded_ids(spec["seed"] + 1000, SEQ, cfg["vocab_size"])
        with torch.no_grad():
            logits64 = model(torch.tensor([ids])).logits[0]
            logits32 = model.float()(torch.tensor([ids])).logits[0].double()
            model = model.double()
        rel = ((logits64 - logits32).abs().max() / logits64.abs().max()).item()
        tensors[f"{name}.logits"] = logits64.float().contiguous()
        full = config.to_dict()
        full.update({"model_type": "jamba", "architectures": ["JambaForCausalLM"]})
        for drop in ("transformers_version", "_name_or_path", "torch_dtype", "dtype"):
            full.pop(drop, None)
        meta[name] = {"seed": spec["seed"], "config": json.loads(json.dumps(full, default=str)),
                      "specs": specs, "ids": ids, "greedy_prompt": ids[:6], "greedy": greedy(model, ids[:6], 8),
                      "fp32_vs_fp64": rel}
        print(f"jamba {name}: {len(specs)} tensors, layers {config.layers_block_type}, "
              f"experts {config.layers_num_experts}, fp32 vs fp64 {rel:.1e}", flush=True)
    return meta, tensors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(8)
    import transformers

    about = {"transformers": transformers.__version__, "torch": torch.__version__,
             "about": "transformers' outputs in float64 for seeded checkpoints (tests/helpers/seeded.ts)"}
    for family, fn in (("mamba", mamba), ("jamba", jamba)):
        meta, tensors = fn(args.out)
        save_file(tensors, os.path.join(args.out, f"{family}_seeded.safetensors"))
        with open(os.path.join(args.out, f"{family}_seeded.json"), "w") as f:
            json.dump({**about, "checkpoints": meta}, f, separators=(",", ":"))  # compact: tracked files stay under 10 MiB


if __name__ == "__main__":
    main()
