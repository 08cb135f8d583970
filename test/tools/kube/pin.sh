#!/usr/bin/env bash
# pin.sh VERSION rewrites go.mod to require k8s.io/kubernetes at VERSION and pins every staging
# module that its go.mod replaces with a local path (./staging/...) to the matching v0.X.Y.
set -euo pipefail
cd "$(dirname "$0")"
version=${1:?usage: pin.sh v1.MINOR.PATCH}
staging=v0.${version#v1.}
modfile=$(go mod download -json "k8s.io/kubernetes@${version}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  sed -n '1,/^module /p' go.mod
  echo
  echo "go $(sed -n 's/^go //p' "$modfile")"
  echo
  echo "require k8s.io/kubernetes ${version}"
  echo
  echo "replace ("
  sed -n '/^replace (/,/^)/p' "$modfile" | awk -v v="$staging" '/=> \.\/staging/ {print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod.new
mv go.mod.new go.mod
go mod tidy
