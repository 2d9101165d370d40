#!/usr/bin/env python3
"""Checks that other tools read what the kit writes (run on the GPU machine, which has them):

  - Python onnxruntime runs a saved quantized model's prefill.onnx and decode.onnx and gives
    the kit's logits (written by the kit beside it as expected.safetensors);
  - pyarrow reads the statistics tables, scales.arrow and the evaluation results, with their
    schema metadata.

Usage: python3 scripts/verify_interop.py --quantized DIR --stats DIR [--eval DIR] --out FILE
"""
import argparse
import json
import os

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quantized", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--eval")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    report = {}

    import onnxruntime as ort
    from safetensors.numpy import load_file

    exp = load_file(os.path.join(args.quantized, "expected.safetensors"))
    ids = exp["input_ids"].astype(np.int64)
    cfg = json.load(open(os.path.join(args.quantized, "manifest.json")))["config"]
    e, n, k, L = cfg["intermediate_size"], cfg["state_size"], cfg["conv_kernel"], cfg["num_hidden_layers"]
    feeds = {"input_ids": ids[None, :]}
    for i in range(L):
        feeds[f"past_conv.{i}"] = np.zeros((1, e, k - 1), np.float32)
        feeds[f"past_ssm.{i}"] = np.zeros((1, e, n), np.float32)
    sess = ort.InferenceSession(os.path.join(args.quantized, "prefill.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    out = dict(zip(names, sess.run(None, feeds)))
    logits = out["logits"][0]
    rel = float(np.abs(logits - exp["logits"]).max() / np.abs(exp["logits"]).max())
    # one decode step from the prefill's states
    dec = ort.InferenceSession(os.path.join(args.quantized, "decode.onnx"), providers=["CPUExecutionProvider"])
    dfeeds = {"input_ids": ids[-1:]}
    for i in range(L):
        dfeeds[f"past_conv.{i}"] = out[f"present_conv.{i}"]
        dfeeds[f"past_ssm.{i}"] = out[f"present_ssm.{i}"]
    dlog = dict(zip([o.name for o in dec.get_outputs()], dec.run(None, dfeeds)))["logits"][0]
    drel = float(np.abs(dlog - exp["next_logits"]).max() / np.abs(exp["next_logits"]).max())
    report["onnxruntime_python"] = {"version": ort.__version__, "prefill_rel_err": rel, "decode_rel_err": drel,
                                    "outputs": len(names)}
    print(f"python onnxruntime {ort.__version__}: prefill logits rel err {rel:.2e}, decode {drel:.2e}")

    import pyarrow as pa
    import pyarrow.ipc as ipc

    def read(path):
        with pa.memory_map(path) as f:
            t = ipc.open_file(f).read_all()
        meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
        return t, meta

    tables = {}
    for name in ["scalars", "channels", "histograms"]:
        t, meta = read(os.path.join(args.stats, f"{name}.arrow"))
        tables[name] = {"rows": t.num_rows, "schema": str(t.schema).split("\n-- schema metadata")[0], "metadata": meta}
    s, _ = read(os.path.join(args.stats, "scalars.arrow"))
    d = s.to_pydict()
    u1 = [v for l, te, st, v in zip(d["layer"], d["tensor"], d["statistic"], d["value"]) if l == 1 and te == "u" and st == "absmax"]
    tables["scalars"]["layer1_u_absmax"] = u1[0] if u1 else None
    t, meta = read(os.path.join(args.quantized, "scales.arrow"))
    tables["scales"] = {"rows": t.num_rows, "metadata": meta}
    if args.eval:
        t, meta = read(os.path.join(args.eval, "results.arrow"))
        tables["eval_results"] = {"rows": t.num_rows, "columns": t.column_names}
    report["pyarrow"] = {"version": pa.__version__, "tables": tables}
    print(json.dumps(report["pyarrow"], indent=1)[:3000])
    json.dump(report, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
