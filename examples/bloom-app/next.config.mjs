import { nextSecurityHeaders } from "@bloom/tenant-runtime";

/**
 * The example app's Next.js config: the playbook's security headers on every response, from the definition the
 * edge renders too (one source); no X-Powered-By; telemetry off through NEXT_TELEMETRY_DISABLED.
 */
const nextConfig = {
  async headers() {
    return nextSecurityHeaders();
  },
  poweredByHeader: false,
  // The runtime, pg and Prisma are server-only Node packages: load them from node_modules, do not bundle them.
  serverExternalPackages: ["pg", "@bloom/tenant-runtime", "@prisma/client", "@prisma/adapter-pg"],
};

export default nextConfig;
