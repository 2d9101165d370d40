/**
 * Jamba's tensors: the names and shapes a config implies (the hub's layout, experts one by one),
 * a view that reads transformers 5's fused experts under those names, and checks that name the
 * config field a checkpoint disagrees with. Dimensions: lib/arch/jamba/config.ts.
 */
import { KitError } from "../../errors.ts";
import type { TensorInfo } from "../../safetensors.ts";
import type { TensorView } from "../types.ts";
import { type JambaConfig, jambaDims, jambaLayers } from "./config.ts";

/**
 * Name and shape of every parameter, in the hub's naming:
 *
 *   model.embed_tokens.weight                       [v, d]
 *   model.layers.{i}.input_layernorm.weight         [d]
 *   model.layers.{i}.mamba.in_proj.weight           [2e, d]   (+ .bias [2e] with mamba_proj_bias)
 *   model.layers.{i}.mamba.conv1d.weight            [e, 1, k] (+ .bias [e] with mamba_conv_bias)
 *   model.layers.{i}.mamba.x_proj.weight            [r + 2n, e]
 *   model.layers.{i}.mamba.dt_proj.{weight,bias}    [e, r], [e]
 *   model.layers.{i}.mamba.{A_log, D}               [e, n], [e]
 *   model.layers.{i}.mamba.{dt,b,c}_layernorm.weight [r], [n], [n]
 *   model.layers.{i}.mamba.out_proj.weight          [d, e]    (+ .bias [d])
 *   model.layers.{i}.self_attn.{q,k,v,o}_proj.weight [H hd, d], [G hd, d], [G hd, d], [d, H hd]
 *   model.layers.{i}.pre_ff_layernorm.weight        [d]
 *   model.layers.{i}.feed_forward.{gate,up,down}_proj.weight            [f, d], [f, d], [d, f]
 *   model.layers.{i}.feed_forward.router.weight                         [E, d]
 *   model.layers.{i}.feed_forward.experts.{j}.{gate,up,down}_proj.weight [f, d], [f, d], [d, f]
 *   model.final_layernorm.weight                    [d]
 *   lm_head.weight                                  [v, d]    (unless tie_word_embeddings)
 *
 * @example
 * ```ts
 * expectedJambaTensors(cfg).get("model.layers.1.self_attn.k_proj.weight"); // [G * hd, d]
 * ```
 */
export function expectedJambaTensors(cfg: JambaConfig): Map<string, number[]> {
  const { d, v, e, n, r, k, H, G, hd, f } = jambaDims(cfg);
  const m = new Map<string, number[]>();
  m.set("model.embed_tokens.weight", [v, d]);
  jambaLayers(cfg).forEach((layer, i) => {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [d]);
    if (layer.mixer === "mamba") {
      const q = `${p}.mamba`;
      m.set(`${q}.in_proj.weight`, [2 * e, d]);
      if (cfg.mamba_proj_bias) m.set(`${q}.in_proj.bias`, [2 * e]);
      m.set(`${q}.conv1d.weight`, [e, 1, k]);
      if (cfg.mamba_conv_bias) m.set(`${q}.conv1d.bias`, [e]);
      m.set(`${q}.x_proj.weight`, [r + 2 * n, e]);
      m.set(`${q}.dt_proj.weight`, [e, r]);
      m.set(`${q}.dt_proj.bias`, [e]);
      m.set(`${q}.A_log`, [e, n]);
      m.set(`${q}.D`, [e]);
      m.set(`${q}.dt_layernorm.weight`, [r]);
      m.set(`${q}.b_layernorm.weight`, [n]);
      m.set(`${q}.c_layernorm.weight`, [n]);
      m.set(`${q}.out_proj.weight`, [d, e]);
      if (cfg.mamba_proj_bias) m.set(`${q}.out_proj.bias`, [d]);
    } else {
      const q = `${p}.self_attn`;
      m.set(`${q}.q_proj.weight`, [H * hd, d]);
      m.set(`${q}.k_proj.weight`, [G * hd, d]);
      m.set(`${q}.v_proj.weight`, [G * hd, d]);
      m.set(`${q}.o_proj.weight`, [d, H * hd]);
    }
    m.set(`${p}.pre_ff_layernorm.weight`, [d]);
    const ff = `${p}.feed_forward`;
    if (layer.experts > 1) {
      m.set(`${ff}.router.weight`, [layer.experts, d]);
      for (let j = 0; j < layer.experts; j++) setMlp(m, `${ff}.experts.${j}`, d, f);
    } else {
      setMlp(m, ff, d, f);
    }
  });
  m.set("model.final_layernorm.weight", [d]);
  if (!cfg.tie_word_embeddings) m.set("lm_head.weight", [v, d]);
  return m;
}

