import * as pulumi from "@pulumi/pulumi";
import { tenantProgram } from "./program";

const cfg = new pulumi.Config("bloom-tenant");
export = tenantProgram(
  { tenantId: cfg.require("tenantId"), environment: cfg.require("environment"), platformStack: cfg.require("platformStack"), appBranch: cfg.get("appBranch"), migrationsDir: cfg.get("migrationsDir") },
  () => cfg.requireSecret("neonApiKey"),
);
