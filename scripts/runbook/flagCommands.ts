import { connectKv } from "../../infra/kv/kvDatabase";
import type { StoreAccess } from "../../infra/tenancy/modeFromStore";
import { currentActor, flagHistory, listFlagNames, readFlag, resolveFlag, setKillSwitch, writeFlag } from "../../infra/kv/flagStore";
import { confirm } from "./confirm";
import type { Say } from "./snapshotCommands";
import type { StackContext } from "./stackContext";

/**
 * `bloom flags list|get|set|history|kill|unkill`. Stack config is the source of truth for flags: `set` is for
 * emergencies and shows up as drift on the next `refresh` (the next `up` restores the config), while the kill
 * switch is a separate lever that config does not touch.
 */
/** Where the stack's flag store is, with the platform's admin token (stack outputs). */
export async function storeAccess(ctx: StackContext): Promise<StoreAccess> {
  const [restUrl, restToken, prefix] = await Promise.all(["kvRestUrl", "kvRestToken", "kvKeyPrefix"].map((o) => ctx.output<string>(o)));
  return { restUrl: restUrl!, restToken: restToken!, prefix: prefix! };
}

/** The stack's flag store, from its outputs (restarting the local endpoint if it went away). */
export async function openStore(ctx: StackContext) {
  const { restUrl, restToken, prefix } = await storeAccess(ctx);
  return { redis: await connectKv(restUrl, restToken), prefix };
}

export async function listFlags(ctx: StackContext, say: Say) {
  const { redis, prefix } = await openStore(ctx);
  for (const name of await listFlagNames(redis, prefix)) {
    const f = await readFlag(redis, prefix, name);
    const overrides = Object.entries(f.tenants).map(([t, v]) => `${t}=${v}`).join(", ");
    say(`${name.padEnd(28)} default=${f.default}${overrides ? `  overrides: ${overrides}` : ""}${f.killed ? "  [KILLED]" : ""}`);
  }
}

export async function getFlag(ctx: StackContext, name: string, tenant: string | undefined, say: Say): Promise<boolean> {
  const { redis, prefix } = await openStore(ctx);
  const state = await readFlag(redis, prefix, name);
  if (state.default === undefined) throw new Error(`flag "${name}" is not in the store of ${ctx.stackName}: declare it under bloom:flags and run up`);
  const value = resolveFlag(state, tenant);
  say(`${name}${tenant ? ` for ${tenant}` : ""} = ${value}${state.killed ? " (kill switch on)" : ""}`);
  return value;
}

export async function setFlag(ctx: StackContext, name: string, value: boolean, opts: { tenant?: string; yes?: boolean; dryRun?: boolean; say: Say }) {
  if (opts.tenant && !ctx.config.tenants.some((t) => t.id === opts.tenant)) throw new Error(`--tenant "${opts.tenant}" is not in bloom:tenants of ${ctx.stackName}`);
  const { redis, prefix } = await openStore(ctx);
  const current = await readFlag(redis, prefix, name);
  if (current.default === undefined) throw new Error(`flag "${name}" is not declared in ${ctx.stackName}: add it under bloom:flags and run up`);
  const next = opts.tenant ? { ...current, default: current.default, tenants: { ...current.tenants, [opts.tenant]: value } } : { ...current, default: value };
  opts.say(`${opts.dryRun ? "would set" : "setting"} ${name}${opts.tenant ? ` for ${opts.tenant}` : " (default)"} to ${value}; stack config still says otherwise until it is edited too`);
  if (opts.dryRun || !(await confirm(`Set ${name}?`, opts.yes ?? false))) return;
  await writeFlag(redis, prefix, { name, default: next.default!, tenants: next.tenants, description: current.description }, currentActor(), "bloom flags set");
}

export async function killFlag(ctx: StackContext, name: string, on: boolean, opts: { yes?: boolean; dryRun?: boolean; say: Say }) {
  const { redis, prefix } = await openStore(ctx);
  opts.say(`${opts.dryRun ? "would turn" : "turning"} the kill switch of ${name} ${on ? "ON: it reads false for every tenant" : "off: declared values apply again"}`);
  if (opts.dryRun || !(await confirm(`${on ? "Kill" : "Release"} ${name}?`, opts.yes ?? false))) return;
  await setKillSwitch(redis, prefix, name, on, currentActor());
}

export async function flagLog(ctx: StackContext, name: string | undefined, say: Say) {
  const { redis, prefix } = await openStore(ctx);
  for (const e of await flagHistory(redis, prefix, name)) say(`${e.at}  ${e.actor.padEnd(24)} ${e.source.padEnd(18)} ${e.flag} ${e.scope}: ${e.old} → ${e.new}`);
}
