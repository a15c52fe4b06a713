import * as pulumi from "@pulumi/pulumi";
import path from "node:path";
import type { BackendSettings, DatabaseBackend } from "../../infra";

/**
 * Shared machinery for the dynamic providers over the data plane. Pulumi serializes provider methods with
 * everything they capture, so methods capture only plain strings (module paths) and load the data plane inside
 * the provider process, building the backend there from the resource's own inputs (pulumi/pulumi #13960, #8265).
 */
const DATA_PLANE_ENTRY = path.resolve(__dirname, "..", "..", "infra", "index.ts");
const TSX_REGISTER = require.resolve("tsx/cjs/api");

type DataPlane = typeof import("../../infra");

/** Loads the TypeScript data plane in whatever process runs the provider (the engine's provider host runs plain node). */
export function loadDataPlane(): DataPlane {
  const extensions = (require as NodeJS.Require & { extensions: Record<string, unknown> }).extensions;
  if (!extensions[".ts"]) require(TSX_REGISTER).register();
  return require(DATA_PLANE_ENTRY);
}

export interface WithBackend {
  backend: BackendSettings;
}

/** What one kind of data-plane resource does; the provider around it adds diff/update/read and backend lifetime. */
export interface DataPlaneResourceSpec<I extends WithBackend, O extends object> {
  /** Input keys whose change requires a new object. Other input changes are applied by `update` in place. */
  replaceOn: readonly (keyof I & string)[];
  /** Input keys that only matter at creation (e.g. a snapshot's expiry): changes are ignored, never replace. */
  createOnly?: readonly (keyof I & string)[];
  create(dp: DataPlane, backend: DatabaseBackend, inputs: I): Promise<{ id: string; outs: O }>;
  update?(dp: DataPlane, backend: DatabaseBackend, id: string, olds: I & O, news: I): Promise<O>;
  delete(dp: DataPlane, backend: DatabaseBackend, id: string, props: I & O): Promise<void>;
  /** Whether the object still exists; `pulumi refresh` drops it from state when not. Omitted = assume it does. */
  exists?(dp: DataPlane, backend: DatabaseBackend, id: string, props: I & O): Promise<boolean>;
}

export function dataPlaneProvider<I extends WithBackend, O extends object>(spec: DataPlaneResourceSpec<I, O>): pulumi.dynamic.ResourceProvider {
  async function withBackend<T>(settings: BackendSettings, work: (dp: DataPlane, b: DatabaseBackend) => Promise<T>): Promise<T> {
    const dp = loadDataPlane();
    const backend = dp.createDatabaseBackend(settings);
    try {
      return await work(dp, backend);
    } finally {
      await backend.close();
    }
  }
  const sameValue = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

  return {
    async create(inputs: I) {
      const { id, outs } = await withBackend(inputs.backend, (dp, b) => spec.create(dp, b, inputs));
      return { id, outs: { ...inputs, ...outs } };
    },
    async diff(_id: string, olds: I & O, news: I) {
      const changed = Object.keys({ ...news, ...pickInputs(olds as Record<string, unknown>, news as Record<string, unknown>) }).filter(
        (k) => !spec.createOnly?.includes(k as keyof I & string) && !sameValue((olds as Record<string, unknown>)[k], (news as Record<string, unknown>)[k]),
      );
      const replaces = changed.filter((k) => spec.replaceOn.includes(k as keyof I & string));
      return { changes: changed.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 };
    },
    async update(id: string, olds: I & O, news: I) {
      const outs = spec.update ? await withBackend(news.backend, (dp, b) => spec.update!(dp, b, id, olds, news)) : pickOutputs(olds as Record<string, unknown>, news as Record<string, unknown>);
      return { outs: { ...news, ...outs } };
    },
    async delete(id: string, props: I & O) {
      await withBackend(props.backend, (dp, b) => spec.delete(dp, b, id, props));
    },
    async read(id: string, props: I & O) {
      if (!spec.exists) return { id, props };
      const present = await withBackend(props.backend, (dp, b) => spec.exists!(dp, b, id, props));
      // An empty id tells the engine the object is gone, so refresh removes it from state.
      return present ? { id, props } : { id: "", props: {} };
    },
  };

  /** Old input keys that the new inputs dropped also count as changes. */
  function pickInputs(olds: Record<string, unknown>, news: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(Object.keys(olds).filter((k) => !(k in news) && spec.replaceOn.includes(k as keyof I & string)).map((k) => [k, olds[k]]));
  }
  function pickOutputs(olds: Record<string, unknown>, news: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(olds).filter(([k]) => !(k in news)));
  }
}
