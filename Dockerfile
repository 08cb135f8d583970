# syntax=docker/dockerfile:1
# The Fledge manager: a static binary on distroless, as a non-root user.
#   docker build -t ghcr.io/fledge-dev/fledge:v0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 ...
#
# The build stage runs on the builder's own platform and cross-compiles for the target one
# (Go needs no emulation for that), with the module and build caches kept between builds.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
# Only what the manager is built from, so that a change to tests or to the other commands
# does not rebuild the image. (bin/, the local control plane, is most of a gigabyte of build
# context: a .dockerignore with /bin keeps docker from sending it.)
COPY apis/ apis/
COPY analysis/ analysis/
COPY cmd/manager/ cmd/manager/
COPY controllers/ controllers/
COPY notifiers/ notifiers/
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags '-s -w' -o /out/fledge-manager ./cmd/manager

# static: no libc, no shell. nonroot runs as 65532, given here by number so that the
# kubelet can check runAsNonRoot without reading /etc/passwd.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/fledge-manager /fledge-manager
USER 65532:65532
ENTRYPOINT ["/fledge-manager"]
