/**
 * A session's inputs and outputs as onnxruntime describes them: names, element types, and
 * dims with symbolic dimensions by name.
 */
import { ort } from "./api.ts";
import type { TensorType } from "./dtypes.ts";
import { OutPointer } from "./ffi.ts";
import { freeHostString, hostAllocator } from "./memory.ts";
import { check } from "./status.ts";
import { readTypeAndShape } from "./value.ts";

/** A model input or output: name, element type (undefined for non-tensors) and dims (symbolic
 * dimensions by name, unknown ones as "?"). */
export interface IoInfo {
  name: string;
  type?: TensorType;
  dims: (number | string)[];
}

/**
 * The inputs or outputs of an `OrtSession*`.
 *
 * @example
 * ```ts
 * sessionIo(session.ptr, "input"); // [{ name: "x", type: "float32", dims: ["batch", 3] }]
 * ```
 */
export function sessionIo(session: Deno.PointerObject, kind: "input" | "output"): IoInfo[] {
  const api = ort();
  const count = new BigUint64Array(1);
  check(
    kind === "input"
      ? api.SessionGetInputCount(session, count)
      : api.SessionGetOutputCount(session, count),
    `SessionGet${kind}Count`,
  );
  const out = new OutPointer();
  return Array.from({ length: Number(count[0]) }, (_, i) => {
    check(
      kind === "input"
        ? api.SessionGetInputName(session, BigInt(i), hostAllocator(), out.slot())
        : api.SessionGetOutputName(session, BigInt(i), hostAllocator(), out.slot()),
      `SessionGet${kind}Name(${i})`,
    );
    const name = freeHostString(out.get());
    check(
      kind === "input"
        ? api.SessionGetInputTypeInfo(session, BigInt(i), out.slot())
        : api.SessionGetOutputTypeInfo(session, BigInt(i), out.slot()),
      `SessionGet${kind}TypeInfo(${name})`,
    );
    const typeInfo = out.get()!;
    try {
      check(api.CastTypeInfoToTensorInfo(typeInfo, out.slot()), "CastTypeInfoToTensorInfo");
      const tensorInfo = out.get();
      if (tensorInfo === null) return { name, dims: [] };
      const t = readTypeAndShape(tensorInfo, true);
      const dims = t.dims.map((d, j) => d >= 0 ? d : t.symbolic?.[j] || "?");
      return { name, type: t.type, dims };
    } finally {
      api.ReleaseTypeInfo(typeInfo);
    }
  });
}
