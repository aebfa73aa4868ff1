#!/usr/bin/env bash
# The repository's copy of the contract (contract/) must be the contract:
# where the shared contract sits beside the checkout (../shared/contract, as
# on CI), any difference fails. Without it (a clone anywhere else) there is
# nothing to compare with, and the tests use the copy.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared/contract
if [ ! -d "$shared" ]; then
  echo "contract:check: no $shared beside this checkout; the tests use contract/ as it is"
  exit 0
fi
if ! diff -ru "$shared" contract; then
  echo "contract:check: contract/ differs from $shared: copy the contract in (cp $shared/* contract/) and serve what changed" >&2
  exit 1
fi
echo "contract:check: contract/ is $shared"
