import Ajv, { type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { readFileSync } from "node:fs";
import { parse } from "yaml";

/**
 * Validates requests (and the fake's own responses) against the OpenAPI document shipped inside
 * @neondatabase/api-client, so the fake cannot accept a call the real Neon API would reject.
 */
type Json = any;

const SPEC_ID = "neon-openapi";

export interface MatchedOperation {
  template: string;
  method: string;
  operation: Json;
  pathParams: Record<string, string>;
  parameters: Json[];
}

export class NeonOpenApi {
  readonly spec: Json;
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly routes: { template: string; regex: RegExp; names: string[] }[];

  constructor() {
    const file = require.resolve("@neondatabase/api-client/public-v2-for-users.gen.yaml");
    this.spec = parse(readFileSync(file, "utf8"));
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31 });
    this.ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
    this.ajv.addSchema({ ...this.spec, $id: SPEC_ID });
    this.routes = Object.keys(this.spec.paths).map((template) => {
      const names: string[] = [];
      const pattern = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
        names.push(name);
        return "([^/]+)";
      });
      return { template, regex: new RegExp(`^${pattern}$`), names };
    });
    // Literal segments beat parameters (`/projects/shared` is not `/projects/{project_id}`).
    this.routes.sort((a, b) => a.names.length - b.names.length);
  }

  private deref(node: Json): Json {
    let current = node;
    while (current && typeof current.$ref === "string") {
      const pointer = current.$ref.replace(/^#\//, "").split("/").map((p: string) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
      current = pointer.reduce((acc: Json, key: string) => acc?.[key], this.spec);
    }
    return current;
  }

  private validator(key: string, schema: Json): ValidateFunction {
    let fn = this.compiled.get(key);
    if (!fn) {
      const prefixed = JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#\//g, `"$ref":"${SPEC_ID}#/`));
      fn = this.ajv.compile(prefixed);
      this.compiled.set(key, fn);
    }
    return fn;
  }

  match(method: string, path: string): MatchedOperation | undefined {
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      const item = this.spec.paths[route.template];
      const operation = item[method.toLowerCase()];
      if (!operation) continue;
      const pathParams = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
      const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p: Json) => this.deref(p));
      return { template: route.template, method: method.toLowerCase(), operation, pathParams, parameters };
    }
    return undefined;
  }

  /** Every problem with a request, as the real API would see it; empty when valid. */
  validateRequest(op: MatchedOperation, query: URLSearchParams, body: unknown): string[] {
    const problems: string[] = [];
    const key = `${op.method} ${op.template}`;
    for (const p of op.parameters) {
      const raw = p.in === "path" ? op.pathParams[p.name] : p.in === "query" ? query.get(p.name) ?? undefined : undefined;
      if (raw === undefined) {
        if (p.required) problems.push(`missing required ${p.in} parameter "${p.name}"`);
        continue;
      }
      // Parameter schemas may be $refs (e.g. to a shared id schema): follow them before coercing the string.
      const schema = this.deref(p.schema) ?? {};
      const value = coerce(raw, schema);
      const validate = this.validator(`${key} param ${p.name}`, schema);
      if (!validate(value)) problems.push(`${p.in} parameter "${p.name}": ${this.ajv.errorsText(validate.errors)}`);
    }
    const known = new Set(op.parameters.filter((p) => p.in === "query").map((p) => p.name));
    for (const name of query.keys()) if (!known.has(name)) problems.push(`unknown query parameter "${name}"`);
    const requestBody = this.deref(op.operation.requestBody);
    const schema = requestBody?.content?.["application/json"]?.schema;
    if (body === undefined) {
      if (requestBody?.required) problems.push("request body is required");
    } else if (!schema) {
      problems.push("this operation takes no request body");
    } else {
      const validate = this.validator(`${key} body`, schema);
      if (!validate(body)) problems.push(`body: ${this.ajv.errorsText(validate.errors)}`);
    }
    return problems;
  }

  /** Checks the fake's own answers against the documented response schema. */
  validateResponse(op: MatchedOperation, status: number, body: unknown): string[] {
    const responses = op.operation.responses ?? {};
    const documented = responses[String(status)] ?? responses.default;
    if (!documented) return [`status ${status} is not documented for this operation`];
    const response = this.deref(documented);
    const schema = response?.content?.["application/json"]?.schema;
    if (!schema) return body === undefined || body === null ? [] : [`status ${status} documents no JSON body, but one was sent`];
    const validate = this.validator(`${op.method} ${op.template} response ${status in responses ? status : "default"}`, schema);
    return validate(body) ? [] : [`response ${status}: ${this.ajv.errorsText(validate.errors)}`];
  }
}

function coerce(raw: string, schema: Json): unknown {
  switch (schema?.type) {
    case "integer":
    case "number":
      return raw.trim() === "" ? raw : Number(raw);
    case "boolean":
      return raw === "true" ? true : raw === "false" ? false : raw;
    case "array":
      return raw.split(",");
    default:
      return raw;
  }
}
