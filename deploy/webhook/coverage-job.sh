#!/bin/sh
# A coverage job that reports itself: the script of the ProwJob `livecov serve --webhook`
# creates, for repositories whose config sets
#   args: [/usr/local/bin/livecov-coverage-job.sh]
# (the test packages follow as arguments, as with the plugin's coverage-report.sh).
# Prow's decoration has checked the pull request out and sets REPO_OWNER, REPO_NAME,
# PULL_NUMBER, PULL_PULL_SHA, PULL_BASE_SHA, JOB_NAME and ARTIFACTS; the ProwJob adds
# COVERAGE_THRESHOLD, PATCH_COVERAGE_THRESHOLD and LIVECOV_REPORT_URL, and mounts the
# GitHub token at /etc/github-commenter/oauth.
#
# Artifacts: filtered.cov (the profile, the name Prow's coverage lens reads),
# test.log, coverage.md (the comment's Markdown) and the site in site/.
set -u
out="${ARTIFACTS:-/tmp/artifacts}"
mkdir -p "$out"
go test -coverprofile="$out/filtered.cov" "$@" >"$out/test.log" 2>&1
tests=$?
if [ ! -s "$out/filtered.cov" ]; then
	echo "coverage-job.sh: the tests wrote no profile (exit $tests); see $out/test.log" >&2
	tail -n 50 "$out/test.log" >&2
	exit 1
fi
livecov render --go-profile "$out/filtered.cov" --source-root . --force --output-dir "$out/site" ||
	echo "coverage-job.sh: the site could not be rendered; the report goes on" >&2
# Posts the status and edits the one comment; exits 2 if it cannot.
livecov diff --profile "$out/filtered.cov" --repo . --format markdown -o "$out/coverage.md" \
	--github-report --tests-exit-code "$tests"
