/**
 * The kit's tensor, shaped like onnxruntime-node's `Tensor` where the kit used it: a host
 * tensor over a JS typed array (`new Tensor("float32", data, dims)`; onnxruntime reads the
 * array itself, no copy), or a device tensor (`location` "gpu-buffer") whose memory is the
 * execution provider's and stays opaque to JS until `getData()` copies it to the host.
 */
import { KitError } from "../errors.ts";
import { checkData, type TensorData, type TensorDataMap, type TensorType } from "./dtypes.ts";
import type { Device } from "./memory.ts";
import { OrtValue } from "./value.ts";

/** Where a tensor's data is: on the host, or in an execution provider's device memory. */
export type TensorLocation = "cpu" | "gpu-buffer";

/** Internal: the source of a device tensor. */
const DEVICE = Symbol("device tensor");
interface DeviceSource {
  [DEVICE]: { value: OrtValue; device: Device };
}

/**
 * A tensor.
 *
 * @example
 * ```ts
 * const t = new Tensor("int64", BigInt64Array.of(1n, 2n), [1, 2]);
 * t.dims; // [1, 2]
 * t.data; // BigInt64Array [1n, 2n]
 * ```
 */
export class Tensor<T extends TensorType = TensorType> {
  readonly type: T;
  readonly dims: readonly number[];
  readonly location: TensorLocation;
  /** The device memory of a "gpu-buffer" tensor ("cpu" for host tensors). */
  readonly device: Device;
  #data: TensorDataMap[T] | undefined;
  #value: OrtValue | undefined;
  #disposed = false;

  constructor(type: T, data: TensorDataMap[T], dims?: readonly number[]);
  constructor(type: T, data: TensorDataMap[T] | DeviceSource, dims?: readonly number[]) {
    this.type = type;
    if (DEVICE in data) {
      const { value, device } = data[DEVICE];
      this.dims = Object.freeze([...dims!]);
      this.#value = value;
      this.device = device;
      this.location = device === "cpu" ? "cpu" : "gpu-buffer";
      return;
    }
    checkData(type, data);
    this.dims = Object.freeze([...(dims ?? [data.length])]);
    const n = this.dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) {
      throw new KitError(
        `a ${type} tensor of dims [${this.dims}] needs ${n} values, got ${data.length}`,
      );
    }
    this.#data = data;
    this.location = "cpu";
    this.device = "cpu";
  }

  /** A tensor that owns a device `OrtValue` (memory on `device`). */
  static onDevice<T extends TensorType>(
    value: OrtValue,
    type: T,
    dims: readonly number[],
    device: Device,
  ): Tensor<T> {
    const src: DeviceSource = { [DEVICE]: { value, device } };
    return new (Tensor as new (t: T, d: DeviceSource, dims: readonly number[]) => Tensor<T>)(
      type,
      src,
      dims,
    );
  }

  /** Number of elements. */
  get size(): number {
    return this.dims.reduce((a, b) => a * b, 1);
  }

  /** The host data (a KitError for a device tensor: use `getData()`). */
  get data(): TensorDataMap[T] {
    if (this.#disposed) {
      throw new KitError(`a ${this.type} tensor [${this.dims}] used after dispose()`);
    }
    if (this.#data === undefined) {
      throw new KitError(
        `the data of a ${this.type} tensor [${this.dims}] is in ${this.device} memory: ` +
          `read it with await tensor.getData()`,
      );
    }
    return this.#data;
  }

  /** The data on the host (a copy for a device tensor). */
  getData(): Promise<TensorDataMap[T]> {
    if (this.#data !== undefined || this.#disposed) return Promise.resolve(this.data);
    return this.#value!.copyToHostAsync() as Promise<TensorDataMap[T]>;
  }

  /** The host array (undefined for a device tensor). */
  get hostData(): TensorDataMap[T] | undefined {
    return this.#disposed ? undefined : this.#data;
  }

  /** The `OrtValue` to feed (over the host array, made once; the device value itself). */
  ortValue(): OrtValue {
    if (this.#disposed) {
      throw new KitError(`a ${this.type} tensor [${this.dims}] used after dispose()`);
    }
    if (!this.#value || this.#value.closed) {
      this.#value = OrtValue.fromHost(this.type, this.#data as TensorData, this.dims);
    }
    return this.#value;
  }

  /** Whether `dispose()` ran on a device tensor (its memory is gone). */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Releases the native value (device memory for a "gpu-buffer" tensor); idempotent. A host
   * tensor keeps its data and makes a new value if it is fed again. */
  dispose(): void {
    this.#value?.close();
    this.#value = undefined;
    if (this.location !== "cpu") this.#disposed = true;
  }
}
