/** What a rule needs to know about the stack a resource belongs to, read from its URN (`urn:pulumi:<stack>::…`). */
export function stackOf(urn: string): string {
  return urn.split("::")[0]!.replace(/^urn:pulumi:/, "");
}

/** prod is the stack `prod` and every dedicated tenant stack of prod (`prod-<tenant>`). */
export const isProd = (urn: string): boolean => {
  const stack = stackOf(urn);
  return stack === "prod" || stack.startsWith("prod-");
};

export const dynamicType = (name: string) => `pulumi-nodejs:dynamic/bloom:${name}`;
