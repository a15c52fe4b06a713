// Plain-CLI entry (Pulumi.yaml `main`): TypeScript through tsx, exactly as the Automation API path (runbook,
// `npm run local`) loads it. Dynamic providers are serialized from the compiled functions, so both paths must
// compile them alike, or each would see the other's providers as a change on every run.
require("tsx/cjs/api").register();
module.exports = require("./index.ts");
