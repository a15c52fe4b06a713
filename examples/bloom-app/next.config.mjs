/** The example app's Next.js config: no telemetry or font downloads (offline), no X-Powered-By. */
const nextConfig = {
  poweredByHeader: false,
  // The runtime and pg are server-only Node packages: load them from node_modules, do not bundle them.
  serverExternalPackages: ["pg", "@bloom/tenant-runtime"],
};

export default nextConfig;
