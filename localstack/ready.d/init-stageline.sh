#!/usr/bin/env bash
# Creates what stageline needs: the bucket, the three stage queues each with a dead-letter queue wired by
# RedrivePolicy, the events queue, and the S3 -> ingestion-queue notification for uploads under `incoming/`.
#
# Runs as a LocalStack READY hook (mounted into /etc/localstack/init/ready.d/, where it uses `awslocal`), or
# by hand against any endpoint with the AWS CLI:
#   AWS_ENDPOINT_URL=http://localhost:4566 localstack/ready.d/init-stageline.sh
# Without AWS_ENDPOINT_URL and outside LocalStack it talks to real AWS. Safe to run again: existing
# resources are kept and their attributes set to the values below.
#
# Names and settings (defaults match `stageline local` and src/cli/emulator.ts):
#   S3_BUCKET               bucket                                          stageline
#   QUEUE_PREFIX            queues are <prefix>-<stage>, <prefix>-<stage>-dlq, <prefix>-events   stageline
#   MAX_RECEIVE_COUNT       deliveries before SQS dead-letters a message     5
#   QUEUE_VISIBILITY_TIMEOUT  queue default; the worker sets its own per receive  30
#   S3_NOTIFICATION_PREFIX  uploads under this prefix become jobs             incoming/
#   S3_NOTIFICATION_OPTIONAL=true  go on (with a warning) when the endpoint does not keep bucket
#                           notifications (fauxqs accepts the call but ignores it)
set -euo pipefail

S3_BUCKET="${S3_BUCKET:-stageline}"
QUEUE_PREFIX="${QUEUE_PREFIX:-stageline}"
MAX_RECEIVE_COUNT="${MAX_RECEIVE_COUNT:-5}"
QUEUE_VISIBILITY_TIMEOUT="${QUEUE_VISIBILITY_TIMEOUT:-30}"
S3_NOTIFICATION_PREFIX="${S3_NOTIFICATION_PREFIX:-incoming/}"
S3_NOTIFICATION_OPTIONAL="${S3_NOTIFICATION_OPTIONAL:-false}"
AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
export AWS_REGION AWS_DEFAULT_REGION="$AWS_REGION" AWS_PAGER=""
STAGES=(ingestion validation analysis)

