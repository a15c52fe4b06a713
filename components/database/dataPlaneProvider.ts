import * as pulumi from "@pulumi/pulumi";
import path from "node:path";
import type { BackendSettings, DatabaseBackend } from "../../infra";

/**
 * Shared machinery for the dynamic providers over the data plane. Pulumi serializes provider methods with
 * everything they capture, so methods capture only plain strings (module paths) and load the data plane inside
 * the provider process, building the backend there from the resource's own inputs (pulumi/pulumi #13960, #8265).
 */
const CHECKOUT = path.resolve(__dirname, "..", "..");
const DATA_PLANE_ENTRY = path.join(CHECKOUT, "infra", "index.ts");
const TSX_REGISTER = require.resolve("tsx/cjs/api");

type DataPlane = typeof import("../../infra");

/** Loads the TypeScript data plane in whatever process runs the provider (the engine's provider host runs plain node). */
export function loadDataPlane(): DataPlane {
  const extensions = (require as NodeJS.Require & { extensions: Record<string, unknown> }).extensions;
  if (!extensions[".ts"]) require(TSX_REGISTER).register();
  return require(DATA_PLANE_ENTRY);
}

/**
 * What a dynamic resource keeps in its `__provider`: a pointer to the provider (`exportName` of `file`), loaded in
 * the provider process, not the provider serialized with everything it captures. That was ~90 KB a resource
 * (twice: inputs and outputs), in every checkpoint and every engine round trip (issue 21); this is about 2 KB and
 * the same for every resource of a kind. The module is named relative to the checkout, found in the provider
 * process from its working directory (the engine runs it in the project's folder, which is in the checkout:
 * the repo root, `stacks/tenant`, or a stack's work dir under `.bloom/`) or BLOOM_PLATFORM_ROOT — so no path of
 * this machine is in state, and a moved checkout is no change. The provider process runs the checkout's current
 * code for every call, as a provider plugin would. One object per kind: the SDK caches the serialization per
 * provider object.
 */
export function providerReference(file: string, exportName: string): pulumi.dynamic.ResourceProvider {
  const modulePath = path.relative(CHECKOUT, file).split(path.sep).join("/");
  const key = `${modulePath}#${exportName}`;
  let reference = references.get(key);
  if (!reference) {
    const target = (): pulumi.dynamic.ResourceProvider => {
      const fs = require("node:fs") as typeof import("node:fs");
      const paths = require("node:path") as typeof import("node:path");
      let root = process.env.BLOOM_PLATFORM_ROOT || undefined;
      for (let dir = process.cwd(); !root; dir = paths.dirname(dir)) {
        const manifest = paths.join(dir, "package.json");
        if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "bloom-platform") root = dir;
        else if (paths.dirname(dir) === dir) throw new Error(`the bloom-platform checkout was not found above ${process.cwd()}: run the engine from the checkout, or set BLOOM_PLATFORM_ROOT`);
      }
      const extensions = (require as NodeJS.Require & { extensions: Record<string, unknown> }).extensions;
      if (!extensions[".ts"]) require(require.resolve("tsx/cjs/api", { paths: [root] })).register();
      const provider = require(paths.join(root, modulePath))[exportName] as pulumi.dynamic.ResourceProvider | undefined;
      if (!provider) throw new Error(`${modulePath} exports no provider named ${exportName}`);
      return provider;
    };
    reference = {
      create: async (inputs) => target().create(inputs),
      diff: async (id, olds, news) => target().diff!(id, olds, news),
      update: async (id, olds, news) => target().update!(id, olds, news),
      delete: async (id, props) => target().delete!(id, props),
      read: async (id, props) => target().read!(id, props),
    };
    references.set(key, reference);
  }
  return reference;
}
const references = new Map<string, pulumi.dynamic.ResourceProvider>();

export interface WithBackend {
  backend: BackendSettings;
}

/**
 * What one kind of data-plane resource does, over a context `C` it opens per call (a database backend, a
 * key-value client); the provider around it adds diff/update/read and the context's lifetime.
 */
