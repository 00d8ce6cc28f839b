// No imports: `stageline healthcheck` runs this module with node's builtins only.

/** HTTP_PORT's default: where the worker serves /healthz, and where the health check asks. */
export const defaultHttpPort = 8080;
