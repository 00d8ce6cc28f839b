// No imports: `stageline healthcheck` loads this module and node's builtins, nothing else.

/** HTTP_PORT's default: where the worker serves /healthz, and where the health check asks. */
export const defaultHttpPort = 8080;
