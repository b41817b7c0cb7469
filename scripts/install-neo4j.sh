#!/usr/bin/env bash
# Builds the embedded Neo4j test server (tools/neo4j-server) and its jars into a cache outside the
# clone, once per version: ~/.cache/llm-platform/neo4j-<version>/{lib/*.jar,neo4j-server.jar}.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(sed -n 's:.*<neo4j.version>\(.*\)</neo4j.version>.*:\1:p' tools/neo4j-server/pom.xml)
CACHE="${LLM_PLATFORM_CACHE:-$HOME/.cache/llm-platform}/neo4j-$VERSION"
SRC_HASH=$(cat tools/neo4j-server/pom.xml tools/neo4j-server/src/main/java/platform/*.java | sha256sum | cut -c1-16)

if [ -f "$CACHE/ok" ] && [ "$(cat "$CACHE/ok")" = "$SRC_HASH" ]; then
  exit 0
fi
for cmd in java mvn; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "install-neo4j: $cmd is missing (apt-get install -y openjdk-17-jdk-headless maven)" >&2; exit 1; }
done
echo "install-neo4j: building the embedded Neo4j $VERSION test server into $CACHE (about 1 minute the first time)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r tools/neo4j-server/. "$work/"
if ! (cd "$work" && mvn -q -B package dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib >"$work/mvn.log" 2>&1); then
  tail -40 "$work/mvn.log" >&2
  echo "install-neo4j: the Maven build failed (above)" >&2
  exit 1
fi
rm -rf "$CACHE.tmp"
mkdir -p "$CACHE.tmp/lib"
cp "$work"/target/lib/*.jar "$CACHE.tmp/lib/"
cp "$work/target/neo4j-server-1.jar" "$CACHE.tmp/neo4j-server.jar"
echo "$SRC_HASH" > "$CACHE.tmp/ok"
rm -rf "$CACHE"
mv "$CACHE.tmp" "$CACHE"
echo "install-neo4j: $(ls "$CACHE/lib" | wc -l) jars in $CACHE"
