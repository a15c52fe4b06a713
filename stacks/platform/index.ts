import { runPlatformStack } from "./run";

// `pulumi up` entry point (Pulumi.yaml `main`); the Automation API calls runPlatformStack() inline.
export = runPlatformStack();
