#!/usr/bin/env bash
# Fetches the Apache Kafka broker that the end-to-end tests run (tests/e2e/common/kafka/): the
# jars of scripts/kafka/pom.xml (Kafka, pinned there, and a log4j2 backend), resolved from Maven
# Central with Maven and copied into a cache outside the repository:
#
#   ${CLE_KAFKA_CACHE:-$HOME/.cache/cluster-link-exporter/kafka-<version>}/libs
#
# The tests run `java -cp '<cache>/libs/*' kafka.Kafka` with scripts/kafka/log4j2.xml.
# Needs Java 17+ and Maven (scripts/setup-deps.sh installs both, then runs this script).
# Safe to run again: when the cache holds the jars of the current pom.xml, it downloads nothing.
#
#   scripts/setup-kafka.sh            # fetch into the cache (if needed) and print its path
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
pom="$here/kafka/pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
[ -n "$version" ] || { echo "setup-kafka: no <kafka.version> in $pom" >&2; exit 1; }
cache="${CLE_KAFKA_CACHE:-$HOME/.cache/cluster-link-exporter/kafka-$version}"
libs="$cache/libs"
# The marker names the pom the jars were copied for: a changed pom fetches again.
marker="$cache/.complete"
want="$(sha256sum "$pom" | cut -d' ' -f1)"

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] && [ -d "$libs" ]; then
  echo "setup-kafka: Apache Kafka $version already in $libs ($(ls "$libs" | wc -l) jars); nothing to do" >&2
  exit 0
fi

command -v java >/dev/null 2>&1 || { echo "setup-kafka: java not found (Kafka $version needs Java 17+; run scripts/setup-deps.sh)" >&2; exit 1; }
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [ "${java_major%%.*}" -lt 17 ] 2>/dev/null; then
  echo "setup-kafka: Java $java_major found; Kafka $version needs Java 17+" >&2
  exit 1
fi
command -v mvn >/dev/null 2>&1 || { echo "setup-kafka: mvn not found (run scripts/setup-deps.sh: Debian's maven)" >&2; exit 1; }

echo "setup-kafka: fetching Apache Kafka $version (kafka_2.13 and its dependencies, log4j2) from Maven Central into $libs" >&2
start=$SECONDS
mkdir -p "$cache"
rm -rf "$libs.tmp" "$marker"
# Maven keeps what it downloads in ~/.m2 as well; copied from there when it is already present.
mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$libs.tmp"
rm -rf "$libs"
mv "$libs.tmp" "$libs"
echo "$want" > "$marker"
echo "setup-kafka: $(ls "$libs" | wc -l) jars ($(du -sh "$libs" | cut -f1)) in $libs after $((SECONDS - start)) s" >&2
