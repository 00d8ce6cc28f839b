#!/usr/bin/env bash
# Renders the JSON templates of ecs/ into OUT_DIR (default ecs/out) with this deployment's names, for the
# AWS CLI commands of ecs/README.md (`--cli-input-json file://ecs/out/…`). The templates are the single
# source of every name; they hold these placeholders and nothing account-specific:
#
#   ACCOUNT_ID        12-digit AWS account id
#   REGION            e.g. eu-west-1
#   PREFIX            names of queues, roles, cluster, services, log group, ECR repository: <PREFIX>-…
#   BUCKET            the S3 bucket (globally unique)
#   IMAGE             the worker image, e.g. <account>.dkr.ecr.<region>.amazonaws.com/<prefix>:1.0.0
#   SUBNETS           comma list of subnet ids the tasks run in
#   SECURITY_GROUP    the tasks' security group id (no inbound rule is needed)
#   ASSIGN_PUBLIC_IP  ENABLED (public subnets, e.g. the default VPC) or DISABLED (private subnets with NAT)
#
# Every value is checked first, so a typo fails here rather than as an AWS error half-way through.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/out}"

fail() { echo "render.sh: $*" >&2; exit 1; }
check() {
  local name="$1" pattern="$2" hint="$3"
  [[ -n "${!name:-}" ]] || fail "$name is not set ($hint)"
  [[ "${!name}" =~ ^($pattern)$ ]] || fail "$name=${!name} is not valid ($hint)"
}
check ACCOUNT_ID '[0-9]{12}' '12 digits'
check REGION '[a-z]{2}(-[a-z]+)+-[0-9]' 'a region such as eu-west-1'
check PREFIX '[a-z][a-z0-9-]{0,27}[a-z0-9]' 'lower case letters, digits and -, at most 29 characters'
check BUCKET '[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]' 'an S3 bucket name'
check IMAGE '[A-Za-z0-9./:@_-]+' 'an image reference'
check SUBNETS 'subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*' 'comma list of subnet ids'
check SECURITY_GROUP 'sg-[0-9a-f]+' 'a security group id'
check ASSIGN_PUBLIC_IP 'ENABLED|DISABLED' 'ENABLED or DISABLED'

# A JSON list of subnets: the templates hold ["${SUBNETS}"].
subnet_items="${SUBNETS//,/\", \"}"

rendered=0
while IFS= read -r -d '' template; do
  relative="${template#"$here"/}"
  mkdir -p "$out/$(dirname "$relative")"
  # The values were checked above: none contains the sed delimiter, & or a backslash.
  sed -e "s|\${ACCOUNT_ID}|$ACCOUNT_ID|g" \
    -e "s|\${REGION}|$REGION|g" \
    -e "s|\${PREFIX}|$PREFIX|g" \
    -e "s|\${BUCKET}|$BUCKET|g" \
    -e "s|\${IMAGE}|$IMAGE|g" \
    -e "s|\${SUBNETS}|$subnet_items|g" \
    -e "s|\${SECURITY_GROUP}|$SECURITY_GROUP|g" \
    -e "s|\${ASSIGN_PUBLIC_IP}|$ASSIGN_PUBLIC_IP|g" \
    "$template" >"$out/$relative"
  if grep -n '\${' "$out/$relative" >&2; then fail "$relative: a placeholder this script does not know"; fi
  rendered=$((rendered + 1))
done < <(find "$here" -path "$out" -prune -o -type f -name '*.json' -print0 | sort -z)

echo "render.sh: $rendered files in $out" >&2
