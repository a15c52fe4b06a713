// Plain-CLI entry (Pulumi.yaml `main`): TypeScript through tsx, as the Automation API loads it (see
// stacks/platform/main.js: one compiler for both paths).
require("tsx/cjs/api").register();
module.exports = require("./index.ts");
