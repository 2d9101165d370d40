/**
 * Device-to-host copies where onnxruntime's data transfer API (`CopyTensors`) has no route: the
 * CUDA provider that ships as a separate library (1.29) registers none with the env
 * ("Data transfer implementation between source and destination device was not found"). A
 * one-node Identity session on the tensor's device, its input bound to the device tensor and its
 * output to host memory, makes onnxruntime copy through the provider itself. One session per
 * (device, ordinal, element type, rank), opened on first use and kept.
 */
import { Graph, onnx } from "../onnx/builder.ts";
import type { TensorData, TensorType } from "./dtypes.ts";
import { TENSOR_TYPES } from "./dtypes.ts";
import type { Device } from "./memory.ts";
import { Session } from "./session.ts";
import type { IoBinding } from "./io_binding.ts";
import type { Tensor } from "./tensor.ts";
import type { OrtValue } from "./value.ts";

const sessions = new Map<string, Promise<Session>>();

function identityModel(type: TensorType, rank: number): Uint8Array {
  const g = new Graph("copy");
  const dims = Array.from({ length: rank }, (_, i) => `d${i}`);
  g.output(g.input("x", type as never, dims), type as never, dims, "y");
  const model = onnx.ModelProto.create({
    irVersion: 10,
    opsetImport: [{ domain: "", version: 19 }],
    producerName: "quamba-kit",
    graph: g.toProto(undefined, new Map()),
  });
  return onnx.ModelProto.encode(model).finish();
}

function copySession(device: Device, deviceId: number, type: TensorType, rank: number) {
  const key = `${device}:${deviceId}:${type}:${rank}`;
  let s = sessions.get(key);
  if (!s) {
    const providers = device === "cuda"
      ? [{ name: "cuda" as const, options: { deviceId } }]
      : device === "webgpu"
      ? [{ name: "webgpu" as const, options: { deviceId } }]
      : [];
    s = Session.create(identityModel(type, rank), { providers, logLevel: "error" });
    sessions.set(key, s);
    s.catch(() => sessions.delete(key));
  }
  return s;
}

/**
 * A fixed device tensor read into one host array, again and again: the Identity session's input
 * bound to the tensor and its output to the array once (a generation loop reads its ids with it).
 *
 * @example
 * ```ts
 * const reader = await HostReader.open(ids, "int64", [1], "cuda", 0);
 * const host = await reader.read(); // BigInt64Array, overwritten by each read
 * ```
 */
export class HostReader {
  private constructor(
    private readonly binding: IoBinding,
    readonly data: TensorData,
    private readonly out: Tensor,
  ) {}

  static async open(
    value: OrtValue,
    type: TensorType,
    dims: readonly number[],
    device: Device,
    deviceId: number,
  ): Promise<HostReader> {
    const session = await copySession(device, deviceId, type, dims.length);
    const { Tensor } = await import("./tensor.ts");
    const data = new TENSOR_TYPES[type].array(dims.reduce((a, b) => a * b, 1));
    const out = new Tensor(type, data as never, dims);
    const b = session.ioBinding();
    b.bindInput("x", value);
    b.bindOutput("y", out);
    return new HostReader(b, data, out);
  }

  /** Copies the tensor's current contents into `data` and returns it. */
  async read(): Promise<TensorData> {
    await this.binding.run();
    return this.data;
  }

  close(): void {
    this.binding.close();
    this.out.dispose();
  }
}

/**
 * The data of device tensor `value` copied to a new host array, through an Identity session.
 *
 * @example
 * ```ts
 * const ids = await copyThroughSession(value, "int64", [1], "cuda", 0);
 * ```
 */
export async function copyThroughSession(
  value: OrtValue,
  type: TensorType,
  dims: readonly number[],
  device: Device,
  deviceId: number,
): Promise<TensorData> {
  const reader = await HostReader.open(value, type, dims, device, deviceId);
  try {
    return await reader.read();
  } finally {
    reader.close();
  }
}
