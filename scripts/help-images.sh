#!/usr/bin/env bash
# Refreshes the help page's pictures (web/assets/aide/) from the screenshots the browser tests
# take of Relais's own pages (tests/browser/pages.mjs, `figure`): run the tests that take them,
# then copy. Commit the result with the change that altered those pages.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --offline --all-features --test integration -- \
    inclusion::a_printed_letters_code mail_polls::an_email_only_member_votes browser::mail_preferences_in_chromium
for name in code compte sondage-courriel courriels; do
    cp "test-artifacts/screenshots/aide-$name.png" "web/assets/aide/$name.png"
done
ls -l web/assets/aide/
