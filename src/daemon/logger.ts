import { pino, type Logger } from 'pino';

/**
 * JSON logs on stdout. Anything that could carry a secret is redacted by path, whatever logs it.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'stageline' },
      redact: {
        paths: [
          'SENTRY_DSN',
          'AWS_SECRET_ACCESS_KEY',
          'AWS_SESSION_TOKEN',
          '*.SENTRY_DSN',
          '*.AWS_SECRET_ACCESS_KEY',
          '*.AWS_SESSION_TOKEN',
          '*.credentials',
          'headers.authorization',
          '*.headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
