#!/usr/bin/env bash
# Build the image of every service under containers/ and push it.
#
#   ./build-and-push.sh 1   patch release (0.1.0 -> 0.1.1)
#   ./build-and-push.sh 2   minor release (0.1.0 -> 0.2.0)
#   ./build-and-push.sh 3   major release (0.1.0 -> 1.0.0)
#   ./build-and-push.sh t   test build: pushes :dev only; no version bump, commit or tag
#
# A release updates version.txt, commits, tags v<version>, pushes the commit and tag, and pushes the
# images as :<version>, :dev and :latest.
# Settings (environment): REGISTRY (e.g. registry.example.com/team, required), IMAGE_PREFIX (default
# empty: images are named after their folder under containers/), GIT_REMOTE (default origin).
set -euo pipefail
cd "$(dirname "$0")"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[ $# -eq 1 ] || usage 2
bump=$1
case "$bump" in 1|2|3|t) ;; -h|--help) usage 0 ;; *) echo "unknown option: $bump" >&2; usage 2 ;; esac
: "${REGISTRY:?set REGISTRY, e.g. REGISTRY=registry.example.com/team}"
IMAGE_PREFIX=${IMAGE_PREFIX:-}
GIT_REMOTE=${GIT_REMOTE:-origin}

current=$(tr -d '[:space:]' < version.txt)
if ! [[ $current =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "version.txt must hold MAJOR.MINOR.PATCH, found '$current'" >&2; exit 1
fi
major=${BASH_REMATCH[1]}; minor=${BASH_REMATCH[2]}; patch=${BASH_REMATCH[3]}
case "$bump" in
  1) version="$major.$minor.$((patch + 1))" ;;
  2) version="$major.$((minor + 1)).0" ;;
  3) version="$((major + 1)).0.0" ;;
  t) version="$current" ;;
esac

if [ "$bump" != t ] && [ -n "$(git status --porcelain)" ]; then
  echo "the work tree has uncommitted changes; commit or stash them before a release" >&2; exit 1
fi

services=()
for dockerfile in containers/*/Dockerfile; do
  services+=("$(basename "$(dirname "$dockerfile")")")
done
[ ${#services[@]} -gt 0 ] || { echo "no containers/*/Dockerfile found" >&2; exit 1; }

for service in "${services[@]}"; do
  image="$REGISTRY/$IMAGE_PREFIX$service"
  if [ "$bump" = t ]; then
    echo "==> test build of $image:dev ($current)"
    docker build --label "org.opencontainers.image.version=$current-dev" -t "$image:dev" "containers/$service"
    docker push "$image:dev"
  else
    echo "==> release $version of $image"
    docker build --label "org.opencontainers.image.version=$version" \
      -t "$image:$version" -t "$image:dev" -t "$image:latest" "containers/$service"
  fi
done

if [ "$bump" = t ]; then
  echo "test build pushed as :dev (version $current unchanged)"
  exit 0
fi

echo "$version" > version.txt
git add version.txt
git commit -m "Release $version"
git tag -a "v$version" -m "Release $version"
for service in "${services[@]}"; do
  image="$REGISTRY/$IMAGE_PREFIX$service"
  for tag in "$version" dev latest; do docker push "$image:$tag"; done
done
git push "$GIT_REMOTE" HEAD "v$version"
echo "released $version"
