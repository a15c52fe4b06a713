import * as pulumi from "@pulumi/pulumi";
import type { BackendSettings } from "../../infra";
import type { DatabaseConfig } from "../../infra/config/schema";

/** The backend a stack's resources talk to, built from validated config and the stack's secrets. */
export function backendSettings(db: DatabaseConfig, neonApiKey: () => pulumi.Output<string>): pulumi.Output<BackendSettings> {
  if (db.backend === "neon") {
    const neon = db.neon!;
    return pulumi.secret(
      neonApiKey().apply((apiKey): BackendSettings => ({ kind: "neon", apiKey, apiBaseUrl: neon.apiBaseUrl, orgId: neon.orgId })),
    );
  }
  const local: BackendSettings = { kind: "local" };
  if (db.local?.serverUrl) local.serverUrl = db.local.serverUrl;
  return pulumi.secret(local);
}