export interface DataPlaneResourceSpec<I extends object, O extends object, C> {
  /** Opens the context from the resource's own inputs, inside the provider process. */
  connect(dp: DataPlane, inputs: I): C | Promise<C>;
  disconnect?(ctx: C): Promise<void>;
  /**
   * Input keys whose change requires a new object. Other input changes are applied by `update` in place.
   * The diff cannot tell an input that disappeared from an output (the state holds both): a key dropped from the
   * inputs counts as a change only if it is listed here. So an optional input that may go away is passed as `null`,
   * never left out (TenantSettings' `budget`, FeatureFlag's `description`).
   */
  replaceOn: readonly (keyof I & string)[];
  /** Input keys that only matter at creation (e.g. a snapshot's expiry): changes are ignored, never replace. */
  createOnly?: readonly (keyof I & string)[];
  create(dp: DataPlane, ctx: C, inputs: I): Promise<{ id: string; outs: O }>;
  update?(dp: DataPlane, ctx: C, id: string, olds: I & O, news: I): Promise<O>;
  delete(dp: DataPlane, ctx: C, id: string, props: I & O): Promise<void>;
  /**
   * What `pulumi refresh` sees: the object as it is now (drift shows as changed props), or undefined when it is
   * gone. Omitted = the state is taken as is.
   */
  refresh?(dp: DataPlane, ctx: C, id: string, props: I & O): Promise<(I & O) | undefined>;
  /**
   * Whether the object drifted from what the last update applied although no input changed (e.g. the app
   * changed its own role): a drifted object is updated by the next `up`. Asked only when the inputs are the same.
   */
  drifted?(dp: DataPlane, ctx: C, id: string, olds: I & O): Promise<string | undefined>;
}

/** The spec of a resource over the database seam: its context is the backend named by its `backend` input. */
export type DatabaseResourceSpec<I extends WithBackend, O extends object> = Omit<DataPlaneResourceSpec<I, O, DatabaseBackend>, "connect" | "disconnect">;

export function databaseResourceProvider<I extends WithBackend, O extends object>(spec: DatabaseResourceSpec<I, O>): pulumi.dynamic.ResourceProvider {
  return dataPlaneProvider<I, O, DatabaseBackend>({
    ...spec,
    connect: (dp, inputs) => dp.createDatabaseBackend(inputs.backend),
    disconnect: (backend) => backend.close(),
  });
}

export function dataPlaneProvider<I extends object, O extends object, C>(spec: DataPlaneResourceSpec<I, O, C>): pulumi.dynamic.ResourceProvider {
  async function withContext<T>(inputs: I, work: (dp: DataPlane, ctx: C) => Promise<T>): Promise<T> {
    const dp = loadDataPlane();
    const ctx = await spec.connect(dp, inputs);
    try {
      return await work(dp, ctx);
    } finally {
      await spec.disconnect?.(ctx);
    }
  }
  const sameValue = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

  return {
    async create(inputs: I) {
      const { id, outs } = await withContext(inputs, (dp, c) => spec.create(dp, c, inputs));
      return { id, outs: { ...inputs, ...outs } };
    },
    async diff(_id: string, olds: I & O, news: I) {
      // `__provider` is the provider's reference (providerReference), not the object's: the provider process
      // uses the new one anyway, and counting it made every provider change an update of every resource, which in
      // preview hid their outputs and showed the pool's database as replaced.
      const changed = Object.keys({ ...news, ...pickInputs(olds as Record<string, unknown>, news as Record<string, unknown>) }).filter(
        (k) => k !== "__provider" && !spec.createOnly?.includes(k as keyof I & string) && !sameValue((olds as Record<string, unknown>)[k], (news as Record<string, unknown>)[k]),
      );
      const replaces = changed.filter((k) => spec.replaceOn.includes(k as keyof I & string));
      if (!changed.length && spec.drifted) {
        // A drift check that cannot run (the database is gone: refresh diffs too) is no verdict; the resource's
        // own read and update report what is wrong.
        const drift = await withContext(olds, (dp, c) => spec.drifted!(dp, c, _id, olds)).catch((err: Error) => {
          pulumi.log.warn(`${_id}: could not check for drift: ${err.message.split("\n")[0]}`);
          return undefined;
        });
        if (drift) {
          pulumi.log.warn(`${_id}: ${drift}; this update applies the platform's again`);
          return { changes: true, replaces: [], deleteBeforeReplace: false };
        }
      }
      return { changes: changed.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 };
    },
    async update(id: string, olds: I & O, news: I) {
      const outs = spec.update ? await withContext(news, (dp, c) => spec.update!(dp, c, id, olds, news)) : pickOutputs(olds as Record<string, unknown>, news as Record<string, unknown>);
      return { outs: { ...news, ...outs } };
    },
    async delete(id: string, props: I & O) {
      await withContext(props, (dp, c) => spec.delete(dp, c, id, props));
    },
    async read(id: string, props: I & O) {
      if (!spec.refresh) return { id, props };
      const current = await withContext(props, (dp, c) => spec.refresh!(dp, c, id, props));
      // An empty id tells the engine the object is gone, so refresh removes it from state.
      return current ? { id, props: current } : { id: "", props: {} };
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