function setMlp(m: Map<string, number[]>, p: string, d: number, f: number): void {
  m.set(`${p}.gate_proj.weight`, [f, d]);
  m.set(`${p}.up_proj.weight`, [f, d]);
  m.set(`${p}.down_proj.weight`, [d, f]);
}

/** Which config fields set a tensor's shape: for error messages. */
export function jambaShapeFields(name: string): string {
  if (/self_attn\.(k|v)_proj/.test(name)) {
    return "num_key_value_heads × hidden_size / num_attention_heads, hidden_size";
  }
  if (/self_attn\.(q|o)_proj/.test(name)) return "hidden_size";
  if (/feed_forward\.router/.test(name)) return "num_experts, hidden_size";
  if (/feed_forward\./.test(name)) return "intermediate_size, hidden_size";
  if (/\.mamba\.x_proj/.test(name)) {
    return "mamba_dt_rank + 2 × mamba_d_state, mamba_expand × hidden_size";
  }
  if (/\.mamba\.conv1d\.weight/.test(name)) return "mamba_expand × hidden_size, mamba_d_conv";
  if (/\.mamba\.(A_log|b_layernorm|c_layernorm)/.test(name)) {
    return "mamba_expand × hidden_size, mamba_d_state";
  }
  if (/\.mamba\.(dt_proj|dt_layernorm)/.test(name)) {
    return "mamba_expand × hidden_size, mamba_dt_rank";
  }
  if (/\.mamba\./.test(name)) return "mamba_expand × hidden_size, hidden_size";
  if (/embed_tokens|lm_head/.test(name)) return "vocab_size, hidden_size";
  return "hidden_size";
}

const FUSED = /^(model\.layers\.\d+\.feed_forward\.experts)\.(gate_up_proj|down_proj)$/;

/**
 * The checkpoint's tensors under the hub's names: transformers 5 saves each MoE layer's experts
 * fused, `experts.gate_up_proj` [E, 2f, d] (gate rows first) and `experts.down_proj` [E, d, f];
 * they read as `experts.{j}.gate_proj.weight` [f, d], `.up_proj.weight` [f, d] and
 * `.down_proj.weight` [d, f]. Other tensors pass through.
 *
 * @example
 * ```ts
 * const view = jambaTensorView(store);
 * await view.read("model.layers.1.feed_forward.experts.2.up_proj.weight");
 * ```
 */
export function jambaTensorView(store: TensorView): TensorView {
  const parts = new Map<string, { info: TensorInfo; read: () => Promise<Float32Array> }>();
  const names: string[] = [];
  for (const name of store.names()) {
    const m = FUSED.exec(name);
    if (!m) {
      names.push(name);
      continue;
    }
    const t = store.info(name);
    if (t.shape.length !== 3 || (m[2] === "gate_up_proj" && t.shape[1] % 2 !== 0)) {
      throw new KitError(
        `${t.file}: fused experts tensor '${name}' has shape [${t.shape}], expected ` +
          (m[2] === "gate_up_proj"
            ? "[num_experts, 2 intermediate_size, hidden_size]"
            : "[num_experts, hidden_size, intermediate_size]"),
      );
    }
    const [E, rows, cols] = t.shape;
    const size = rows * cols;
    const slice = (j: number, from: number, n: number) => async () => {
      const x = await store.read(name);
      return x.slice(j * size + from * cols, j * size + (from + n) * cols);
    };
    for (let j = 0; j < E; j++) {
      const add = (proj: string, shape: number[], read: () => Promise<Float32Array>) => {
        const canon = `${m[1]}.${j}.${proj}.weight`;
        names.push(canon);
        parts.set(canon, { info: { ...t, name: canon, shape }, read });
      };
      if (m[2] === "down_proj") add("down_proj", [rows, cols], slice(j, 0, rows));
      else {
        add("gate_proj", [rows / 2, cols], slice(j, 0, rows / 2));
        add("up_proj", [rows / 2, cols], slice(j, rows / 2, rows / 2));
      }
    }
  }
  return {
    names: () => names,
    info: (name) => parts.get(name)?.info ?? store.info(name),
    read: (name) => parts.get(name)?.read() ?? store.read(name),
  };
}

