// Entry the policy runner requires (package.json main): the pack's TypeScript through tsx, like the programs.
require("tsx/cjs/api").register();
module.exports = require("./index.ts");
