// Plain-CLI entry (Pulumi.yaml `main`): TypeScript through tsx, exactly as the Automation API path (runbook,
// `npm run local`) loads it: one compiler for both paths, so what is serialized into state (the dynamic
// providers' references) reads the same whichever ran last.
require("tsx/cjs/api").register();
module.exports = require("./index.ts");