/**
 * Checks that the checkpoint's layers are what the config says, before shapes are compared:
 * an attention layer whose tensors are a Mamba mixer's (or the reverse), a mixture of experts
 * where the checkpoint has a dense MLP (or the reverse), and an expert count that disagrees with
 * the `experts.{j}` present are errors naming the layer, a tensor and the config fields.
 *
 * @example
 * ```ts
 * checkJambaLayers(cfg, jambaTensorView(store), "ckpt/config.json");
 * ```
 */
export function checkJambaLayers(cfg: JambaConfig, view: TensorView, configFile: string): void {
  const names = view.names();
  const has = (prefix: string) => names.find((n) => n.startsWith(prefix));
  const maxLayer = Math.max(
    -1,
    ...names.map((n) => Number(/^model\.layers\.(\d+)\./.exec(n)?.[1] ?? -1)),
  );
  if (maxLayer >= cfg.num_hidden_layers) {
    throw new KitError(
      `${
        has(`model.layers.${maxLayer}.`)
          ? view.info(has(`model.layers.${maxLayer}.`)!).file
          : configFile
      }: ` +
        `tensor '${has(`model.layers.${maxLayer}.`)}' belongs to layer ${maxLayer}, but ` +
        `num_hidden_layers is ${cfg.num_hidden_layers} in ${configFile}`,
    );
  }
  jambaLayers(cfg).forEach((layer, i) => {
    const p = `model.layers.${i}`;
    const mamba = has(`${p}.mamba.`), attn = has(`${p}.self_attn.`);
    const where = (t: string) => view.info(t).file;
    if (layer.mixer === "attention" && mamba && !attn) {
      throw new KitError(
        `${where(mamba)}: layer ${i} holds a Mamba mixer ('${mamba}'), but attn_layer_period ` +
          `${cfg.attn_layer_period} and attn_layer_offset ${cfg.attn_layer_offset} in ` +
          `${configFile} make it an attention layer`,
      );
    }
    if (layer.mixer === "mamba" && attn && !mamba) {
      throw new KitError(
        `${where(attn)}: layer ${i} holds attention ('${attn}'), but attn_layer_period ` +
          `${cfg.attn_layer_period} and attn_layer_offset ${cfg.attn_layer_offset} in ` +
          `${configFile} make it a Mamba layer`,
      );
    }
    const ff = `${p}.feed_forward`;
    const experts = new Set(
      names.map((n) =>
        new RegExp(`^${ff.replaceAll(".", "\\.")}\\.experts\\.(\\d+)\\.`).exec(n)?.[1]
      )
        .filter((j) => j !== undefined),
    );
    const dense = has(`${ff}.gate_proj.`) ?? has(`${ff}.up_proj.`) ?? has(`${ff}.down_proj.`);
    if (layer.experts > 1 && experts.size === 0 && dense) {
      throw new KitError(
        `${where(dense)}: layer ${i} holds a dense MLP ('${dense}'), but expert_layer_period ` +
          `${cfg.expert_layer_period}, expert_layer_offset ${cfg.expert_layer_offset} and ` +
          `num_experts ${cfg.num_experts} in ${configFile} make it a mixture of experts`,
      );
    }
    if (layer.experts === 1 && experts.size > 0) {
      const t = has(`${ff}.experts.`)!;
      throw new KitError(
        `${where(t)}: layer ${i} holds a mixture of ${experts.size} experts ('${t}'), but ` +
          (cfg.num_experts > 1
            ? `expert_layer_period ${cfg.expert_layer_period} and expert_layer_offset ` +
              `${cfg.expert_layer_offset} in ${configFile} make it a dense MLP`
            : `num_experts is 1 in ${configFile}`),
      );
    }
    if (layer.experts > 1 && experts.size > 0 && experts.size !== layer.experts) {
      const t = has(`${ff}.experts.`)!;
      throw new KitError(
        `${where(t)}: layer ${i} holds ${experts.size} experts (feed_forward.experts.{0..${
          experts.size - 1
        }}), but num_experts is ${layer.experts} in ${configFile}`,
      );
    }
  });
}