# The endpoint is always passed explicitly: older AWS CLIs (Debian bookworm's 2.9, v1 before 1.29) ignore
# AWS_ENDPOINT_URL, and emulator queue URLs name hosts (sqs.us-east-1.localhost) that may not resolve.
if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  unset AWS_PROFILE
  # Path-style S3: an emulator named by host (http://fauxqs:4566) has no bucket subdomains, and not every
  # CLI version switches to path style for a custom endpoint by itself.
  s3_config="$(mktemp)"
  trap 'rm -f "$s3_config"' EXIT
  printf '[default]\ns3 =\n  addressing_style = path\n' >"$s3_config"
  awsc() { AWS_CONFIG_FILE="$s3_config" aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
elif command -v awslocal >/dev/null 2>&1; then
  awsc() { awslocal "$@"; }
else
  awsc() { aws "$@"; }
fi

log() { echo "init-stageline: $*" >&2; }

queue_arn() {
  awsc sqs get-queue-attributes --queue-url "$1" --attribute-names QueueArn --query Attributes.QueueArn --output text
}

# create-queue fails when an existing queue has other attributes, so create bare, then set attributes.
ensure_queue() {
  local name="$1" attributes="$2" url
  url="$(awsc sqs create-queue --queue-name "$name" --query QueueUrl --output text)"
  awsc sqs set-queue-attributes --queue-url "$url" --attributes "$attributes"
  echo "$url"
}

if awsc s3api head-bucket --bucket "$S3_BUCKET" >/dev/null 2>&1; then
  log "bucket $S3_BUCKET exists"
elif [[ "$AWS_REGION" == "us-east-1" ]]; then
  awsc s3api create-bucket --bucket "$S3_BUCKET" >/dev/null
else
  awsc s3api create-bucket --bucket "$S3_BUCKET" --create-bucket-configuration "LocationConstraint=$AWS_REGION" >/dev/null
fi

declare -A QUEUE_URLS
for stage in "${STAGES[@]}"; do
  dlq_url="$(ensure_queue "$QUEUE_PREFIX-$stage-dlq" '{"MessageRetentionPeriod":"1209600"}')"
  redrive="{\\\"deadLetterTargetArn\\\":\\\"$(queue_arn "$dlq_url")\\\",\\\"maxReceiveCount\\\":\\\"$MAX_RECEIVE_COUNT\\\"}"
  QUEUE_URLS[$stage]="$(ensure_queue "$QUEUE_PREFIX-$stage" "{\"VisibilityTimeout\":\"$QUEUE_VISIBILITY_TIMEOUT\",\"RedrivePolicy\":\"$redrive\"}")"
done
events_url="$(ensure_queue "$QUEUE_PREFIX-events" '{"MessageRetentionPeriod":"1209600"}')"

# S3 may only send to a queue whose policy allows it (real AWS checks this when the notification is set).
ingestion_arn="$(queue_arn "${QUEUE_URLS[ingestion]}")"
policy="{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Sid\\\":\\\"s3-notifications\\\",\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"Service\\\":\\\"s3.amazonaws.com\\\"},\\\"Action\\\":\\\"sqs:SendMessage\\\",\\\"Resource\\\":\\\"$ingestion_arn\\\",\\\"Condition\\\":{\\\"ArnLike\\\":{\\\"aws:SourceArn\\\":\\\"arn:aws:s3:::$S3_BUCKET\\\"}}}]}"
awsc sqs set-queue-attributes --queue-url "${QUEUE_URLS[ingestion]}" --attributes "{\"Policy\":\"$policy\"}"

# Only `incoming/`: `stageline submit` uploads to `uploads/<jobId>/` and sends its own job message, so a
# notification there would start every submitted job twice (see docs/operations.md).
awsc s3api put-bucket-notification-configuration --bucket "$S3_BUCKET" --notification-configuration "{
  \"QueueConfigurations\": [{
    \"Id\": \"$QUEUE_PREFIX-ingestion\",
    \"QueueArn\": \"$ingestion_arn\",
    \"Events\": [\"s3:ObjectCreated:*\"],
    \"Filter\": {\"Key\": {\"FilterRules\": [{\"Name\": \"prefix\", \"Value\": \"$S3_NOTIFICATION_PREFIX\"}]}}
  }]
}"
# Read it back: an emulator may answer 200 and keep nothing.
kept="$(awsc s3api get-bucket-notification-configuration --bucket "$S3_BUCKET" \
  --query "length(QueueConfigurations[?QueueArn=='$ingestion_arn'] || \`[]\`)" --output text 2>/dev/null || echo 0)"
if [[ "$kept" != "1" ]]; then
  if [[ "$S3_NOTIFICATION_OPTIONAL" == "true" ]]; then
    log "WARNING: the endpoint did not keep the S3 notification; uploads to $S3_NOTIFICATION_PREFIX will not start jobs here"
  else
    log "the S3 -> $QUEUE_PREFIX-ingestion notification was not kept by the endpoint (set S3_NOTIFICATION_OPTIONAL=true to go on without it)"
    exit 1
  fi
fi

log "ready"
# The worker's environment, for a shell to eval or a person to copy.
echo "S3_BUCKET=$S3_BUCKET"
echo "SQS_INGESTION_QUEUE_URL=${QUEUE_URLS[ingestion]}"
echo "SQS_VALIDATION_QUEUE_URL=${QUEUE_URLS[validation]}"
echo "SQS_ANALYSIS_QUEUE_URL=${QUEUE_URLS[analysis]}"
echo "SQS_EVENTS_QUEUE_URL=$events_url"
