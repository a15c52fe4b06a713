import type { PlatformConfig } from "../config/schema";
import { builtTemporalCli, ensureTemporalDevServer } from "./temporalDevServer";

/** Where a stack's control plane is: a Temporal frontend and the namespace its workflows live in. */
export interface ControlPlaneEndpoint {
  address: string;
  namespace: string;
  /** This machine's dev server (the local stack's embedded default). */
  local: boolean;
}

export type ControlPlaneLookup = { endpoint: ControlPlaneEndpoint } | { endpoint?: undefined; why: string };

/**
 * The stack's control plane. The local stack's is this checkout's dev server (started if it is down, when the
 * Temporal CLI is built); a stack on Neon never uses a dev server: a dev server is one machine's namespace, and
 * its workflows would stop with that machine.
 */
export async function controlPlaneFor(config: PlatformConfig, log: (line: string) => void = () => undefined): Promise<ControlPlaneLookup> {
  if (config.database.backend !== "local") {
    return { why: `stack ${config.environment} has no control-plane endpoint configured, and a local dev server is refused for a non-local stack` };
  }
  if (!builtTemporalCli()) return { why: "the Temporal CLI is not built here (`npm run setup:temporal`)" };
  const server = await ensureTemporalDevServer({ log });
  return { endpoint: { address: server.address, namespace: "default", local: true } };
}
